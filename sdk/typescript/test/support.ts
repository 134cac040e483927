// Shared test fixtures: an HTTP webhook receiver, a sample event, polling.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";

import type { Event, Input } from "@herald/client";

export const DIGEST = "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c";

/** A PUSH_ARTIFACT event of library/busybox in a project. */
export function pushEvent(projectId: number, tag = "latest"): Input<Event> {
  return {
    eventType: "PUSH_ARTIFACT",
    projectId,
    operator: "ts-sdk-test",
    repository: { namespace: "library", name: "busybox", repoType: "public" },
    resources: [{ digest: DIGEST, tag }],
  };
}

/** One request the receiver got. */
export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A local webhook endpoint: answers 204 (500 on failPaths) and queues requests. */
export class Receiver {
  readonly failPaths = new Set<string>();
  private readonly queue: Received[] = [];
  private readonly waiters: ((r: Received) => void)[] = [];

  private constructor(private readonly server: Server) {}

  static async start(): Promise<Receiver> {
    let self: Receiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const path = req.url ?? "/";
        res.writeHead(self!.failPaths.has(path) ? 500 : 204).end();
        self!.push({ path, headers: req.headers, body: Buffer.concat(chunks) });
      });
    });
    self = new Receiver(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return self;
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  private push(r: Received): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(r);
    else this.queue.push(r);
  }

  /** The next request, waiting up to timeoutMs. */
  next(timeoutMs = 15_000): Promise<Received> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no webhook within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (r: Received) => {
        clearTimeout(timer);
        resolve(r);
      };
      this.waiters.push(waiter);
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** Polls fn until it returns a value (not undefined), for up to timeoutMs. */
export async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Checks what examples/quickstart.ts prints. */
export function quickstartOutputOk(stdout: string): void {
  assert.match(stdout, /^connected to heraldd \S+ as bootstrap-admin$/m);
  assert.match(stdout, /^created policy \d+ \(quickstart-\d+\)$/m);
  assert.match(stdout, /^published event \d+: 1 delivery$/m);
  assert.match(stdout, /^received webhook \S+: PUSH_ARTIFACT \(cloudevents\)$/m);
  assert.match(stdout, /^pushed library\/busybox:latest$/m);
  assert.match(stdout, /^task \d+: TASK_STATUS_PENDING$/m);
  assert.match(stdout, /^delivery TASK_STATUS_SUCCESS$/m);
  assert.match(stdout, /attempt 1 of \d+: status 204/);
}
