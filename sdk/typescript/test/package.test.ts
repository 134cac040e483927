// The package as a user gets it: `npm pack` holds the built ESM and its
// types; installed from the tarball into a fresh project, the quickstart
// type-checks against the published types (strict) and runs.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";

import { Heraldd, SDK_DIR } from "./helpers.js";
import { quickstartOutputOk } from "./support.js";

const run = promisify(execFile);
let work: string;
let tarball: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), "herald-ts-pack-"));
  // dist/ is already built by test.sh; --ignore-scripts skips the prepack rebuild.
  const { stdout } = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], {
    cwd: SDK_DIR,
  });
  const [info] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
  tarball = join(work, info.filename);
  const files = info.files.map((f) => f.path);
  for (const f of ["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/webhooks.js", "dist/webhooks.d.ts", "dist/gen/herald/v1/policy.js"]) {
    assert.ok(files.includes(f), `${f} not in the package`);
  }
  assert.ok(!files.some((f) => f.startsWith("src/") || f.startsWith("test/") || f.startsWith("node_modules/")));
});

after(() => rmSync(work, { recursive: true, force: true }));

test("installed from the tarball, the quickstart type-checks and runs", async () => {
  const app = join(work, "app");
  await run("mkdir", ["-p", app]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", tarball], { cwd: app });
  const pkg = JSON.parse(readFileSync(join(app, "node_modules", "@herald", "client", "package.json"), "utf8")) as {
    exports: Record<string, unknown>;
  };
  assert.ok(pkg.exports["."] && pkg.exports["./webhooks"]);

  copyFileSync(join(SDK_DIR, "examples", "quickstart.ts"), join(app, "quickstart.ts"));
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        typeRoots: [join(SDK_DIR, "node_modules", "@types")],
        types: ["node"],
        outDir: ".",
      },
      files: ["quickstart.ts"],
    }),
  );
  await run(process.execPath, [join(SDK_DIR, "node_modules", "typescript", "bin", "tsc"), "-p", app]);

  const server = await Heraldd.start();
  try {
    const { stdout } = await run(process.execPath, [join(app, "quickstart.js")], {
      cwd: app,
      env: { ...process.env, HERALD_ADDRESS: server.address, HERALD_TOKEN: server.adminToken },
      timeout: 60_000,
    });
    quickstartOutputOk(stdout);
  } finally {
    assert.equal(await server.stop(), 0, server.log);
    await server.dispose();
  }
});
