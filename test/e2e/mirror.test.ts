import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, type Home, hasTool, makeHome, type Run, sh, sk } from "./harness.js";

const CI = Boolean(process.env.CI);
const PW = "correct horse battery";
const GH = "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=GitHub";
const GL =
  "otpauth://totp/GitLab:bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=GitLab&digits=8&period=60";
const ST = "otpauth://totp/Steam:cy?secret=MFRGGZDFMZTWQ2LKMFRGGZDFMZTWQ2LK&issuer=Steam&encoder=steam";
const HO = "otpauth://hotp/Ops:root?secret=KRUGKIDROVUWG2ZAMJZG653OEBTG66BA&issuer=Ops&counter=4";
const NEW = "otpauth://totp/Npm:dee?secret=NBSWY3DPO5XXE3DEEBSWY3DPO5XXE3DE&issuer=Npm";

beforeAll(ensureBuilt, 300_000);

function ok(r: Run): Run {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

type Finding = { account: string | null; finding: string };

describe.skipIf(!CI && !hasTool("keepassxc-cli"))("mirrors", () => {
  let home: Home;
  let db: string;
  let pwFile: string;
  const kx = (args: string[]): Run =>
    sh(home, "keepassxc-cli", [args[0], "-q", ...args.slice(1)], { input: `${PW}\n` });
  const findings = (): Finding[] => JSON.parse(sk(home, ["audit", "--json"]).stdout).findings;
  const mirrorFindings = () =>
    findings()
      .filter((f) => f.finding === "not-mirrored" || f.finding === "mirror-stale")
      .map((f) => `${f.account} ${f.finding}`);
  /** keepassxc-cli's current code and ours, taken together (retried across a step boundary). */
  const bothCodes = (path: string, name: string): [string, string] => {
    for (let i = 0; ; i++) {
      const theirs = ok(kx(["show", "-t", db, path])).stdout.trim();
      const ours = ok(sk(home, ["code", name])).stdout.trim();
      if (theirs === ours || i >= 2) return [theirs, ours];
    }
  };

  beforeAll(() => {
    home = makeHome();
    ok(sk(home, ["init"]));
    ok(sk(home, ["add", "github/alice"], { input: `${GH}\n` }));
    ok(sk(home, ["add", "gitlab/bob"], { input: `${GL}\n` }));
    ok(sk(home, ["add", "steam/cy"], { input: `${ST}\n` }));
    ok(sk(home, ["add", "ops/root"], { input: `${HO}\n` }));
    db = join(home.dir, "keys.kdbx");
    pwFile = join(home.dir, "pw");
    writeFileSync(pwFile, `${PW}\n`, { mode: 0o600 });
    // The user's own database, with an entry of their own.
    ok(sh(home, "keepassxc-cli", ["db-create", "-q", "-p", db], { input: `${PW}\n${PW}\n` }));
    ok(
      sh(home, "keepassxc-cli", ["add", "-q", "-u", "me@example.com", "-p", db, "Bank"], {
        input: `${PW}\nhunter2\n`,
      }),
    );
  });
  afterAll(() => home.cleanup());

  it("adds a kdbx mirror; the audit shows every account not mirrored until mirror sync", () => {
    const r = ok(sk(home, ["mirror", "add", "kdbx", db]));
    expect(r.stderr).toMatch(/its own entries will be kept/);
    expect(readFileSync(join(home.env.XDG_CONFIG_HOME, "sparekey/mirrors.json"), "utf8")).toContain(db);
    expect(mirrorFindings()).toEqual([
      "github/alice not-mirrored",
      "gitlab/bob not-mirrored",
      "ops/root not-mirrored",
      "steam/cy not-mirrored",
    ]);
    expect(ok(sk(home, ["mirror", "list"])).stdout).toMatch(/^kdbx {2}.*keys\.kdbx {2}never synced\n$/);
  });

  it("a wrong password leaves the mirror untouched", () => {
    const before = readFileSync(db);
    const r = sk(home, ["mirror", "sync", "--password-env", "MIRROR_PW"], { env: { MIRROR_PW: "wrong" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/keys\.kdbx: wrong password/);
    expect(readFileSync(db).equals(before)).toBe(true);
    expect(mirrorFindings()).toHaveLength(4);
  });

  it("mirror sync writes the accounts; keepassxc-cli shows the right codes; the user's entry survives", () => {
    const r = ok(sk(home, ["mirror", "sync", "--password-file", pwFile]));
    expect(r.stderr).toMatch(/Mirrored 4 accounts to .*keys\.kdbx \(kdbx\): 4 added, 0 updated, 0 removed\./);
    expect(r.stderr).toMatch(/Note: ops\/root: KeePassXC has no HOTP/);
    expect(statSync(db).mode & 0o777).toBe(0o600);
    const tree = ok(kx(["ls", "-R", "-f", db])).stdout;
    expect(tree).toContain("Bank");
    for (const [path, name] of [
      ["sparekey/github/GitHub", "github/alice"],
      ["sparekey/gitlab/GitLab", "gitlab/bob"],
      ["sparekey/steam/Steam", "steam/cy"],
    ]) {
      const [theirs, ours] = bothCodes(path, name);
      expect(theirs, path).toBe(ours);
    }
    expect(bothCodes("sparekey/steam/Steam", "steam/cy")[0]).toMatch(/^[2-9B-Y]{5}$/);
    expect(bothCodes("sparekey/gitlab/GitLab", "gitlab/bob")[0]).toMatch(/^\d{8}$/);
    const bank = ok(kx(["show", "-s", db, "Bank"])).stdout;
    expect(bank).toMatch(/UserName: me@example\.com/);
    expect(bank).toMatch(/Password: hunter2/);
    expect(mirrorFindings()).toEqual([]);
    // The state is in the store, committed, and holds no secret.
    const store = join(home.env.HOME, ".passage/store");
    const state = readFileSync(join(store, ".sparekey/mirrors.json"), "utf8");
    expect(state).toContain("github/alice");
    expect(state).not.toMatch(/JBSWY3DP|GEZDGNBV/);
    expect(sh(home, "git", ["-C", store, "log", "-1", "--format=%s"]).stdout.trim()).toBe(
      "Record mirror sync.",
    );
  });

  it("after add, the audit shows not-mirrored until mirror sync", () => {
    ok(sk(home, ["add", "npm/dee"], { input: `${NEW}\n` }));
    expect(mirrorFindings()).toEqual(["npm/dee not-mirrored"]);
    const r = ok(sk(home, ["mirror", "sync", "--password-file", pwFile]));
    expect(r.stderr).toMatch(/1 added, 0 updated, 0 removed/);
    expect(mirrorFindings()).toEqual([]);
    const [theirs, ours] = bothCodes("sparekey/npm/Npm", "npm/dee");
    expect(theirs).toBe(ours);
  });

  it("a changed entry is mirror-stale until mirror sync: recovery codes, an HOTP counter", () => {
    ok(sk(home, ["recovery", "add", "github/alice"], { input: "7xk2-9fqa\nm3pd-81zc\n" }));
    ok(sk(home, ["code", "ops/root"]));
    expect(mirrorFindings()).toEqual(["github/alice mirror-stale", "ops/root mirror-stale"]);
    const r = ok(sk(home, ["mirror", "sync", "--password-file", pwFile]));
    expect(r.stderr).toMatch(/0 added, 2 updated, 0 removed/);
    expect(mirrorFindings()).toEqual([]);
    expect(ok(kx(["show", "-s", db, "sparekey/github/GitHub"])).stdout).toMatch(/7xk2-9fqa[\s\S]*m3pd-81zc/);
    expect(ok(kx(["show", "-s", "-a", "HmacOtp-Counter", db, "sparekey/ops/Ops"])).stdout.trim()).toBe("5");
  });

  it("an account removed from the store leaves the mirror; the user's entries stay", () => {
    ok(sk(home, ["rm", "npm/dee"], { input: "y\n" }));
    const r = ok(sk(home, ["mirror", "sync", "--password-file", pwFile]));
    expect(r.stderr).toMatch(/0 added, 0 updated, 1 removed/);
    expect(kx(["show", db, "sparekey/npm/Npm"]).code).not.toBe(0);
    expect(ok(kx(["show", "-s", db, "Bank"])).stdout).toMatch(/hunter2/);
    // An idle sync leaves the database and the store's history alone.
    const store = join(home.env.HOME, ".passage/store");
    const head = sh(home, "git", ["-C", store, "rev-parse", "HEAD"]).stdout;
    const mtime = statSync(db).mtimeMs;
    expect(ok(sk(home, ["mirror", "sync", "--password-file", pwFile])).stderr).toMatch(
      /0 added, 0 updated, 0 removed/,
    );
    expect(sh(home, "git", ["-C", store, "rev-parse", "HEAD"]).stdout).toBe(head);
    expect(statSync(db).mtimeMs).toBe(mtime);
  });

  it("an aegis mirror is written encrypted and tracked; mirror rm forgets it", () => {
    const vault = join(home.dir, "aegis.json");
    ok(sk(home, ["mirror", "add", "aegis", vault]));
    expect(mirrorFindings()).toHaveLength(4);
    ok(sk(home, ["mirror", "sync", "--password-file", pwFile]));
    const json = JSON.parse(readFileSync(vault, "utf8"));
    expect(json.header.slots).toHaveLength(1);
    expect(typeof json.db).toBe("string");
    expect(readFileSync(vault, "utf8")).not.toMatch(/JBSWY3DP/);
    expect(mirrorFindings()).toEqual([]);
    // A mirror file that vanished holds nothing.
    renameSync(vault, `${vault}.aside`);
    expect(mirrorFindings()).toHaveLength(4);
    renameSync(`${vault}.aside`, vault);
    expect(
      ok(sk(home, ["mirror", "list"]))
        .stdout.split("\n")
        .filter(Boolean),
    ).toHaveLength(2);
    ok(sk(home, ["mirror", "rm", vault]));
    expect(ok(sk(home, ["mirror", "list"])).stdout).not.toContain("aegis");
    expect(existsSync(vault)).toBe(true);
  });

  it("refuses an unknown format and an existing non-kdbx file without --force", () => {
    expect(sk(home, ["mirror", "add", "pdf", "x.pdf"]).code).toBe(2);
    writeFileSync(join(home.dir, "old.csv"), "x\n");
    const r = sk(home, ["mirror", "add", "apple", join(home.dir, "old.csv")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/rewritten whole at each sync/);
  });
});
