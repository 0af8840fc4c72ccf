import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserError } from "../../src/core/errors.js";
import { AgeStore, isAgeFile, keyLines } from "../../src/stores/age.js";
import { typageCrypto } from "../../src/stores/age-typage.js";
import { hasTool } from "../e2e/harness.js";

const run = hasTool("age") || process.env.CI ? describe : describe.skip;

const URI = "otpauth://totp/GitHub:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=GitHub";

function age(args: string[], input?: string | Buffer) {
  const r = spawnSync("age", args, { input });
  if (r.status !== 0) throw new Error(`age ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Encrypts with a passphrase, as `age -p` does (the age CLI asks only on a terminal). */
async function passphraseEncrypt(text: string, passphrase: string): Promise<Uint8Array> {
  const mod = await import("age-encryption");
  const e = new mod.Encrypter();
  e.setPassphrase(passphrase);
  e.setScryptWorkFactor(12);
  return e.encrypt(text);
}

function allFiles(dir: string, base = ""): string[] {
  return readdirSync(join(dir, base), { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? allFiles(dir, join(base, d.name)) : [join(base, d.name)],
  );
}

run("age store (real age CLI)", () => {
  let dir: string;
  let root: string;
  let ids: string;
  let recipient: string;
  let store: AgeStore;
  const env = () => ({ HOME: join(dir, "home"), PASSAGE_IDENTITIES_FILE: ids, PATH: process.env.PATH });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "sk-age-"));
    root = join(dir, "store");
    ids = join(dir, "identities");
    mkdirSync(root, { mode: 0o700 });
    spawnSync("age-keygen", ["-o", ids]);
    recipient = spawnSync("age-keygen", ["-y", ids], { encoding: "utf8" }).stdout.trim();
    writeFileSync(join(root, ".age-recipients"), `# me\n${recipient}\n`);
    store = new AgeStore(root, { env: env(), crypto: async () => typageCrypto });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("round-trips text", async () => {
    const text = `${URI}\nrecovery: 7xk2-9fqa\nnote: café ☕\n`;
    await store.write("2fa/github/alice", text);
    expect(await store.read("2fa/github/alice")).toBe(text);
    expect(await store.list()).toEqual(["2fa/github/alice"]);
    expect(await store.list("2fa/github")).toEqual(["2fa/github/alice"]);
    expect(await store.list("nothing")).toEqual([]);
  });

  it("writes files that `age -d -i identities` decrypts", async () => {
    await store.write("2fa/gitlab/bob", `${URI}\n`);
    expect(age(["-d", "-i", ids, join(root, "2fa/gitlab/bob.age")]).toString()).toBe(`${URI}\n`);
  });

  it("reads files that `age -e -R .age-recipients` wrote, binary and armored", async () => {
    mkdirSync(join(root, "2fa/cli"), { recursive: true });
    writeFileSync(
      join(root, "2fa/cli/bin.age"),
      age(["-e", "-R", join(root, ".age-recipients")], "binary\n"),
    );
    writeFileSync(
      join(root, "2fa/cli/arm.age"),
      age(["-e", "-a", "-R", join(root, ".age-recipients")], "armored\n"),
    );
    expect(readFileSync(join(root, "2fa/cli/arm.age"), "utf8")).toMatch(
      /^-----BEGIN AGE ENCRYPTED FILE-----/,
    );
    expect(await store.read("2fa/cli/bin")).toBe("binary\n");
    expect(await store.read("2fa/cli/arm")).toBe("armored\n");
  });

  it("encrypts to the nearest .age-recipients of a subfolder", async () => {
    const other = join(dir, "other-identities");
    spawnSync("age-keygen", ["-o", other]);
    const otherRcpt = spawnSync("age-keygen", ["-y", other], { encoding: "utf8" }).stdout.trim();
    mkdirSync(join(root, "team"), { mode: 0o700 });
    writeFileSync(join(root, "team/.age-recipients"), `${recipient}\n${otherRcpt}\n`);
    expect((await store.recipientsFor("team/a/b")).recipients).toEqual([recipient, otherRcpt]);
    await store.write("team/a/b", "shared\n");
    // The other member can read it with their own identity alone.
    expect(age(["-d", "-i", other, join(root, "team/a/b.age")]).toString()).toBe("shared\n");
  });

  it("encrypts to the identities when no .age-recipients exists (as passage does)", async () => {
    const bare = join(dir, "bare");
    mkdirSync(bare);
    const s = new AgeStore(bare, { env: env(), crypto: async () => typageCrypto });
    await s.write("x", "y");
    expect(age(["-d", "-i", ids, join(bare, "x.age")]).toString()).toBe("y");
  });

  it("opens a passphrase-encrypted identities file, binary or armored, asking once", async () => {
    const plainIds = readFileSync(ids, "utf8");
    for (const armor of [false, true]) {
      let enc = await passphraseEncrypt(plainIds, "correct horse");
      if (armor) enc = new TextEncoder().encode((await import("age-encryption")).armor.encode(enc));
      const encFile = join(dir, `ids-enc-${armor}`);
      writeFileSync(encFile, enc, { mode: 0o600 });
      expect(isAgeFile(readFileSync(encFile))).toBe(true);
      const asked: { q: string; secret?: boolean }[] = [];
      const answers = ["wrong", "correct horse"];
      const s = new AgeStore(root, {
        env: { ...env(), PASSAGE_IDENTITIES_FILE: encFile },
        crypto: async () => typageCrypto,
        prompt: async (q, o) => {
          asked.push({ q, secret: o?.secret });
          return answers.shift() ?? null;
        },
      });
      expect(await s.read("2fa/github/alice")).toContain(URI);
      expect(await s.read("2fa/gitlab/bob")).toBe(`${URI}\n`);
      expect(asked.length).toBe(2);
      expect(asked.every((a) => a.secret === true && a.q.includes("Passphrase for"))).toBe(true);
    }
    const encFile = join(dir, "ids-enc-false");
    const noPrompt = new AgeStore(root, {
      env: { ...env(), PASSAGE_IDENTITIES_FILE: encFile },
      crypto: async () => typageCrypto,
    });
    await expect(noPrompt.read("2fa/gitlab/bob")).rejects.toThrow(/encrypted with a passphrase/);
    const wrong = new AgeStore(root, {
      env: { ...env(), PASSAGE_IDENTITIES_FILE: encFile },
      crypto: async () => typageCrypto,
      prompt: async () => "nope",
    });
    await expect(wrong.read("2fa/gitlab/bob")).rejects.toThrow(/wrong passphrase/);
  });

  it("opens an identities file that `age -p` encrypted (driven through a pty)", async () => {
    if (!hasTool("script") && !process.env.CI) return;
    // One variant only: age -p uses scrypt work factor 18, several seconds here (binary is covered above).
    for (const armor of [["-a"]]) {
      const out = join(dir, `ids-age-p${armor.join("")}`);
      const feed = "(sleep 0.3; printf 'pass phrase\\n'; sleep 0.3; printf 'pass phrase\\n'; sleep 0.5)";
      const r = spawnSync(
        "sh",
        ["-c", `${feed} | script -qec "age -p ${armor.join(" ")} -o ${out} ${ids}" /dev/null`],
        {
          timeout: 20_000,
        },
      );
      expect(r.status).toBe(0);
      expect(isAgeFile(readFileSync(out))).toBe(true);
      const s = new AgeStore(root, {
        env: { ...env(), PASSAGE_IDENTITIES_FILE: out },
        crypto: async () => typageCrypto,
        prompt: async () => "pass phrase",
      });
      expect(await s.read("2fa/gitlab/bob")).toBe(`${URI}\n`);
    }
  });

  it("leaves the old entry and no temp file when encryption fails (bad recipient)", async () => {
    mkdirSync(join(root, "broken"), { mode: 0o700 });
    await store.write("broken/x", "old\n");
    const before = readFileSync(join(root, "broken/x.age"));
    writeFileSync(join(root, "broken/.age-recipients"), "age1notarealrecipient\n");
    const err = await store.write("broken/x", "new\n").catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/cannot encrypt broken\/x/);
    expect(readFileSync(join(root, "broken/x.age"))).toEqual(before);
    writeFileSync(join(root, "broken/.age-recipients"), "ssh-ed25519 AAAAC3Nza me@host\n");
    await expect(store.write("broken/x", "new\n")).rejects.toThrow(/unsupported recipient "ssh-ed25519"/);
    expect(allFiles(root).filter((f) => f.includes(".tmp-"))).toEqual([]);
    rmSync(join(root, "broken/.age-recipients"));
    expect(await store.read("broken/x")).toBe("old\n");
  });

  it("one-line errors: missing, corrupt, not for us, no identities file", async () => {
    await expect(store.read("2fa/none")).rejects.toThrow("2fa/none is not in the store");
    writeFileSync(join(root, "2fa/corrupt.age"), "age-encryption.org/v1\n-> X25519 garbage\n");
    const e = await store.read("2fa/corrupt").catch((x) => x);
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(/^cannot decrypt 2fa\/corrupt: /);
    const stranger = join(dir, "stranger");
    spawnSync("age-keygen", ["-o", stranger]);
    const strangerRcpt = spawnSync("age-keygen", ["-y", stranger], { encoding: "utf8" }).stdout.trim();
    writeFileSync(join(root, "2fa/foreign.age"), age(["-e", "-r", strangerRcpt], "secret"));
    await expect(store.read("2fa/foreign")).rejects.toThrow(/none of the identities in .* can open it/);
    const lost = new AgeStore(root, {
      env: { ...env(), PASSAGE_IDENTITIES_FILE: join(dir, "no-such-file") },
      crypto: async () => typageCrypto,
    });
    await expect(lost.read("2fa/gitlab/bob")).rejects.toThrow(/no age identities file at/);
    rmSync(join(root, "2fa/corrupt.age"));
    rmSync(join(root, "2fa/foreign.age"));
  });

  it("uses 0600 files and 0700 new folders", async () => {
    await store.write("2fa/modes/a/b", URI);
    expect(statSync(join(root, "2fa/modes/a/b.age")).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, "2fa/modes/a")).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, "2fa/modes")).mode & 0o777).toBe(0o700);
  });

  it("moves by rename under the same recipients, re-encrypts across folders", async () => {
    await store.write("2fa/mv/one", "one\n");
    const bytes = readFileSync(join(root, "2fa/mv/one.age"));
    await store.move("2fa/mv/one", "2fa/moved/one");
    expect(readFileSync(join(root, "2fa/moved/one.age"))).toEqual(bytes);
    await store.move("2fa/moved/one", "team/one");
    expect(readFileSync(join(root, "team/one.age"))).not.toEqual(bytes);
    expect(await store.read("team/one")).toBe("one\n");
    expect(() => statSync(join(root, "2fa/moved"))).toThrow();
  });

  it("does not load the age library to list", async () => {
    let loaded = false;
    const s = new AgeStore(root, {
      env: env(),
      crypto: async () => {
        loaded = true;
        return typageCrypto;
      },
    });
    expect((await s.list("2fa")).length).toBeGreaterThan(2);
    expect(loaded).toBe(false);
  });

  it("parses key lines with comments and blanks", () => {
    expect(keyLines("# c\n\n  age1abc  \r\nAGE-SECRET-KEY-1XYZ\n")).toEqual([
      "age1abc",
      "AGE-SECRET-KEY-1XYZ",
    ]);
  });
});
