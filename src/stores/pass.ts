import { promises as fs, readlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { UserError } from "../core/errors.js";
import { DirStore, type Env, isErr, runTool, tildePath, unreadableFile } from "./fsutil.js";
import { NotForUs, readEach } from "./store.js";

/** The gpg program; `gpg` as on every current system (pass picks gpg2 only where gpg is 1.x). */
const GPG = "gpg";

/** Raised when gpg cannot decrypt because we hold none of the secret keys. */
class NoSecretKey extends NotForUs {}

/** The `-r` recipients in a `.gpg-id` file: one per line, `#` comments, blank lines ignored. */
export function parseGpgId(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.replace(/#.*$/, "").trim())
    .filter((l) => l !== "");
}

/** Splits PASSWORD_STORE_GPG_OPTS on whitespace, as pass's unquoted expansion does. */
function gpgOpts(env: Env): string[] {
  return (env.PASSWORD_STORE_GPG_OPTS ?? "").split(/\s+/).filter((s) => s !== "");
}

/** The first meaningful line gpg printed, without the `gpg: ` prefix. */
function gpgLine(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.replace(/^gpg: /, "").trim())
    .filter((l) => l !== "" && !/^(encrypted with|WARNING: |\[GNUPG:\])/.test(l) && !/^\s*"/.test(l));
  return lines.find((l) => /failed|error|cannot|can't|no /i.test(l)) ?? lines[0] ?? "unknown error";
}

/** Turns gpg's stderr into one line a user can act on. */
export function explainGpg(
  action: "decrypt" | "encrypt",
  what: string,
  stderr: string,
  code: number,
): UserError {
  if (code === 127)
    return new UserError(`cannot ${action} ${what}: gpg is not installed (the pass store needs it)`);
  // The status lines (--status-fd) apart, so that "PINENTRY_LAUNCHED" is not taken for a message.
  const s = stderr.replace(/^\[GNUPG:\].*$/gm, "");
  // gpg ends every failed decryption with "No secret key", also when the key is there but its
  // passphrase was wrong or could not be asked: the status line gives the real cause, as a
  // libgpg-error code that does not depend on the language.
  const failed = /^\[GNUPG:\] ERROR pkdecrypt_failed (\d+)/m.exec(stderr);
  const reason = failed ? Number(failed[1]) & 0xffff : undefined;
  if (reason === 11) return new UserError(`cannot ${action} ${what}: bad passphrase`);
  if (reason === 99) return new UserError(`cannot ${action} ${what}: the passphrase prompt was cancelled`);
  if (reason === 85 || reason === 32870)
    return new UserError(
      `cannot ${action} ${what}: gpg could not ask for the key's passphrase (no pinentry; is GPG_TTY set?)`,
    );
  const keyring = /keyblock resource '([^']+)': No such file or directory/.exec(s);
  if (keyring)
    return new UserError(`cannot ${action} ${what}: gpg has no keyring at ${keyring[1]} (check GNUPGHOME)`);
  if (/can't connect to the agent|no gpg-agent running|gpg-agent.*not available|connection to agent/i.test(s))
    return new UserError(
      `cannot ${action} ${what}: gpg cannot reach gpg-agent (try: gpgconf --launch gpg-agent)`,
    );
  if (/No secret key/i.test(s) && reason === undefined)
    return new NoSecretKey(`cannot decrypt ${what}: none of its keys is in your gpg keyring (No secret key)`);
  if (/Operation cancelled|Cancelled by user/i.test(s))
    return new UserError(`cannot ${action} ${what}: the passphrase prompt was cancelled`);
  if (/Bad passphrase/i.test(s)) return new UserError(`cannot ${action} ${what}: bad passphrase`);
  if (/No pinentry|Inappropriate ioctl|pinentry/i.test(s))
    return new UserError(
      `cannot ${action} ${what}: gpg could not ask for the key's passphrase (no pinentry; is GPG_TTY set?)`,
    );
  if (action === "encrypt") {
    const bad = /([^\s:"]+): (skipped|encryption failed): (.+)/.exec(s.replace(/^gpg: /gm, ""));
    if (bad) {
      const why = /No name|No public key/i.test(bad[3])
        ? "no public key for it in your keyring"
        : /unusable|untrusted|no assurance/i.test(bad[3])
          ? "its public key is unusable (expired, revoked or not trusted)"
          : bad[3].trim();
      return new UserError(
        `cannot encrypt ${what}: .gpg-id recipient ${bad[1]}: ${why} (see: gpg --list-keys)`,
      );
    }
    if (/No public key|unusable public key|not found|no valid addressees/i.test(s))
      return new UserError(
        `cannot encrypt ${what}: a recipient in .gpg-id has no usable public key (check gpg --list-keys)`,
      );
  }
  if (/no valid OpenPGP data|invalid packet|unexpected data|decrypt_message failed|packet.*invalid/i.test(s))
    return new UserError(`cannot decrypt ${what}: it is not a valid gpg file`);
  return new UserError(`cannot ${action} ${what}: gpg: ${gpgLine(s)}`);
}

/** Options for a pass store. */
export interface PassStoreOptions {
  /** The environment for gpg and git (GNUPGHOME, PASSWORD_STORE_GPG_OPTS, PASSWORD_STORE_KEY, GIT_*). */
  env: Env;
}

/**
 * A password-store (`pass`) directory: `NAME.gpg` files encrypted by the gpg binary to the
 * nearest `.gpg-id` up the tree, so pass, pass-otp and gopass read what we write and vice versa.
 */
export class PassStore extends DirStore {
  readonly kind = "pass" as const;

  private gpgEnvCache?: Env;
  private readonly verified = new Set<string>();

  constructor(root: string, opts: PassStoreOptions) {
    super(root, opts.env, ".gpg");
  }

  /**
   * The environment for gpg, with GPG_TTY set as pass sets it: pinentry-curses needs to know the
   * terminal, and our gpg child's stdin is a pipe.
   */
  private gpgEnv(): Env {
    if (this.gpgEnvCache) return this.gpgEnvCache;
    let env = this.env;
    if (!env.GPG_TTY) {
      for (const fd of [0, 2, 1]) {
        try {
          // A terminal, judged from /proc rather than node:tty (~5 ms of Bun start-up, issue 7).
          const tty = readlinkSync(`/proc/self/fd/${fd}`);
          if (!/^\/dev\/(pts\/|tty)/.test(tty)) continue;
          env = { ...env, GPG_TTY: tty };
          break;
        } catch {
          // No /proc (macOS): gpg-agent falls back to its own idea of the terminal.
        }
      }
    }
    this.gpgEnvCache = env;
    return env;
  }

  /**
   * With PASSWORD_STORE_SIGNING_KEY set, a `.gpg-id` counts only with a valid detached signature
   * by one of those keys (`.gpg-id.sig`), as pass checks it: a tampered recipient list must not
   * receive new secrets.
   */
  private async verifyGpgId(file: string): Promise<void> {
    const keys = (this.env.PASSWORD_STORE_SIGNING_KEY ?? "")
      .split(/\s+/)
      .filter((k) => /^[A-F0-9]{40}$/.test(k));
    if ((this.env.PASSWORD_STORE_SIGNING_KEY ?? "").trim() === "" || this.verified.has(file)) return;
    const shown = tildePath(file, this.env.HOME);
    try {
      await fs.access(`${file}.sig`);
    } catch {
      throw new UserError(`${shown}.sig does not exist (PASSWORD_STORE_SIGNING_KEY is set)`);
    }
    const r = await runTool(GPG, [...gpgOpts(this.env), "--verify", "--status-fd=1", `${file}.sig`, file], {
      env: this.gpgEnv(),
    });
    const fprs = [
      ...r.stdout.toString("utf8").matchAll(/^\[GNUPG:\] VALIDSIG ([A-F0-9]{40}) .* ([A-F0-9]{40})$/gm),
    ].flatMap((m) => [m[1], m[2]]);
    if (!keys.some((k) => fprs.includes(k))) throw new UserError(`the signature of ${shown} is invalid`);
    this.verified.add(file);
  }

  /** The recipients for an entry: PASSWORD_STORE_KEY, else the nearest `.gpg-id` (as pass does). */
  async recipientsFor(name: string): Promise<{ ids: string[]; file: string }> {
    if (this.env.PASSWORD_STORE_KEY?.trim()) {
      return { ids: this.env.PASSWORD_STORE_KEY.trim().split(/\s+/), file: "PASSWORD_STORE_KEY" };
    }
    let dir = dirname(this.pathOf(name));
    for (;;) {
      const file = join(dir, ".gpg-id");
      try {
        const ids = parseGpgId(await fs.readFile(file, "utf8"));
        if (ids.length === 0) throw new UserError(`${tildePath(file, this.env.HOME)} lists no gpg key`);
        await this.verifyGpgId(file);
        return { ids, file };
      } catch (e) {
        if (!isErr(e, "ENOENT") && !isErr(e, "ENOTDIR"))
          throw unreadableFile(e, tildePath(file, this.env.HOME)) ?? e;
      }
      if (dir === this.root || dirname(dir) === dir) break;
      dir = dirname(dir);
    }
    throw new UserError(`no .gpg-id in ${this.location} for ${name}; run: sparekey init --gpg KEYID`);
  }

  protected async recipientsKey(name: string): Promise<string> {
    return (await this.recipientsFor(name)).ids.slice().sort().join("\n");
  }

  protected async encrypt(name: string, text: string): Promise<Uint8Array> {
    const { ids } = await this.recipientsFor(name);
    const args = [
      ...gpgOpts(this.env),
      "--quiet",
      "--yes",
      "--batch",
      "--compress-algo=none",
      "--no-encrypt-to",
      "--encrypt",
      ...ids.flatMap((id) => ["--recipient", id]),
      "--output",
      "-",
    ];
    // The plaintext goes in on stdin only: it never appears in argv or in a file.
    const r = await runTool(GPG, args, { env: this.gpgEnv(), input: text });
    if (r.code !== 0 || r.stdout.length === 0) throw explainGpg("encrypt", name, r.stderr, r.code);
    return r.stdout;
  }

  protected async decrypt(name: string, bytes: Uint8Array): Promise<string> {
    // Not --quiet: it also silences the status line that tells a bad passphrase from a missing key.
    const args = [...gpgOpts(this.env), "--yes", "--batch", "--status-fd=2", "--decrypt"];
    const r = await runTool(GPG, args, { env: this.gpgEnv(), input: bytes });
    if (r.code !== 0) throw explainGpg("decrypt", name, r.stderr, r.code);
    return r.stdout.toString("utf8");
  }

  /**
   * Decrypts many entries (readMany): through gpg-agent in this process where gpg-agent.ts
   * understands the file, else one gpg per entry as `read` does. PASSWORD_STORE_GPG_OPTS (which
   * may name another home or keyring) keeps every entry on the gpg path.
   */
  async readAll(names: readonly string[]): Promise<Map<string, { text: string } | { error: Error }>> {
    if (names.length < 3 || gpgOpts(this.env).length > 0) return readEach(this, names);
    const { AgentDecryptor } = await import("./gpg-agent.js");
    const agent = await AgentDecryptor.open(this.gpgEnv(), runTool).catch(() => undefined);
    if (!agent) return readEach(this, names);
    const got = new Map<string, { text: string } | { error: Error }>();
    const rest: string[] = [];
    try {
      // A file that cannot be read is left to `read`, which explains why.
      const files = await Promise.all(names.map((n) => this.readBytes(n)));
      let hits = 0;
      let misses = 0;
      let warming: Promise<unknown> | undefined;
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < names.length) {
          const i = next++;
          const name = names[i];
          const bytes = files[i];
          await warming;
          // Three misses before any hit: this store is not for the agent path (armor, RSA, ...).
          const plain =
            bytes && (hits > 0 || misses < 3) ? await agent.decrypt(bytes).catch(() => undefined) : undefined;
          if (plain) {
            hits++;
            got.set(name, { text: Buffer.from(plain).toString("utf8") });
          } else if (++misses === 1 && hits === 0 && bytes) {
            // The first miss goes through gpg while the others wait: it may ask for the key's
            // passphrase, which the agent then caches for the entries that follow.
            warming = readEach(this, [name]).then((r) => got.set(name, r.get(name)!));
            await warming;
          } else rest.push(name);
        }
      };
      await Promise.all(Array.from({ length: agent.width }, worker));
    } finally {
      agent.close();
    }
    for (const [n, r] of await readEach(this, rest)) got.set(n, r);
    return new Map(names.map((n) => [n, got.get(n)!]));
  }

  private async readBytes(name: string): Promise<Buffer | undefined> {
    try {
      return await fs.readFile(this.pathOf(name));
    } catch {
      return undefined;
    }
  }

  protected isNotForUs(e: unknown): boolean {
    return e instanceof NoSecretKey;
  }
}
