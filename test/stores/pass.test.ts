import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserError } from "../../src/core/errors.js";
import { PassStore } from "../../src/stores/pass.js";
import { type Home, hasTool, makeGpgKey, makeHome, ROOT, sh } from "../e2e/harness.js";

// Real gpg and pass: in CI a missing tool fails the run; locally it skips.
const ready = hasTool("gpg") && hasTool("pass");
const run = ready || process.env.CI ? describe : describe.skip;

const URI = "otpauth://totp/GitHub:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=GitHub";

/** Every file below dir, relative, for "no temp file left" checks. */
function allFiles(dir: string, base = ""): string[] {
  return readdirSync(join(dir, base), { withFileTypes: true }).flatMap((d) =>
    d.name === ".git" ? [] : d.isDirectory() ? allFiles(dir, join(base, d.name)) : [join(base, d.name)],
  );
}

run("pass store (real gpg, real pass)", () => {
  let home: Home;
  let fpr: string;
  let root: string;
  let env: Record<string, string>;
  let store: PassStore;

  beforeAll(() => {
    home = makeHome();
    fpr = makeGpgKey(home);
    root = join(home.dir, "pw");
    mkdirSync(root, { mode: 0o700 });
    writeFileSync(join(root, ".gpg-id"), `${fpr}\n`);
    env = { ...home.env, PASSWORD_STORE_DIR: root };
    home.env.PASSWORD_STORE_DIR = root;
    store = new PassStore(root, { env });
  });
  afterAll(() => home?.cleanup());

  it("round-trips text, including a password line and unicode", async () => {
    const text = `hunter2\n${URI}\nlogin: alice\nnote: café ☕\n`;
    await store.write("2fa/github/alice", text);
    expect(await store.read("2fa/github/alice")).toBe(text);
    expect(await store.exists("2fa/github/alice")).toBe(true);
    expect(await store.list("2fa")).toContain("2fa/github/alice");
  });

  it("writes entries that `pass show` reads", async () => {
    await store.write("2fa/gitlab/bob", `${URI}\nrecovery: 7xk2-9fqa\n`);
    const r = sh(home, "pass", ["show", "2fa/gitlab/bob"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${URI}\nrecovery: 7xk2-9fqa\n`);
  });

  it("reads what `pass insert -m` wrote, with a password on line 1", async () => {
    const text = `s3cret-password\n${URI}\nurl: https://github.com\n`;
    const r = sh(home, "pass", ["insert", "-m", "2fa/from-pass/carol"], { input: text });
    expect(r.code, r.stderr).toBe(0);
    expect(await store.read("2fa/from-pass/carol")).toBe(text);
  });

  it("encrypts to the nearest .gpg-id of a subfolder", async () => {
    const other = makeGpgKey(home, "team@example.com");
    mkdirSync(join(root, "team"), { mode: 0o700 });
    writeFileSync(join(root, "team", ".gpg-id"), `${other} # the team key\n`);
    expect((await store.recipientsFor("team/deep/x")).ids).toEqual([other]);
    expect((await store.recipientsFor("2fa/x")).ids).toEqual([fpr]);
    await store.write("team/deep/x", URI);
    const packets = sh(home, "gpg", ["--batch", "--list-packets", join(root, "team/deep/x.gpg")]);
    const keyIds = [...(packets.stdout + packets.stderr).matchAll(/keyid ([0-9A-F]{16})/g)].map((m) => m[1]);
    const subkeys = sh(home, "gpg", ["--with-colons", "--list-keys", other]).stdout;
    expect(keyIds.length).toBe(1);
    expect(subkeys).toContain(keyIds[0]);
    expect(sh(home, "pass", ["show", "team/deep/x"]).stdout).toBe(URI);
  });

  it("uses 0600 files and 0700 new folders", async () => {
    await store.write("2fa/modes/a/b", URI);
    expect(statSync(join(root, "2fa/modes/a/b.gpg")).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, "2fa/modes/a")).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, "2fa/modes")).mode & 0o777).toBe(0o700);
  });

  it("leaves the old entry and no temp file when encryption fails (bad recipient)", async () => {
    mkdirSync(join(root, "broken"), { mode: 0o700 });
    await store.write("broken/x", "old\n");
    const before = readFileSync(join(root, "broken/x.gpg"));
    writeFileSync(join(root, "broken/.gpg-id"), "nobody-such@example.invalid\n");
    const err = await store.write("broken/x", "new\n").catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/cannot encrypt broken\/x/);
    expect(err.message).not.toContain("\n");
    expect(readFileSync(join(root, "broken/x.gpg"))).toEqual(before);
    expect(allFiles(root).filter((f) => f.includes(".tmp-"))).toEqual([]);
    writeFileSync(join(root, "broken/.gpg-id"), `${fpr}\n`);
    expect(await store.read("broken/x")).toBe("old\n");
  });

  it("turns gpg failures into one-line UserErrors", async () => {
    writeFileSync(join(root, "2fa/garbage.gpg"), "this is not gpg\n");
    const e1 = await store.read("2fa/garbage").catch((e) => e);
    expect(e1).toBeInstanceOf(UserError);
    expect(e1.message).toMatch(/^cannot decrypt 2fa\/garbage: /);
    const e2 = await store.read("2fa/missing").catch((e) => e);
    expect(e2).toBeInstanceOf(UserError);
    expect(e2.message).toBe("2fa/missing is not in the store");
    // An entry for a key we do not hold: made by a throwaway keyring.
    const other = makeHome();
    try {
      const key = makeGpgKey(other, "stranger@example.com");
      const r = sh(other, "gpg", ["--batch", "--yes", "--encrypt", "-r", key, "-o", "-"], { input: "x" });
      expect(r.code).toBe(0);
      const enc = spawnSync(
        "gpg",
        ["--batch", "--yes", "--encrypt", "-r", key, "-o", join(root, "2fa/foreign.gpg")],
        {
          env: other.env,
          input: "secret",
        },
      );
      expect(enc.status).toBe(0);
    } finally {
      other.cleanup();
    }
    const e3 = await store.read("2fa/foreign").catch((e) => e);
    expect(e3).toBeInstanceOf(UserError);
    expect(e3.message).toMatch(/No secret key/);
    const noGpg = new PassStore(root, { env: { ...env, PATH: "/nonexistent" } });
    const e4 = await noGpg.read("2fa/github/alice").catch((e) => e);
    expect(e4.message).toMatch(/gpg is not installed/);
  });

  it("honours PASSWORD_STORE_GPG_OPTS", async () => {
    const armored = new PassStore(root, { env: { ...env, PASSWORD_STORE_GPG_OPTS: "--armor" } });
    await armored.write("2fa/armored", URI);
    expect(readFileSync(join(root, "2fa/armored.gpg"), "utf8")).toMatch(/^-----BEGIN PGP MESSAGE-----/);
    expect(await store.read("2fa/armored")).toBe(URI);
  });

  it("moves by rename within the same recipients and re-encrypts across .gpg-id folders", async () => {
    await store.write("2fa/mv/one", "one\n");
    const bytes = readFileSync(join(root, "2fa/mv/one.gpg"));
    await store.move("2fa/mv/one", "2fa/mv2/uno");
    expect(readFileSync(join(root, "2fa/mv2/uno.gpg"))).toEqual(bytes);
    expect(() => statSync(join(root, "2fa/mv"))).toThrow();
    await store.move("2fa/mv2/uno", "team/uno");
    expect(readFileSync(join(root, "team/uno.gpg"))).not.toEqual(bytes);
    expect(sh(home, "pass", ["show", "team/uno"]).stdout).toBe("one\n");
    await expect(store.move("team/uno", "team/deep/x")).rejects.toThrow(/already exists/);
  });

  it("removes entries and their empty folders, as pass does", async () => {
    await store.write("2fa/rm/a/b", "x");
    await store.remove("2fa/rm/a/b");
    expect(() => statSync(join(root, "2fa/rm"))).toThrow();
    expect(statSync(join(root, "2fa")).isDirectory()).toBe(true);
    await expect(store.remove("2fa/rm/a/b")).rejects.toThrow(/not in the store/);
  });

  it("refuses .. and absolute names", async () => {
    for (const bad of ["../x", "2fa/../../x", "/etc/passwd", "a//b", ".git/config", "2fa/.gpg-id"]) {
      await expect(store.write(bad, "x")).rejects.toBeInstanceOf(UserError);
      await expect(store.read(bad)).rejects.toBeInstanceOf(UserError);
    }
    await expect(store.list("..")).rejects.toBeInstanceOf(UserError);
  });

  it("checks .gpg-id's signature when PASSWORD_STORE_SIGNING_KEY is set, as pass does", async () => {
    const signed = join(home.dir, "signed");
    mkdirSync(signed, { mode: 0o700 });
    writeFileSync(join(signed, ".gpg-id"), `${fpr}\n`);
    const s = new PassStore(signed, { env: { ...env, PASSWORD_STORE_SIGNING_KEY: fpr } });
    await expect(s.write("x", "1")).rejects.toThrow(/\.gpg-id\.sig does not exist/);
    expect(
      sh(home, "gpg", ["--batch", "--default-key", fpr, "--detach-sign", join(signed, ".gpg-id")]).code,
    ).toBe(0);
    await s.write("x", "1");
    expect(await s.read("x")).toBe("1");
    writeFileSync(join(signed, ".gpg-id"), `${fpr}\nmallory@example.com\n`);
    const fresh = new PassStore(signed, { env: { ...env, PASSWORD_STORE_SIGNING_KEY: fpr } });
    await expect(fresh.write("x", "2")).rejects.toThrow(/signature of .*\.gpg-id is invalid/);
    expect(await fresh.read("x")).toBe("1");
  });

  it("never puts the secret in any process's argv (strace)", async () => {
    if (!hasTool("strace") && !process.env.CI) return;
    const script = join(home.dir, "write.mjs");
    await build({
      stdin: {
        contents: `import { PassStore } from ${JSON.stringify(join(ROOT, "src/stores/pass.ts"))};
          const s = new PassStore(process.env.PASSWORD_STORE_DIR, { env: process.env });
          await s.write("2fa/argv/test", process.env.SK_TEXT_FILE ? (await import("node:fs")).readFileSync(process.env.SK_TEXT_FILE, "utf8") : "");
          await s.read("2fa/argv/test");`,
        resolveDir: ROOT,
        loader: "ts",
      },
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      outfile: script,
      logLevel: "silent",
    });
    const secret = "ARGVSECRETJBSWY3DPEHPK3PXQ";
    const textFile = join(home.dir, "text");
    writeFileSync(textFile, `otpauth://totp/x?secret=${secret}\n`, { mode: 0o600 });
    const trace = join(home.dir, "trace");
    const r = spawnSync("strace", ["-f", "-e", "trace=execve", "-s", "4096", "-o", trace, "node", script], {
      env: { ...env, SK_TEXT_FILE: textFile },
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    const log = readFileSync(trace, "utf8");
    expect(log).toMatch(/execve\("[^"]*gpg", \[.*"--encrypt"/);
    expect(log).toMatch(/execve\("[^"]*gpg", \[.*"--decrypt"/);
    expect(log).not.toContain(secret);
    expect(log).not.toContain("ARGVSECRET");
  });
});
