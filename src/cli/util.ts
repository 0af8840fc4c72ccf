import { type Account, type Algorithm, makeAccount, type OtpKind } from "../core/account.js";
import { type Entry, formatEntry, parseEntry } from "../core/entry.js";
import { UsageError, UserError } from "../core/errors.js";
import { matchQuery } from "../core/names.js";
import { NotForUs, type Store } from "../stores/store.js";
import { type Args, flag, has } from "./context.js";

/** An entry read from the store, with the key it must hold. */
export interface LoadedEntry {
  name: string;
  entry: Entry & { account: Account };
  text: string;
}

/**
 * Parses the text of a named entry. A broken key line or a missing one is a one-line UserError
 * that names the entry (never its contents).
 */
export function parseNamedEntry(name: string, text: string): Entry & { account: Account } {
  let entry: Entry;
  try {
    entry = parseEntry(text);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${name}: ${e.message}`);
    throw e;
  }
  if (!entry.account) throw new UserError(`${name}: corrupt entry: it has no otpauth:// line`);
  return entry as Entry & { account: Account };
}

/** Resolves QUERY to one name (exact, or a unique case-insensitive part). */
export async function resolveName(store: Store, query: string): Promise<string> {
  // An exact name opens directly, as with pass: one stat instead of walking the whole store
  // (~4 ms of `sparekey code` on 200 entries, issue 7). An invalid name falls through to matching.
  if (await store.exists(query).catch(() => false)) return query;
  return matchQuery(await store.list(), query);
}

/** Resolves QUERY, reads and parses the entry. */
export async function loadEntry(store: Store, query: string): Promise<LoadedEntry> {
  const name = await resolveName(store, query);
  const text = await store.read(name);
  return { name, entry: parseNamedEntry(name, text), text };
}

/**
 * Writes an entry, reads it back and compares, then commits with `message`. Nothing is reported
 * as saved unless the store gives back exactly what was written.
 */
export async function saveEntry(store: Store, name: string, entry: Entry, message: string): Promise<string> {
  const text = formatEntry(entry);
  await saveText(store, name, text, message);
  return text;
}

/** Writes raw entry text, verifies it by reading it back, and commits. */
export async function saveText(store: Store, name: string, text: string, message: string): Promise<void> {
  await store.write(name, text);
  let back: string;
  try {
    back = await store.read(name);
  } catch (e) {
    // Encrypted for recipients that do not include us (a team folder): the store's write already
    // checked all it could, so commit it rather than leave it behind uncommitted.
    if (e instanceof NotForUs) {
      await store.commit(message);
      return;
    }
    throw e;
  }
  if (back !== text) {
    throw new UserError(
      `${name}: the entry read back differs from what was written; check ${store.location}`,
    );
  }
  await store.commit(message);
}

/** Parses a whole-number flag within bounds; a bad value is a usage error. */
export function intFlag(args: Args, name: string, min: number, max: number): number | undefined {
  const v = flag(args, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  }
  return Number(v);
}

/** Parses --algorithm (SHA1, SHA256, SHA512; any case, "sha-256" too). */
export function algorithmFlag(args: Args): Algorithm | undefined {
  const v = flag(args, "algorithm");
  if (v === undefined) return undefined;
  const a = v.trim().toUpperCase().replace("-", "");
  if (a === "SHA1" || a === "SHA256" || a === "SHA512") return a;
  throw new UsageError("--algorithm must be SHA1, SHA256 or SHA512");
}

/** The parseArgs table of the flags that describe a key (add, and the guided add). */
export const ACCOUNT_OPTIONS = {
  issuer: { type: "string" },
  account: { type: "string" },
  algorithm: { type: "string" },
  digits: { type: "string" },
  period: { type: "string" },
  hotp: { type: "boolean" },
  counter: { type: "string" },
  steam: { type: "boolean" },
} as const;

/**
 * Applies the key flags (--issuer, --account, --algorithm, --digits, --period, --hotp,
 * --counter, --steam) to a secret, over the fields of `base` (an account parsed from a URI).
 */
export function accountFromFlags(args: Args, secret: string, base?: Account): Account {
  if (has(args, "hotp") && has(args, "steam")) throw new UsageError("--hotp and --steam cannot go together");
  let kind: OtpKind = base?.kind ?? "totp";
  if (has(args, "hotp")) kind = "hotp";
  if (has(args, "steam")) kind = "steam";
  const counter = intFlag(args, "counter", 0, Number.MAX_SAFE_INTEGER);
  if (counter !== undefined && kind !== "hotp") throw new UsageError("--counter needs --hotp");
  const digits = intFlag(args, "digits", 1, 10);
  const algorithm = algorithmFlag(args);
  if (kind === "steam" && (digits !== undefined || algorithm !== undefined)) {
    throw new UsageError("Steam keys are always SHA1 with 5 characters; drop --digits/--algorithm");
  }
  return makeAccount({
    kind,
    secret,
    issuer: flag(args, "issuer")?.trim() ?? base?.issuer,
    account: flag(args, "account")?.trim() ?? base?.account,
    algorithm: algorithm ?? base?.algorithm,
    digits: digits ?? (base?.kind === "steam" && kind !== "steam" ? undefined : base?.digits),
    period: intFlag(args, "period", 1, 86400) ?? base?.period,
    counter: counter ?? (base?.kind === "hotp" ? base.counter : undefined),
    extra: base?.extra,
  });
}

/** Writes a file only its owner can read: a temp file beside it (0600), fsync, rename. */
export async function writePrivateFile(path: string, data: Uint8Array | string): Promise<void> {
  const { open, rename, unlink } = await import("node:fs/promises");
  const { dirname, basename, join } = await import("node:path");
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fail = (e: unknown): UserError =>
    new UserError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(tmp, "wx", 0o600);
  } catch (e) {
    throw fail(e);
  }
  try {
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw fail(e);
  }
}

/** The non-secret fields of an entry, as `list --json` and `show --json` give them. */
export interface EntrySummary {
  name: string;
  issuer: string;
  account: string;
  kind: Account["kind"];
  algorithm: Algorithm;
  digits: number;
  period: number;
  counter?: number;
  verified: string | null;
  printed: string | null;
  recovery: { unused: number; used: number };
}

/** Summarises an entry without its secret. */
export function summarizeEntry(name: string, entry: Entry & { account: Account }): EntrySummary {
  const a = entry.account;
  const used = entry.recovery.filter((r) => r.used).length;
  return {
    name,
    issuer: a.issuer,
    account: a.account,
    kind: a.kind,
    algorithm: a.algorithm,
    digits: a.digits,
    period: a.period,
    ...(a.kind === "hotp" ? { counter: a.counter } : {}),
    verified: entry.meta.verified || null,
    printed: entry.meta.printed || null,
    recovery: { unused: entry.recovery.length - used, used },
  };
}

/** The first line of an error, for status columns and JSON (typed errors never hold secrets). */
export function errorLine(e: Error): string {
  const msg = e.message.split("\n")[0];
  return e instanceof UserError || e instanceof UsageError ? msg : `${e.name}: ${msg}`;
}
