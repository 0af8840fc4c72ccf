import type { Account } from "../core/account.js";

/** One account read from an export, with what else the app knew about it. */
export interface ImportedAccount {
  account: Account;
  /** A store name the source suggests (a path such as "work/github/alice"); derived from issuer/account when absent. */
  name?: string;
  /** Recovery codes the source carried (rare: password managers' notes are not parsed for them). */
  recovery?: string[];
}

/** Something in the file that was not imported, and why, to report to the user. */
export interface Skipped {
  /** What was skipped, as the user would recognise it ("Steam (Sophia)", "entry 3"). Never a secret. */
  what: string;
  why: string;
}

/** Where one Google migration QR code sits in its export batch (several images make one export). */
export interface BatchPart {
  /** The batch_id shared by every code of one export (0 when the app left it out). */
  id: number;
  /** 0-based position of this code in the batch. */
  index: number;
  /** How many codes the batch has. */
  size: number;
}

/** The result of decoding one file. */
export interface Decoded {
  accounts: ImportedAccount[];
  skipped: Skipped[];
  /** Google migration codes only: the batch parts seen, so the caller can report missing ones across files. */
  batches?: BatchPart[];
}

/** What a decoder gets: the raw bytes, and the password when the format is encrypted. */
export interface DecodeInput {
  bytes: Uint8Array;
  /** The file name, for messages and as a detection hint only. */
  fileName: string;
  /** Present when the caller asked the user for one (see `isEncrypted`). */
  password?: string;
  /**
   * Decodes every QR code in a PNG/JPEG image to its text; injected by the caller because it
   * loads a wasm module from disk (formats stay pure). Image formats fail without it.
   */
  readQr?: (image: Uint8Array) => Promise<string[]>;
}

/**
 * An import codec. Pure: no node:* imports, no clock, no randomness. A wrong password or a
 * damaged file throws a UserError with one line naming the problem.
 */
export interface ImportFormat {
  /** The `--format` name ("aegis", "2fas", "google", ...). */
  id: string;
  /** A human name ("Aegis vault"). */
  label: string;
  /** True when the content is surely this format. `text` is the bytes as UTF-8 (null when they are not text). */
  detect(bytes: Uint8Array, text: string | null, fileName: string): boolean;
  /** True when decoding needs a password. */
  isEncrypted(bytes: Uint8Array, text: string | null): boolean;
  decode(input: DecodeInput): Promise<Decoded>;
}

/** What an encoder gets besides the accounts: the injected edges. */
export interface EncodeOptions {
  /** Present for encrypted output. */
  password?: string;
  /** Cryptographic randomness (salts, nonces, uuids). */
  randomBytes(n: number): Uint8Array;
  /** The clock, unix milliseconds (timestamps inside exports). */
  now: number;
}

/** An account the target cannot hold, or will show wrongly, and why. */
export interface Limitation {
  name: string;
  why: string;
  /** "drop": it is left out of the export; "degrade": written, but the app will get it wrong. */
  effect: "drop" | "degrade";
}

/** An export codec. Pure, like ImportFormat. */
export interface ExportFormat {
  id: string;
  label: string;
  /** Whether the output is encrypted by default (aegis, 2fas, kdbx). */
  encrypted: boolean;
  /** Whether `--plain` may turn encryption off. */
  canPlain?: boolean;
  /** Why the target cannot hold this account (or holds it wrongly), or null when it can. */
  limitation(a: Account): { why: string; effect: "drop" | "degrade" } | null;
  /**
   * Encodes the accounts (the dropped ones already removed). Returns one file, or several named
   * files (Google's QR batches) to write into a directory; `text` is what a file's QR code holds,
   * for showing it on the terminal. Without `opts.password` an encrypted format writes plain output.
   */
  encode(
    accounts: { name: string; account: Account; recovery?: string[] }[],
    opts: EncodeOptions,
  ): Promise<Uint8Array | { files: { name: string; bytes: Uint8Array; text?: string }[] }>;
}
