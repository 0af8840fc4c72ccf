// What the fast start-up path (issue 7) must not break: output written with write(2) instead of
// process.stdout, the exact-name shortcut of `code`, and the Bun binary's hygiene.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, type Home, makeHome, ROOT, sk } from "./harness.js";

const RUNTIMES: [string, string][] = [
  ["default", ""],
  ["node", "node"],
];
const URI = "otpauth://totp/ACME:ann?secret=JBSWY3DPEHPK3PXP&issuer=ACME";

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist/node/run.js"))) {
    execFileSync("node", ["scripts/build.mjs"], { cwd: ROOT, stdio: "inherit" });
  }
}, 300_000);

describe.each(RUNTIMES)("start-up path, %s runtime", (_label, runtime) => {
  let home: Home;
  const env = { SPAREKEY_RUNTIME: runtime };

  beforeAll(() => {
    home = makeHome();
    expect(sk(home, ["init"], { env }).code).toBe(0);
    for (const n of ["acme/ann", "acme/annie", "other/bob"]) {
      expect(sk(home, ["add", n], { env, input: `${URI}\n` }).code).toBe(0);
    }
  });
  afterAll(() => home.cleanup());

  it("an exact name wins even when it is also part of another name", () => {
    expect(sk(home, ["code", "acme/ann", "--at", "59"], { env })).toEqual({
      code: 0,
      stdout: "996554\n",
      stderr: "",
    });
    // A part of a name still has to match exactly one entry.
    expect(sk(home, ["code", "acme/an", "--at", "59"], { env }).code).toBe(1);
    expect(sk(home, ["code", "bob", "--at", "59"], { env }).stdout).toBe("996554\n");
    // A name that is not a valid store name falls through to matching, and fails cleanly.
    const bad = sk(home, ["code", "../x"], { env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).not.toMatch(/internal error/);
  });

  it("a reader that goes away early ends the output quietly", () => {
    const err = join(home.dir, `epipe-${runtime || "default"}.txt`);
    const r = spawnSync("sh", ["-c", `"${BIN}" list 2>"${err}" | true; cat "${err}"`], {
      env: { ...home.env, ...env },
      encoding: "utf8",
      cwd: home.dir,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("");
  });
});

describe("the Bun binary", () => {
  const bun = existsSync(join(ROOT, "dist/sparekey-bin"));
  it.skipIf(!bun && !process.env.CI)("ignores .env and bunfig.toml in the working directory", () => {
    const home = makeHome();
    try {
      expect(sk(home, ["init"]).code).toBe(0);
      expect(sk(home, ["add", "acme/ann"], { input: `${URI}\n` }).code).toBe(0);
      // sk runs in home.dir: a .env there must not redirect the store.
      writeFileSync(join(home.dir, ".env"), "SPAREKEY_STORE_DIR=/nonexistent/elsewhere\n");
      writeFileSync(join(home.dir, "bunfig.toml"), 'preload = ["./evil.ts"]\n');
      expect(sk(home, ["code", "acme/ann", "--at", "59"])).toEqual({
        code: 0,
        stdout: "996554\n",
        stderr: "",
      });
    } finally {
      home.cleanup();
    }
  });
});
