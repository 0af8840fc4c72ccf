// `sparekey export` end to end: every format written from a real store, read back by
// `sparekey import` into an empty store, and the Google QR codes read by zbarimg.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Account } from "../../src/core/account.js";
import { parseUri } from "../../src/core/uri.js";
import { EXPORT_FORMATS } from "../../src/formats/registry.js";
import { EXPORTS } from "../formats/roundtrip-arb.js";
import { type Home, hasTool, makeHome, ROOT, type Run, sk } from "./harness.js";

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist/node/run.js"))) {
    execFileSync("node", ["scripts/build.mjs"], { cwd: ROOT, stdio: "inherit" });
  }
}, 300_000);

const key = (a: Account) =>
  `${a.kind} ${a.secret} ${a.issuer}|${a.account} ${a.algorithm} ${a.digits} ${a.period} ${a.counter}`;

describe("export: every format, imported back into an empty store", () => {
  let home: Home;
  let n = 0;
  const run = (args: string[], env: Record<string, string> = {}): Run =>
    sk(home, args, { env: { PW: "correct horse", ...env } });
  const accounts = (store?: string): Account[] => {
    const r = run([...(store ? ["--store", store] : []), "export", "--format", "uris"]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => parseUri(l));
  };
  beforeAll(() => {
    home = makeHome();
    expect(run(["init"]).code).toBe(0);
    const r = run(["import", join(EXPORTS, "plain.txt")]);
    expect(r.code, r.stderr).toBe(0);
    expect(
      sk(home, ["add", "plain/unicode"], {
        input:
          "otpauth://totp/Caf%C3%A9%2C%20Inc.:jos%C3%A9%40x.test?secret=MFRGGZDFMZTWQ2LK&issuer=Caf%C3%A9%2C%20Inc.\n",
      }).code,
    ).toBe(0);
  });
  afterAll(() => home.cleanup());

  // The formats of this codebase, plus any other registered one (KDBX), all handled the same way.
  const FORMATS = Object.keys(EXPORT_FORMATS).filter((f) => f !== "google");

  it.each(FORMATS)("%s", async (id) => {
    const fmt = await EXPORT_FORMATS[id]();
    const file = join(home.dir, `export-${id}`);
    const args = ["export", "--format", id, "-o", file, "--password-env", "PW"];
    const r = run(args);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const all = accounts();
    const dropped = all.filter((a) => fmt.limitation(a)?.effect === "drop");
    // Each dropped account is named before writing, with the reason.
    expect(r.stderr.split("\n").filter((l) => l.startsWith("not exported:"))).toHaveLength(dropped.length);
    const store = join(home.dir, `back-${n++}`);
    expect(run(["init", store]).code).toBe(0);
    const back = run(["--store", store, "import", file, "--password-env", "PW"]);
    expect(back.code, back.stderr).toBe(0);
    const want = all
      .filter((a) => !dropped.includes(a))
      .map(key)
      .sort();
    expect(accounts(store).map(key).sort()).toEqual(want);
    if (fmt.encrypted) {
      expect(readFileSync(file, "latin1")).not.toContain("4SJHB4GSD43FZBAI7C2HLRJGPQ");
      const wrong = run(["--store", store, "import", file, "--password-env", "PW"], { PW: "wrong" });
      expect(wrong.code).toBe(1);
    }
  });

  it("--plain writes Aegis and 2FAS unencrypted; without a password an encrypted export is refused", () => {
    for (const id of ["aegis", "2fas"]) {
      const file = join(home.dir, `plain-${id}`);
      expect(run(["export", "--format", id, "--plain", "-o", file]).code).toBe(0);
      expect(readFileSync(file, "utf8")).toContain("4SJHB4GSD43FZBAI7C2HLRJGPQ");
      const refused = run(["export", "--format", id, "-o", join(home.dir, "x")]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/--password-file or --password-env/);
      expect(existsSync(join(home.dir, "x"))).toBe(false);
    }
  });

  it("QUERY selects accounts; uris go to stdout", () => {
    const r = run(["export", "--format", "uris", "airbnb", "deno"]);
    expect(r.code, r.stderr).toBe(0);
    expect(
      r.stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => parseUri(l).issuer)
        .sort(),
    ).toEqual(["Airbnb", "Deno"]);
    expect(run(["export", "--format", "aegis"]).code).toBe(2);
    expect(run(["export", "--format", "nope", "-o", "x"]).code).toBe(2);
  });

  it("Bitwarden and Apple say which accounts they cannot hold, and why", () => {
    const bw = run(["export", "--format", "bitwarden", "-o", join(home.dir, "bw.json")]);
    expect(bw.stderr).toMatch(/not exported: issuu\/james \(Issuu \(James\)\): Bitwarden has no HOTP/);
    const apple = run(["export", "--format", "apple", "-o", join(home.dir, "apple.csv")]);
    expect(apple.stderr).toMatch(/not exported: boeing\/sophia .*only time-based codes, no Steam/);
  });

  it.skipIf(!hasTool("zbarimg") && !process.env.CI)(
    "google: PNG codes that zbarimg reads, holding the accounts Google can take",
    () => {
      const dir = join(home.dir, "google");
      const r = run(["export", "--format", "google", "-o", dir]);
      expect(r.code, r.stderr).toBe(0);
      // SPDX: period 20, 7 digits; Airbnb: period 50; Air Canada: 7 digits; Boeing: Steam.
      expect(r.stderr.split("\n").filter((l) => l.startsWith("not exported:"))).toHaveLength(4);
      expect(r.stderr).toMatch(/warning: wwe\/mason .*SHA512/);
      const files = readdirSync(dir).sort();
      expect(files).toEqual(["google-1-of-1.png"]);
      expect(statSync(join(dir, files[0])).mode & 0o777).toBe(0o600);
      const z = spawnSync("zbarimg", ["-q", "--raw", join(dir, files[0])], { encoding: "utf8" });
      expect(z.stdout).toMatch(/^otpauth-migration:\/\/offline\?data=/);
      const text = join(home.dir, "google.txt");
      writeFileSync(text, z.stdout);
      const store = join(home.dir, "back-google");
      expect(run(["init", store]).code).toBe(0);
      expect(run(["--store", store, "import", text]).code).toBe(0);
      const fromPng = join(home.dir, "back-google-png");
      expect(run(["init", fromPng]).code).toBe(0);
      expect(run(["--store", fromPng, "import", join(dir, files[0])]).code).toBe(0);
      const want = ["deno", "issuu", "wwe", "unicode"].length;
      expect(accounts(store)).toHaveLength(want);
      expect(accounts(fromPng).map(key).sort()).toEqual(accounts(store).map(key).sort());
      expect(
        accounts(store)
          .map((a) => a.issuer)
          .sort(),
      ).toEqual(["Café, Inc.", "Deno", "Issuu", "WWE"]);
    },
  );
});
