import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BIN, type Home, hasTool, makeGpgKey, makeHome, ROOT, sh, sk } from "./harness.js";

const SECRET = "JBSWY3DPEHPK3PXP";
const URI = `otpauth://totp/GitHub:alice?secret=${SECRET}&issuer=GitHub`;
// RFC 6238-style check: this secret at t=59 gives 996554 (oathtool --totp -b JBSWY3DPEHPK3PXP -N @59).
const AT = "59";

/** A PATH with every program of the current PATH except gpg, as on a machine without GnuPG. */
function pathWithoutGpg(where: string): string {
  const bin = join(where, "bin-nogpg");
  mkdirSync(bin, { recursive: true });
  for (const d of (process.env.PATH ?? "/usr/bin:/bin").split(":")) {
    if (!d || !existsSync(d)) continue;
    for (const f of readdirSync(d)) {
      if (f.startsWith("gpg") || existsSync(join(bin, f))) continue;
      try {
        symlinkSync(join(d, f), join(bin, f));
      } catch {
        // A name seen twice on PATH: the first one wins, as in a shell.
      }
    }
  }
  return bin;
}

function git(dir: string, ...args: string[]): string {
  return spawnSync("git", ["-C", dir, ...args], { encoding: "utf8" }).stdout;
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist")))
    spawnSync("node", ["scripts/build.mjs"], { cwd: ROOT, stdio: "inherit" });
  expect(existsSync(BIN)).toBe(true);
});

describe("sparekey init (age, the default)", () => {
  let home: Home;
  beforeEach(() => {
    home = makeHome();
  });
  afterEach(() => home.cleanup());

  it("works in a fresh HOME with no gpg at all: init, add, code", () => {
    const noGpg = { PATH: pathWithoutGpg(home.dir) };
    expect(spawnSync("sh", ["-c", "command -v gpg"], { env: noGpg }).status).not.toBe(0);
    const r = sk(home, ["init"], { env: noGpg });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("Initialized an age store in ~/.passage/store.");
    expect(r.stderr).toContain("Identity: ~/.passage/identities (a new key");
    expect(r.stderr).toMatch(/Recipient: age1[0-9a-z]+/);
    expect(r.stderr).toContain("Next: sparekey add");

    const h = join(home.dir, "home");
    const store = join(h, ".passage/store");
    const ids = join(h, ".passage/identities");
    expect(mode(ids)).toBe(0o600);
    expect(mode(join(h, ".passage"))).toBe(0o700);
    expect(mode(store)).toBe(0o700);
    expect(readFileSync(ids, "utf8")).toMatch(
      /^# created: .*\n# public key: age1.*\nAGE-SECRET-KEY-1[0-9A-Z]+\n$/,
    );
    const recipient = spawnSync("age-keygen", ["-y", ids], { encoding: "utf8" }).stdout.trim();
    expect(readFileSync(join(store, ".age-recipients"), "utf8")).toBe(`${recipient}\n`);
    expect(readFileSync(join(store, ".gitignore"), "utf8")).toContain(".sparekey.lock");
    expect(git(store, "log", "--format=%s")).toBe("Initialize sparekey store.\n");
    expect(git(store, "status", "--porcelain")).toBe("");

    const add = sk(home, ["add", "--uri", URI], { env: noGpg });
    expect(add.code, add.stderr).toBe(0);
    const code = sk(home, ["code", "github", "--at", AT], { env: noGpg });
    expect(code.code, code.stderr).toBe(0);
    expect(code.stdout).toBe("996554\n");
    const entry = join(store, "2fa/github/alice.age");
    expect(spawnSync("age", ["-d", "-i", ids, entry], { encoding: "utf8" }).stdout).toContain(
      `secret=${SECRET}`,
    );
    expect(git(store, "log", "--format=%s").split("\n")[1]).toBe("Initialize sparekey store.");
  });

  it("says a store is already initialized and changes nothing", () => {
    expect(sk(home, ["init"]).code).toBe(0);
    const h = join(home.dir, "home");
    const before = [
      readFileSync(join(h, ".passage/identities")),
      git(join(h, ".passage/store"), "rev-parse", "HEAD"),
    ];
    const again = sk(home, ["init"]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("An age store is already initialized in ~/.passage/store.");
    expect([
      readFileSync(join(h, ".passage/identities")),
      git(join(h, ".passage/store"), "rev-parse", "HEAD"),
    ]).toEqual(before);
    // A pass store that exists already is the one selected; init does not add a second store.
    const other = makeHome();
    try {
      mkdirSync(join(other.dir, "home/.password-store"), { recursive: true });
      writeFileSync(join(other.dir, "home/.password-store/.gpg-id"), "KEY\n");
      const r = sk(other, ["init"]);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain("A pass store is already initialized in ~/.password-store.");
      expect(existsSync(join(other.dir, "home/.passage"))).toBe(false);
    } finally {
      other.cleanup();
    }
  });

  it("creates the store in DIR and says how to use it", () => {
    const r = sk(home, ["init", "mystore"]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(home.dir, "mystore/.age-recipients"))).toBe(true);
    expect(r.stderr).toContain("sparekey --store");
    expect(sk(home, ["--store", "mystore", "add", "--uri", URI]).code).toBe(0);
    expect(sk(home, ["--store", "mystore", "code", "github", "--at", AT]).stdout).toBe("996554\n");
    expect(sk(home, ["init", "mystore"]).stderr).toContain("already initialized");
  });

  it("reuses an existing identities file (PASSAGE_IDENTITIES_FILE, PASSAGE_DIR)", () => {
    const ids = join(home.dir, "my-ids");
    spawnSync("age-keygen", ["-o", ids]);
    const before = readFileSync(ids);
    const recipient = spawnSync("age-keygen", ["-y", ids], { encoding: "utf8" }).stdout.trim();
    const env = { PASSAGE_IDENTITIES_FILE: ids, PASSAGE_DIR: join(home.dir, "pstore") };
    const r = sk(home, ["init"], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("(the key already there)");
    expect(readFileSync(ids)).toEqual(before);
    expect(readFileSync(join(home.dir, "pstore/.age-recipients"), "utf8")).toBe(`${recipient}\n`);
    expect(r.stderr).not.toContain("--store");
  });

  it("opens a passphrase-protected identities file with the passphrase asked for", async () => {
    const mod = await import("age-encryption");
    const id = await mod.generateX25519Identity();
    const e = new mod.Encrypter();
    e.setPassphrase("open sesame");
    e.setScryptWorkFactor(12);
    const ids = join(home.dir, "ids.age");
    writeFileSync(ids, mod.armor.encode(await e.encrypt(`${id}\n`)));
    const env = { PASSAGE_IDENTITIES_FILE: ids };
    const r = sk(home, ["init"], { env, input: "open sesame\n" });
    expect(r.code, r.stderr).toBe(0);
    // On a pipe the passphrase is read without a question (a terminal gets one: see the pty test).
    expect(r.stderr).not.toContain("open sesame");
    expect(readFileSync(join(home.dir, "home/.passage/store/.age-recipients"), "utf8")).toBe(
      `${await mod.identityToRecipient(id)}\n`,
    );
    const wrong = makeHome();
    try {
      const w = sk(wrong, ["init"], { env, input: "nope\n" });
      expect(w.code).toBe(1);
      expect(w.stderr).toMatch(/wrong passphrase for/);
      expect(existsSync(join(wrong.dir, "home/.passage/store"))).toBe(false);
    } finally {
      wrong.cleanup();
    }
  });

  it("refuses extra arguments with a usage error", () => {
    const r = sk(home, ["init", "a", "b"]);
    expect(r.code).toBe(2);
  });
});

const gpgReady = hasTool("gpg") || process.env.CI;
(gpgReady ? describe : describe.skip)("sparekey init --gpg (pass store)", () => {
  let home: Home;
  let fpr: string;
  beforeAll(() => {
    home = makeHome();
    fpr = makeGpgKey(home);
  });
  afterAll(() => home.cleanup());

  it("checks the key, then writes .gpg-id, .gitignore and a first commit", () => {
    const bad = sk(home, ["init", "--gpg", "nobody@example.invalid"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('no gpg public key "nobody@example.invalid"');
    expect(existsSync(join(home.dir, "home/.password-store"))).toBe(false);

    const r = sk(home, ["init", "--gpg", fpr]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Initialized a pass store in ~/.password-store for ${fpr}.`);
    const store = join(home.dir, "home/.password-store");
    expect(readFileSync(join(store, ".gpg-id"), "utf8")).toBe(`${fpr}\n`);
    expect(mode(store)).toBe(0o700);
    expect(git(store, "log", "--format=%s")).toBe("Initialize sparekey store.\n");

    expect(sk(home, ["add", "--uri", URI]).code).toBe(0);
    const pass = sh(home, "pass", ["otp", "2fa/github/alice"]);
    if (hasTool("pass")) expect(pass.stdout).toMatch(/^\d{6}\n$/);
    expect(sh(home, "pass", ["show", "2fa/github/alice"]).stdout).toContain(`secret=${SECRET}`);
    expect(sk(home, ["init", "--gpg", fpr]).stderr).toContain("already initialized");
  });

  it("takes several key ids and a DIR", () => {
    const second = makeGpgKey(home, "second@example.com");
    const r = sk(home, ["init", "--gpg", fpr, second, "./team-store"]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(home.dir, "team-store/.gpg-id"), "utf8")).toBe(`${fpr}\n${second}\n`);
  });

  it("signs .gpg-id when PASSWORD_STORE_SIGNING_KEY is set, and pass accepts it", () => {
    const env = { PASSWORD_STORE_SIGNING_KEY: fpr, PASSWORD_STORE_DIR: join(home.dir, "signed") };
    const r = sk(home, ["init", "--gpg", fpr, "./signed"], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(home.dir, "signed/.gpg-id.sig"))).toBe(true);
    expect(git(join(home.dir, "signed"), "ls-files")).toContain(".gpg-id.sig");
    expect(sk(home, ["add", "--uri", URI], { env }).code).toBe(0);
    const show = spawnSync("pass", ["show", "2fa/github/alice"], {
      env: { ...home.env, ...env },
      encoding: "utf8",
    });
    expect(show.stdout).toContain(SECRET);
  });

  it("keeps the secret out of every argv of a real add + code (strace)", () => {
    if (!hasTool("strace") && !process.env.CI) return;
    const secret = "STRACEXJBSWY3DPEHPK3PXQ";
    const env = { ...home.env, PASSWORD_STORE_DIR: join(home.dir, "home/.password-store") };
    const trace = join(home.dir, "trace");
    const args = ["-f", "-e", "trace=execve", "-s", "4096", "-o", trace, BIN];
    const add = spawnSync("strace", [...args, "add", "traced/x"], {
      env,
      input: `otpauth://totp/T:x?secret=${secret}&issuer=T\n`,
      encoding: "utf8",
    });
    expect(add.status, add.stderr).toBe(0);
    const code = spawnSync("strace", [...args.slice(0, 6), `${trace}2`, BIN, "code", "traced/x"], {
      env,
      encoding: "utf8",
    });
    expect(code.status, code.stderr).toBe(0);
    const log = readFileSync(trace, "utf8") + readFileSync(`${trace}2`, "utf8");
    expect(log).toMatch(/execve\("[^"]*gpg", \[.*"--encrypt"/);
    expect(log).toMatch(/execve\("[^"]*git", /);
    expect(log).not.toContain("STRACEX");
  });

  it("fails clearly without gpg", () => {
    const r = sk(home, ["init", "--gpg", fpr, "./x"], { env: { PATH: pathWithoutGpg(home.dir) } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("gpg is not installed");
  });
});
