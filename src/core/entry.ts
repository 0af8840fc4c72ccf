import type { Account } from "./account.js";
import { UserError } from "./errors.js";
import { formatUri, parseUri } from "./uri.js";

/** One recovery code; `used` is the YYYY-MM-DD it was crossed off. */
export interface RecoveryCode {
  code: string;
  used?: string;
}

/** Single-valued `key: value` lines that sparekey owns, in the order it writes them. */
export const META_KEYS = ["verified", "printed"] as const;
export type MetaKey = (typeof META_KEYS)[number];

/**
 * A store entry: the key, the recovery codes and sparekey's metadata, plus every line of the
 * original text so that lines sparekey does not own survive a rewrite byte for byte.
 */
export interface Entry {
  account: Account | null;
  recovery: RecoveryCode[];
  meta: Partial<Record<MetaKey, string>>;
  /** The original lines. */
  lines: string[];
  /** Index in `lines` of the key (the first otpauth:// line), or -1. */
  keyIndex: number;
  /** Whether the original text ended with a newline. */
  finalNewline: boolean;
}

const OWN_LINE = new RegExp(`^(recovery|${META_KEYS.join("|")}):[ \\t]?(.*)$`);
const USED = /^(.*?)\s+used\s+(\d{4}-\d{2}-\d{2})\s*$/;

/** Whether a line is one that sparekey writes (and therefore regenerates). */
function isOwnLine(line: string): boolean {
  return OWN_LINE.test(line);
}

/**
 * Parses entry text. The key is the first line starting with `otpauth://` (pass-otp's rule).
 * A key line that cannot be parsed is an error naming the problem; an entry with no key line
 * parses with `account: null`.
 */
export function parseEntry(text: string): Entry {
  const finalNewline = text.endsWith("\n");
  const body = finalNewline ? text.slice(0, -1) : text;
  // "\n" is one empty line (kept on a rewrite); only "" has no lines.
  const lines = body === "" && !finalNewline ? [] : body.split("\n");
  const keyIndex = lines.findIndex((l) => l.startsWith("otpauth://"));
  let account: Account | null = null;
  if (keyIndex >= 0) {
    try {
      account = parseUri(lines[keyIndex]);
    } catch (e) {
      if (e instanceof UserError) throw new UserError(`corrupt entry: ${e.message}`);
      throw e;
    }
  }
  const recovery: RecoveryCode[] = [];
  const meta: Partial<Record<MetaKey, string>> = {};
  for (const line of lines) {
    const m = OWN_LINE.exec(line);
    if (!m) continue;
    const value = m[2].trim();
    if (m[1] === "recovery") {
      if (value === "") continue;
      const used = USED.exec(value);
      recovery.push(used ? { code: used[1], used: used[2] } : { code: value });
    } else {
      meta[m[1] as MetaKey] = value;
    }
  }
  return { account, recovery, meta, lines, keyIndex, finalNewline };
}

/** Creates the entry for a new account. */
export function newEntry(account: Account): Entry {
  return { account, recovery: [], meta: {}, lines: [], keyIndex: -1, finalNewline: true };
}

/** The lines sparekey owns, regenerated from the entry's fields. */
function ownLines(e: Entry): string[] {
  const out = e.recovery.map((r) => `recovery: ${r.code}${r.used ? ` used ${r.used}` : ""}`);
  for (const k of META_KEYS) {
    const v = e.meta[k];
    if (v !== undefined && v !== "") out.push(`${k}: ${v}`);
  }
  return out;
}

/** Whether the original key line can be kept as it is: it still says the same, and is not torn. */
function keepKeyLine(original: string, account: Account): boolean {
  if (/counter=\d+counter=/i.test(original)) return false;
  try {
    return formatUri(parseUri(original)) === formatUri(account);
  } catch {
    return false;
  }
}

/**
 * Formats an entry back to text. Lines sparekey does not own stay in their places; its own lines
 * are written as one block where the first of them stood (or right after the key).
 */
export function formatEntry(e: Entry): string {
  const own = ownLines(e);
  const out: string[] = [];
  let placed = false;
  let keyAt = -1;
  if (e.keyIndex < 0 && e.account) {
    keyAt = out.push(formatUri(e.account)) - 1;
  }
  e.lines.forEach((line, i) => {
    if (i === e.keyIndex) {
      if (e.account) keyAt = out.push(keepKeyLine(line, e.account) ? line : formatUri(e.account)) - 1;
      return;
    }
    if (isOwnLine(line)) {
      if (!placed) out.push(...own);
      placed = true;
      return;
    }
    out.push(line);
  });
  if (!placed && own.length > 0) out.splice(keyAt >= 0 ? keyAt + 1 : out.length, 0, ...own);
  if (out.length === 0) return "";
  return `${out.join("\n")}${e.finalNewline ? "\n" : ""}`;
}

/** Returns the entry with its key replaced (the counter advanced, the label edited). */
export function withAccount(e: Entry, account: Account): Entry {
  return { ...e, account };
}

/** Returns the entry with one metadata field set (or removed, with undefined). */
export function withMeta(e: Entry, key: MetaKey, value: string | undefined): Entry {
  const meta = { ...e.meta };
  if (value === undefined) delete meta[key];
  else meta[key] = value;
  return { ...e, meta };
}

/** Adds recovery codes, ignoring ones already present (used or not). */
export function addRecoveryCodes(e: Entry, codes: string[]): { entry: Entry; added: string[] } {
  const seen = new Set(e.recovery.map((r) => r.code));
  const added: string[] = [];
  for (const c of codes) {
    if (seen.has(c)) continue;
    seen.add(c);
    added.push(c);
  }
  return { entry: { ...e, recovery: [...e.recovery, ...added.map((code) => ({ code }))] }, added };
}

/** The recovery codes not yet used. */
export function unusedCodes(e: Entry): RecoveryCode[] {
  return e.recovery.filter((r) => !r.used);
}
