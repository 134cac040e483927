// The README's quickstart is examples/quickstart.ts, verbatim, and it runs
// against a real heraldd.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

import { Heraldd, SDK_DIR } from "./helpers.js";
import { quickstartOutputOk } from "./support.js";

const run = promisify(execFile);

test("the README's quickstart block is examples/quickstart.ts", () => {
  const readme = readFileSync(join(SDK_DIR, "README.md"), "utf8");
  const block = /<!-- quickstart-begin -->\n```ts\n([\s\S]*?)```\n<!-- quickstart-end -->/.exec(readme);
  assert.ok(block, "README.md lost its quickstart block");
  assert.equal(block[1], readFileSync(join(SDK_DIR, "examples", "quickstart.ts"), "utf8"));
});

test("the quickstart runs against heraldd", async () => {
  const server = await Heraldd.start();
  try {
    const { stdout } = await run(process.execPath, [join(SDK_DIR, "build-test", "examples", "quickstart.js")], {
      env: { ...process.env, HERALD_ADDRESS: server.address, HERALD_TOKEN: server.adminToken },
      timeout: 60_000,
    });
    quickstartOutputOk(stdout);
  } finally {
    assert.equal(await server.stop(), 0, server.log);
    await server.dispose();
  }
});
