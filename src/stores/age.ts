import { promises as fs } from "node:fs";
import { dirname, join } from "node:path";
import { UserError } from "../core/errors.js";
import type { AgeCrypto } from "./age-crypto.js";
import { DirStore, type Env, isErr, type PromptFn, tildePath, unreadableFile } from "./fsutil.js";
import { NotForUs } from "./store.js";

/** Raised when none of our identities can open a file (it was encrypted for others only). */
class NoIdentityMatched extends NotForUs {}

/** Where passage keeps identities: PASSAGE_IDENTITIES_FILE, else ~/.passage/identities. */
export function identitiesPath(env: Env): string {
  if (env.PASSAGE_IDENTITIES_FILE) return env.PASSAGE_IDENTITIES_FILE;
  if (!env.HOME) throw new UserError("HOME is not set, so ~/.passage/identities cannot be found");
  return join(env.HOME, ".passage", "identities");
}

/** The non-comment, non-blank lines of an age identities or recipients file. */
export function keyLines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

const IDENTITY_RE = /^AGE-SECRET-KEY-(PQ-)?1[0-9A-Z]+$/;

/** Whether these bytes are an age file (binary header or armor) rather than a plain key list. */
export function isAgeFile(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart();
  return head.startsWith("age-encryption.org/v1\n") || head.startsWith("-----BEGIN AGE ENCRYPTED FILE-----");
}

/** Options for an age store. */
export interface AgeStoreOptions {
  /** Environment: HOME, PASSAGE_IDENTITIES_FILE, PASSAGE_RECIPIENTS(_FILE), GIT_*. */
  env: Env;
  /** The age implementation, created on first use so that `list` never loads it. */
  crypto: () => Promise<AgeCrypto>;
  /** Asks for the passphrase of an encrypted identities file. Without it, such a file is an error. */
  prompt?: PromptFn;
  /** Overrides the identities file (otherwise from env). */
  identitiesFile?: string;
  /** Prints a warning line (an identities file others can read); stderr by default. */
  warn?: (line: string) => void;
}

/**
 * A passage-compatible store: `NAME.age` files encrypted to the nearest `.age-recipients` up the
 * tree and decrypted with the identities file, so `passage` and `age -d -i` read what we write.
 */
export class AgeStore extends DirStore {
  readonly kind = "age" as const;
  readonly identitiesFile: string;
  private readonly cryptoFactory: () => Promise<AgeCrypto>;
  private readonly prompt?: PromptFn;
  private readonly warn: (line: string) => void;
  private cryptoP?: Promise<AgeCrypto>;
  private identitiesP?: Promise<string[]>;

  constructor(root: string, opts: AgeStoreOptions) {
    super(root, opts.env, ".age");
    this.identitiesFile = opts.identitiesFile ?? identitiesPath(opts.env);
    this.cryptoFactory = opts.crypto;
    this.prompt = opts.prompt;
    this.warn = opts.warn ?? ((line) => process.stderr.write(`sparekey: ${line}\n`));
  }

  private crypto(): Promise<AgeCrypto> {
    this.cryptoP ??= this.cryptoFactory();
    return this.cryptoP;
  }

  /** The identities (`AGE-SECRET-KEY-1…`), read once; a passphrase-protected file is asked for. */
  identities(): Promise<string[]> {
    if (!this.identitiesP) {
      const p = this.loadIdentities();
      this.identitiesP = p;
      // A failed load (wrong passphrase, missing file) may be retried by a later call.
      p.catch(() => {
        if (this.identitiesP === p) this.identitiesP = undefined;
      });
    }
    return this.identitiesP;
  }

  private async loadIdentities(): Promise<string[]> {
    const file = this.identitiesFile;
    const shown = tildePath(file, this.env.HOME);
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(file);
    } catch (e) {
      if (isErr(e, "ENOENT"))
        throw new UserError(
          `no age identities file at ${shown} (set PASSAGE_IDENTITIES_FILE, or run: sparekey init)`,
        );
      throw unreadableFile(e, shown) ?? e;
    }
    await this.checkMode(file, shown);
    if (isAgeFile(bytes)) bytes = await this.unlockIdentities(bytes, shown);
    const lines = keyLines(new TextDecoder().decode(bytes));
    const ids = lines.filter((l) => IDENTITY_RE.test(l));
    if (ids.length === 0) {
      const other =
        lines.length > 0 ? " (plugin and ssh identities are not supported; use an AGE-SECRET-KEY-1 key)" : "";
      throw new UserError(`no age identity in ${shown}${other}`);
    }
    return ids;
  }

  /** Warns, as ssh does for private keys, when other users may read the identities file. */
  private async checkMode(file: string, shown: string): Promise<void> {
    if (process.platform === "win32") return;
    const st = await fs.stat(file).catch(() => undefined);
    if (!st || (st.mode & 0o077) === 0) return;
    const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
    this.warn(
      `warning: ${shown} can be read by other users (permissions ${mode}); it holds your secret keys: run chmod 600 ${shown}`,
    );
  }

  private async unlockIdentities(bytes: Uint8Array, shown: string): Promise<Uint8Array> {
    if (!this.prompt)
      throw new UserError(`${shown} is encrypted with a passphrase, and there is no terminal to ask it`);
    const crypto = await this.crypto();
    for (let attempt = 1; ; attempt++) {
      const pass = await this.prompt(`Passphrase for ${shown}: `, { secret: true });
      if (pass === null || pass === "") throw new UserError(`no passphrase given for ${shown}`);
      try {
        return await crypto.decryptWithPassphrase(pass, bytes);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        const wrong = /no identity matched|passphrase|incorrect|mac|decrypt/i.test(msg);
        if (!wrong) throw new UserError(`cannot open ${shown}: ${msg}`);
        if (attempt >= 3) throw new UserError(`wrong passphrase for ${shown}`);
      }
    }
  }

  /**
   * The recipients for an entry, as passage finds them: PASSAGE_RECIPIENTS, PASSAGE_RECIPIENTS_FILE,
   * the nearest `.age-recipients` up to the store root, else the identities' own recipients.
   */
  async recipientsFor(name: string): Promise<{ recipients: string[]; file: string }> {
    const env = this.env;
    if (env.PASSAGE_RECIPIENTS?.trim())
      return { recipients: env.PASSAGE_RECIPIENTS.trim().split(/\s+/), file: "PASSAGE_RECIPIENTS" };
    if (env.PASSAGE_RECIPIENTS_FILE) return this.readRecipients(env.PASSAGE_RECIPIENTS_FILE);
    let dir = dirname(this.pathOf(name));
    for (;;) {
      const file = join(dir, ".age-recipients");
      try {
        return await this.readRecipients(file);
      } catch (e) {
        if (!isErr(e, "ENOENT") && !isErr(e, "ENOTDIR"))
          throw unreadableFile(e, tildePath(file, env.HOME)) ?? e;
      }
      if (dir === this.root || dirname(dir) === dir) break;
      dir = dirname(dir);
    }
    const crypto = await this.crypto();
    const ids = await this.identities();
    return {
      recipients: await Promise.all(ids.map((i) => crypto.toRecipient(i))),
      file: this.identitiesFile,
    };
  }

  private async readRecipients(file: string): Promise<{ recipients: string[]; file: string }> {
    const shown = tildePath(file, this.env.HOME);
    let text: string;
    try {
      text = await fs.readFile(file, "utf8");
    } catch (e) {
      // ENOENT goes up: recipientsFor then looks in the folder above.
      throw unreadableFile(e, shown) ?? e;
    }
    const lines = keyLines(text);
    if (lines.length === 0) throw new UserError(`${shown} lists no recipient`);
    const bad = lines.find((l) => !/^age1[0-9a-z]+$/.test(l));
    if (bad) {
      const kind = bad.split(/\s+/)[0].slice(0, 24);
      throw new UserError(`${shown}: unsupported recipient "${kind}" (sparekey supports age1… recipients)`);
    }
    return { recipients: lines, file };
  }

  protected async recipientsKey(name: string): Promise<string> {
    return (await this.recipientsFor(name)).recipients.slice().sort().join("\n");
  }

  protected async encrypt(name: string, text: string): Promise<Uint8Array> {
    const { recipients, file } = await this.recipientsFor(name);
    const crypto = await this.crypto();
    try {
      return await crypto.encrypt(recipients, new TextEncoder().encode(text));
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new UserError(
        `cannot encrypt ${name} to the recipients in ${tildePath(file, this.env.HOME)}: ${msg}`,
      );
    }
  }

  protected async decrypt(name: string, bytes: Uint8Array): Promise<string> {
    const ids = await this.identities();
    const crypto = await this.crypto();
    let plain: Uint8Array;
    try {
      plain = await crypto.decrypt(ids, bytes);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (/no identity matched|no matching identit/i.test(msg))
        throw new NoIdentityMatched(
          `cannot decrypt ${name}: none of the identities in ${tildePath(this.identitiesFile, this.env.HOME)} can open it`,
        );
      throw new UserError(`cannot decrypt ${name}: it is not a valid age file (${msg})`);
    }
    return new TextDecoder("utf-8").decode(plain);
  }

  protected isNotForUs(e: unknown): boolean {
    return e instanceof NoIdentityMatched;
  }
}
