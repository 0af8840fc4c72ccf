// gpg and age failures (issue 8): missing or expired recipient key, no agent, wrong or cancelled
// passphrase, a recipients file that cannot be read, an identities file others can read. Each
// failure is one clear line naming the cause, exit 1, and nothing written.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, renameSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, type Run } from "../e2e/harness.js";
import { ageStore, ensureBuilt, filesUnder, passStore, runTool, type StoreHome } from "./stores.js";

beforeAll(() => ensureBuilt(), 300_000);
const homes: StoreHome[] = [];
afterAll(() => {
  for (const h of homes) h.home.cleanup();
});

const KEY = "otpauth://totp/Fail:me?secret=JBSWY3DPEHPK3PXP&issuer=Fail\n";

/** Every file of the store with its hash, and git's HEAD: what "nothing written" compares. */
async function snapshot(s: StoreHome): Promise<string> {
  const files = filesUnder(s.root).map(
    (f) =>
      `${f} ${createHash("sha256")
        .update(readFileSync(join(s.root, f)))
        .digest("hex")}`,
  );
  const head = await runTool(s.home, "git", ["-C", s.root, "rev-parse", "HEAD"]);
  return `${files.join("\n")}\nHEAD ${head.stdout.trim()}`;
}

/** A failure as the user sees it: exit 1, one line on stderr naming the cause, nothing on stdout. */
function expectOneLine(r: Run, cause: RegExp) {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^sparekey: /);
  expect(lines[0]).toMatch(cause);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at |JBSWY3DP/);
}

/** Runs a failing command and checks that the store is byte for byte as it was. */
async function failsCleanly(
  s: StoreHome,
  args: string[],
  cause: RegExp,
  opts: { input?: string; env?: Record<string, string> } = {},
) {
  const before = await snapshot(s);
  expectOneLine(await s.run(args, opts), cause);
  expect(await snapshot(s)).toBe(before);
}

describe("age store failures", () => {
  let s: StoreHome;
  let ids: string;
  beforeAll(async () => {
    s = await ageStore();
    homes.push(s);
    ids = s.identities!;
    expect((await s.run(["add", "fail/me"], { input: KEY })).code).toBe(0);
  }, 60_000);

  it("an identities file others can read: a warning naming it, as ssh gives, and the command works", async () => {
    chmodSync(ids, 0o644);
    try {
      const r = await s.run(["code", "fail/me"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^\d{6}\n$/);
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /warning: ~\/\.passage\/identities can be read by other users \(permissions 0644\).*chmod 600/,
      );
    } finally {
      chmodSync(ids, 0o600);
    }
    expect((await s.run(["code", "fail/me"])).stderr).toBe("");
  });

  it("no identities file", async () => {
    renameSync(ids, `${ids}.away`);
    try {
      await failsCleanly(s, ["code", "fail/me"], /no age identities file at ~\/\.passage\/identities/);
      await failsCleanly(s, ["add", "fail/new"], /no age identities file/, { input: KEY });
    } finally {
      renameSync(`${ids}.away`, ids);
    }
  });

  it("an identities file that cannot be read (a folder in its place)", async () => {
    renameSync(ids, `${ids}.away`);
    mkdirSync(ids);
    try {
      await failsCleanly(s, ["code", "fail/me"], /cannot read ~\/\.passage\/identities: it is a folder/);
    } finally {
      rmdirSync(ids);
      renameSync(`${ids}.away`, ids);
    }
  });

  it("a recipients file that cannot be read (a folder in its place)", async () => {
    const file = join(s.root, ".age-recipients");
    renameSync(file, `${file}.away`);
    mkdirSync(file);
    try {
      await failsCleanly(
        s,
        ["add", "fail/new"],
        /cannot read ~\/\.passage\/store\/\.age-recipients: it is a folder/,
        {
          input: KEY,
        },
      );
    } finally {
      rmdirSync(file);
      renameSync(`${file}.away`, file);
    }
  });

  it("a recipients file with a recipient age cannot use", async () => {
    const file = join(s.root, ".age-recipients");
    const old = readFileSync(file);
    writeFileSync(file, "ssh-rsa AAAAB3NzaC1yc2E\n");
    try {
      await failsCleanly(s, ["add", "fail/new"], /\.age-recipients: unsupported recipient "ssh-rsa"/, {
        input: KEY,
      });
    } finally {
      writeFileSync(file, old);
    }
  });

  it("a folder encrypted only for others (a team we write for): the entry is saved and committed", async () => {
    const { execFileSync } = await import("node:child_process");
    const other = execFileSync("age-keygen", { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      .split("\n")
      .find((l) => l.startsWith("# public key: "))!
      .slice(14);
    mkdirSync(join(s.root, "2fa/others"), { recursive: true });
    writeFileSync(join(s.root, "2fa/others/.age-recipients"), `${other}\n`);
    const r = await s.run(["add", "others/key"], { input: KEY });
    expect(r.code, r.stderr).toBe(0);
    const st = await runTool(s.home, "git", [
      "-C",
      s.root,
      "status",
      "--porcelain",
      "--",
      "2fa/others/key.age",
    ]);
    expect(st.stdout).toBe("");
    // We cannot read it back: a clear line, not a crash.
    expectOneLine(await s.run(["code", "others/key"]), /none of the identities .* can open it/);
  });

  describe("a passphrase-protected identities file", () => {
    let plain: Buffer;
    beforeAll(async () => {
      plain = readFileSync(ids);
      const age = await import("age-encryption");
      const e = new age.Encrypter();
      e.setPassphrase("right horse");
      e.setScryptWorkFactor(10);
      writeFileSync(ids, await e.encrypt(plain), { mode: 0o600 });
    });
    afterAll(() => writeFileSync(ids, plain, { mode: 0o600 }));

    it("with no terminal (stdin is empty): one line naming the cause, nothing written", async () => {
      const before = await snapshot(s);
      const r = await s.run(["code", "fail/me"]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe("");
      // The question is shown (a script may pipe the passphrase), then the cause on the same line.
      expect(r.stderr).toMatch(
        /^(Passphrase for ~\/\.passage\/identities: )?sparekey: no passphrase given for ~\/\.passage\/identities\n$/,
      );
      expect(await snapshot(s)).toBe(before);
    });

    /**
     * Runs sparekey on a pseudo-terminal (script) and types each answer once its question shows,
     * as a person would (typing ahead of the prompt would be echoed by the terminal).
     */
    function onTerminal(args: string[], answers: string[]): Promise<Run> {
      return new Promise((resolve) => {
        const cmd = [BIN, ...args].map((a) => `'${a}'`).join(" ");
        const child = spawn("script", ["-qec", cmd, "/dev/null"], { env: s.home.env, cwd: s.home.dir });
        let out = "";
        let asked = 0;
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const questions = out.split("Passphrase for").length - 1;
          while (asked < questions && asked < answers.length) child.stdin.write(answers[asked++]);
        });
        child.stdin.on("error", () => {});
        const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
        child.on("close", (code) => {
          clearTimeout(timer);
          resolve({ code: code ?? -1, stdout: out.replace(/\r/g, ""), stderr: "" });
        });
      });
    }

    it("a wrong passphrase, three times: one line, exit 1, nothing written", async () => {
      const before = await snapshot(s);
      const r = await onTerminal(["code", "fail/me"], ["wrong\r", "wrong\r", "wrong\r"]);
      expect(r.code, r.stdout).toBe(1);
      expect(r.stdout.trimEnd().split("\n").at(-1)).toBe(
        "sparekey: wrong passphrase for ~/.passage/identities",
      );
      expect(r.stdout).not.toMatch(/internal error|\n\s+at /);
      // The passphrase typed is never echoed.
      expect(r.stdout).not.toMatch(/^(Passphrase for [^\n]*: )?wrong$/m);
      expect(await snapshot(s)).toBe(before);
    });

    it("a cancelled passphrase prompt (Ctrl-D): one line, exit 1, nothing written", async () => {
      const before = await snapshot(s);
      const r = await onTerminal(["code", "fail/me"], ["\u0004"]);
      expect(r.code, r.stdout).toBe(1);
      expect(r.stdout.trimEnd().split("\n").at(-1)).toMatch(
        /sparekey: no passphrase given for ~\/\.passage\/identities$/,
      );
      expect(await snapshot(s)).toBe(before);
    });

    it("the right passphrase works", async () => {
      const r = await onTerminal(["code", "fail/me"], ["right horse\r"]);
      expect(r.code, r.stdout).toBe(0);
      expect(r.stdout).toMatch(/\d{6}/);
    });
  });
});

describe("pass store failures", () => {
  let s: StoreHome;
  const q = ["--batch", "--quiet", "--pinentry-mode", "loopback"];
  const gpg = (args: string[], env: Record<string, string> = {}) => runTool(s.home, "gpg", args, { env });
  const fprOf = async (email: string) =>
    /^fpr:+([0-9A-F]+):/m.exec((await gpg(["--list-keys", "--with-colons", email])).stdout)![1];
  let expired = "";
  let guarded = "";

  beforeAll(async () => {
    s = await passStore();
    homes.push(s);
    expect((await s.run(["add", "fail/me"], { input: KEY })).code).toBe(0);
    // A key that expired in 2020, and a key with a passphrase (its own folder in the store).
    const past = ["--faked-system-time", "20200101T000000"];
    await gpg([
      ...q,
      ...past,
      "--passphrase",
      "",
      "--quick-gen-key",
      "Old <old@example.com>",
      "ed25519",
      "cert,sign",
      "1d",
    ]);
    expired = await fprOf("old@example.com");
    await gpg([...q, ...past, "--passphrase", "", "--quick-add-key", expired, "cv25519", "encr", "1d"]);
    await gpg([
      ...q,
      "--passphrase",
      "pw1",
      "--quick-gen-key",
      "Guarded <g@example.com>",
      "ed25519",
      "cert,sign",
      "never",
    ]);
    guarded = await fprOf("g@example.com");
    await gpg([...q, "--passphrase", "pw1", "--quick-add-key", guarded, "cv25519", "encr", "never"]);
    mkdirSync(join(s.root, "2fa/guarded"), { recursive: true });
    writeFileSync(join(s.root, "2fa/guarded/.gpg-id"), `${guarded}\n`);
    const env = { PASSWORD_STORE_GPG_OPTS: "--pinentry-mode loopback --passphrase pw1" };
    const r = await s.run(["add", "guarded/me"], { input: KEY, env });
    expect(r.code, r.stderr).toBe(0);
    await runTool(s.home, "gpgconf", ["--kill", "gpg-agent"]);
  }, 120_000);

  /** Runs with another .gpg-id for the whole store, then puts it back. */
  async function withGpgId(ids: string, fn: () => Promise<void>) {
    const file = join(s.root, ".gpg-id");
    const old = readFileSync(file);
    writeFileSync(file, ids);
    try {
      await fn();
    } finally {
      writeFileSync(file, old);
    }
  }

  it("a recipient whose public key is missing", async () => {
    await withGpgId("0123456789ABCDEF0123456789ABCDEF01234567\n", () =>
      failsCleanly(
        s,
        ["add", "fail/new"],
        /recipient 0123456789ABCDEF0123456789ABCDEF01234567: no public key/,
        {
          input: KEY,
        },
      ),
    );
  });

  it("a recipient whose key has expired", async () => {
    await withGpgId(`${expired}\n`, () =>
      failsCleanly(
        s,
        ["add", "fail/new"],
        new RegExp(`recipient ${expired}: its public key is unusable \\(expired`),
        {
          input: KEY,
        },
      ),
    );
  });

  it("a .gpg-id that cannot be read (a folder in its place)", async () => {
    const file = join(s.root, ".gpg-id");
    renameSync(file, `${file}.away`);
    mkdirSync(file);
    try {
      await failsCleanly(
        s,
        ["add", "fail/new"],
        /cannot read ~\/\.password-store\/\.gpg-id: it is a folder/,
        {
          input: KEY,
        },
      );
    } finally {
      rmdirSync(file);
      renameSync(`${file}.away`, file);
    }
  });

  it("no gpg-agent (and none may be started)", async () => {
    const conf = join(s.home.env.GNUPGHOME, "gpg.conf");
    await runTool(s.home, "gpgconf", ["--kill", "gpg-agent"]);
    writeFileSync(conf, "no-autostart\n");
    try {
      await failsCleanly(s, ["code", "fail/me"], /cannot decrypt 2fa\/fail\/me: gpg cannot reach gpg-agent/);
    } finally {
      writeFileSync(conf, "");
    }
  });

  it("an unusable GNUPGHOME", async () => {
    await failsCleanly(s, ["code", "fail/me"], /gpg has no keyring at \/nonexistent\/gnupg/, {
      env: { GNUPGHOME: "/nonexistent/gnupg" },
    });
  });

  it("a wrong passphrase: reading, and a write that could not be read back", async () => {
    const env = { PASSWORD_STORE_GPG_OPTS: "--pinentry-mode loopback --passphrase wrong" };
    await runTool(s.home, "gpgconf", ["--kill", "gpg-agent"]);
    await failsCleanly(s, ["code", "guarded/me"], /cannot decrypt 2fa\/guarded\/me: bad passphrase/, { env });
    await runTool(s.home, "gpgconf", ["--kill", "gpg-agent"]);
    await failsCleanly(s, ["add", "guarded/new"], /cannot decrypt 2fa\/guarded\/new: bad passphrase/, {
      env,
      input: KEY,
    });
  });

  it("a cancelled passphrase prompt", async () => {
    await runTool(s.home, "gpgconf", ["--kill", "gpg-agent"]);
    await failsCleanly(s, ["code", "guarded/me"], /the passphrase prompt was cancelled/, {
      env: { PASSWORD_STORE_GPG_OPTS: "--pinentry-mode cancel" },
    });
  });

  it("no way to ask the passphrase (no pinentry, no terminal)", async () => {
    await runTool(s.home, "gpgconf", ["--kill", "gpg-agent"]);
    await failsCleanly(s, ["code", "guarded/me"], /could not ask for the key's passphrase/, {
      env: { PASSWORD_STORE_GPG_OPTS: "--pinentry-mode error" },
    });
  });
});
