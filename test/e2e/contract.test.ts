// The shared contract check (../shared/checks/contract) against the built bin/sparekey, under both
// runtimes. It brings its own throwaway HOME and GnuPG home.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./harness.js";

const CONTRACT = resolve(ROOT, "../shared/checks/contract");

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist/node/run.js"))) {
    execFileSync("node", ["scripts/build.mjs"], { cwd: ROOT, stdio: "inherit" });
  }
}, 300_000);

describe.each([
  ["default", ""],
  ["node", "node"],
])("shared contract check, %s runtime", (_label, runtime) => {
  it.skipIf(!existsSync(CONTRACT) && !process.env.CI)(
    "passes",
    () => {
      const r = spawnSync(CONTRACT, [], {
        cwd: ROOT,
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8", SPAREKEY_RUNTIME: runtime },
        timeout: 180_000,
      });
      expect(r.stdout, r.stderr).toMatch(/contract: \d+ passed, 0 failed/);
      expect(r.status).toBe(0);
    },
    200_000,
  );
});
