// Test helpers: a real heraldd child process per suite, on 127.0.0.1 with a
// port picked by the kernel, its own data directory and the bootstrap admin
// token, as tests/e2e/conftest.py does.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, closeSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** sdk/typescript (tests run from build-test/test). */
export const SDK_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The repository root. */
export const ROOT = resolve(SDK_DIR, "..", "..");
/** tests/vectors. */
export const VECTORS = join(ROOT, "tests", "vectors");

export function heralddPath(): string {
  const build = process.env["HERALD_BUILD_DIR"] ?? "build";
  return join(resolve(ROOT, build), "server", "heraldd");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface HeralddOptions {
  /** Reuse a data directory (a restart keeps the store and the admin token). */
  dataDir?: string;
  /** Listen here instead of 127.0.0.1:0. */
  listenAddress?: string;
  extraArgs?: string[];
}

/** A heraldd child process. */
export class Heraldd {
  private constructor(
    readonly dataDir: string,
    readonly address: string,
    private readonly proc: ChildProcess,
    private readonly logFd: number,
    private readonly ownsDir: boolean,
  ) {}

  static async start(options: HeralddOptions = {}): Promise<Heraldd> {
    const binary = heralddPath();
    // A concurrent rebuild (a developer's) removes the binary while it links.
    for (let waited = 0; !existsSync(binary); waited += 500) {
      if (waited >= 120_000) {
        throw new Error(`${binary} is missing: build it (cmake --build build --target heraldd)`);
      }
      await sleep(500);
    }
    const ownsDir = options.dataDir === undefined;
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "heraldd-ts-"));
    const addressFile = join(dataDir, `address.${Date.now()}.${Math.random().toString(36).slice(2)}`);
    const logFd = openSync(join(dataDir, "heraldd.log"), "a");
    const proc = spawn(
      binary,
      [
        `--listen_address=${options.listenAddress ?? "127.0.0.1:0"}`,
        `--data_dir=${dataDir}`,
        "--allow_loopback_targets=true",
        `--address_file=${addressFile}`,
        "--metrics_address=",
        "--shutdown_grace_period=2s",
        "--log_level=warn",
        ...(options.extraArgs ?? []),
      ],
      { stdio: ["ignore", logFd, logFd] },
    );
    let exited = false;
    proc.once("exit", () => (exited = true));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (existsSync(addressFile)) {
        const address = readFileSync(addressFile, "utf8").trim();
        if (address) return new Heraldd(dataDir, address, proc, logFd, ownsDir);
      }
      if (exited) throw new Error(`heraldd exited: ${readFileSync(join(dataDir, "heraldd.log"), "utf8")}`);
      await sleep(10);
    }
    proc.kill("SIGKILL");
    throw new Error("heraldd did not start listening within 30 s");
  }

  get adminToken(): string {
    return readFileSync(join(this.dataDir, "admin.token"), "utf8").trim();
  }

  get log(): string {
    return readFileSync(join(this.dataDir, "heraldd.log"), "utf8");
  }

  /** SIGTERM, then wait (SIGKILL after 20 s). Resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise<void>((r) => this.proc.once("exit", () => r()));
      this.proc.kill("SIGTERM");
      const timer = setTimeout(() => this.proc.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    }
    try {
      closeSync(this.logFd);
    } catch {
      // already closed
    }
    return this.proc.exitCode;
  }

  /** Stops and removes the data directory (when this instance made it). */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
