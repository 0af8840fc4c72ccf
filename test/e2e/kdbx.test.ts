// KeePass(XC) end to end: the real bin/sparekey against the real keepassxc-cli, in temporary homes.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Home, hasTool, makeHome, ROOT, type Run, sk } from "./harness.js";

const TOOL = hasTool("keepassxc-cli");
/** Locally a missing keepassxc-cli skips; in CI the tests run and fail. */
const suite = TOOL || process.env.CI === "true" ? describe : describe.skip;
const PW = "kx pässword";
/** The Bun binary when built, and Node with the esbuild bundle (they resolve packages differently). */
const RUNTIMES: [string, string][] = [
  ["default", ""],
  ["node", "node"],
];
let runtime = "";
/** bin/sparekey under the runtime of the current suite. */
const run = (home: Home, args: string[]): Run => sk(home, args, { env: { SPAREKEY_RUNTIME: runtime } });

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist/node/run.js"))) {
    execFileSync("node", ["scripts/build.mjs"], { cwd: ROOT, stdio: "inherit" });
  }
}, 300_000);

/** keepassxc-cli with the database password on stdin (never in argv). */
function kx(home: Home, args: string[], input = `${PW}\n`): Run {
  const r = spawnSync("keepassxc-cli", args, { input, encoding: "utf8", cwd: home.dir, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** The code keepassxc-cli shows and the one `sparekey code` prints, taken at the same moment (one retry). */
function sameCode(home: Home, db: string, entry: string, name: string): void {
  for (let attempt = 0; ; attempt++) {
    const step = () => Math.floor(Date.now() / 30_000);
    const before = step();
    const theirs = kx(home, ["show", "-q", "-t", db, entry]);
    const ours = run(home, ["code", name]);
    if (step() !== before && attempt === 0) continue;
    expect(theirs.code, theirs.stderr).toBe(0);
    expect(ours.code, ours.stderr).toBe(0);
    expect(ours.stdout.trim(), `${entry} vs ${name}`).toBe(theirs.stdout.trim());
    return;
  }
}

const XML = `<?xml version="1.0" encoding="UTF-8"?>
<KeePassFile><Meta><Generator>test</Generator></Meta><Root><Group><UUID>AAECAwQFBgcICQoLDA0ODw==</UUID><Name>Passwords</Name>
<Entry><UUID>EBESExQVFhcYGRobHB0eHw==</UUID>
<String><Key>Title</Key><Value>GitHub</Value></String><String><Key>UserName</Key><Value>alice</Value></String>
<String><Key>otp</Key><Value ProtectInMemory="True">otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&amp;period=30&amp;digits=8&amp;issuer=GitHub&amp;algorithm=SHA256</Value></String></Entry>
<Entry><UUID>ICEiIyQlJicoKSorLC0uLw==</UUID>
<String><Key>Title</Key><Value>Steam</Value></String><String><Key>UserName</Key><Value>gabe</Value></String>
<String><Key>otp</Key><Value ProtectInMemory="True">otpauth://totp/Steam:gabe?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&amp;period=30&amp;digits=5&amp;issuer=Steam&amp;encoder=steam</Value></String></Entry>
<Entry><UUID>MDEyMzQ1Njc4OTo7PD0+Pw==</UUID>
<String><Key>Title</Key><Value>Bank</Value></String><String><Key>UserName</Key><Value>me</Value></String>
<String><Key>HmacOtp-Secret-Base32</Key><Value ProtectInMemory="True">GEZDGNBVGY3TQOJQ</Value></String>
<String><Key>HmacOtp-Counter</Key><Value>4</Value></String></Entry>
</Group></Root></KeePassFile>`;

suite.each(RUNTIMES)("kdbx e2e (keepassxc-cli), %s runtime", (_label, rt) => {
  let home: Home;
  const pwFile = () => join(home.dir, "pw");
  const storeNames = (h: Home) => run(h, ["list"]).stdout.trim().split("\n").sort();

  beforeAll(() => {
    runtime = rt;
    home = makeHome();
    expect(run(home, ["init"]).code).toBe(0);
    writeFileSync(pwFile(), `${PW}\n`, { mode: 0o600 });
    writeFileSync(join(home.dir, "t.xml"), XML);
    // `keepassxc-cli import` writes KDBX 3.1 with AES-KDF, as `db-create` does.
    const r = kx(home, ["import", "-q", "-p", "t.xml", "theirs.kdbx"], `${PW}\n${PW}\n`);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => home.cleanup());

  test("a wrong password exits 1 with one line and leaves the store empty", () => {
    writeFileSync(join(home.dir, "bad"), "not it\n");
    const r = run(home, ["import", "theirs.kdbx", "--password-file", "bad", "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/wrong password/);
    expect(run(home, ["list"]).stdout.trim()).toBe("");
  });

  test("a database keepassxc-cli made imports, and the codes match keepassxc-cli show -t", () => {
    const r = run(home, ["import", "theirs.kdbx", "--password-file", pwFile(), "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(storeNames(home)).toEqual(["bank/me", "github/alice", "steam/gabe"]);
    sameCode(home, "theirs.kdbx", "GitHub", "github/alice");
    sameCode(home, "theirs.kdbx", "Steam", "steam/gabe");
    expect(run(home, ["show", "bank/me"]).stdout).toMatch(/hotp \(SHA1, 6 digits, counter 4\)/);
  });

  test("export --format kdbx: keepassxc-cli opens it and shows sparekey's codes; HOTP is warned about", () => {
    const r = run(home, [
      "export",
      "--format",
      "kdbx",
      "-o",
      "ours.kdbx",
      "--password-file",
      pwFile(),
      "--yes",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/bank\/me.*KeePassXC has no HOTP/);
    expect(statSync(join(home.dir, "ours.kdbx")).mode & 0o777).toBe(0o600);
    const info = kx(home, ["db-info", "-q", "ours.kdbx"]);
    expect(info.stdout).toMatch(/KDF: Argon2id/);
    sameCode(home, "ours.kdbx", "github/GitHub", "github/alice");
    sameCode(home, "ours.kdbx", "steam/Steam", "steam/gabe");
    const hotp = kx(home, ["show", "-q", "-s", "-a", "HmacOtp-Counter", "ours.kdbx", "bank/Bank"]);
    expect(hotp.stdout.trim()).toBe("4");
  });

  test("the export imports back into an empty store with the same keys and names", () => {
    const other = makeHome();
    try {
      expect(run(other, ["init"]).code).toBe(0);
      const file = join(home.dir, "ours.kdbx");
      const r = run(other, ["import", file, "--password-file", pwFile(), "--yes"]);
      expect(r.code, r.stderr).toBe(0);
      expect(storeNames(other)).toEqual(storeNames(home));
      const uris = (h: Home) =>
        run(h, ["export", "--format", "uris", "--yes"]).stdout.trim().split("\n").sort();
      expect(uris(other)).toEqual(uris(home));
      expect(readFileSync(file).subarray(0, 4)).toEqual(Buffer.from([0x03, 0xd9, 0xa2, 0x9a]));
    } finally {
      other.cleanup();
    }
  });
});
