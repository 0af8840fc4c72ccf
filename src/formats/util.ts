import { base64Decode, base64Encode } from "@bufbuild/protobuf/wire";
import { type Account, type Algorithm, makeAccount, type OtpKind } from "../core/account.js";
import { canonicalSecret } from "../core/base32.js";
import { UserError } from "../core/errors.js";
import type { Decoded, ImportedAccount, Skipped } from "./types.js";

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** The bytes as UTF-8 text without a byte-order mark, or null when they are not valid UTF-8. */
export function textOf(bytes: Uint8Array): string | null {
  try {
    return decoder.decode(bytes).replace(/^\uFEFF/, "");
  } catch {
    return null;
  }
}

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Parses JSON, or null when the text is not JSON (for detection). */
export function tryJson(text: string | null): unknown {
  if (text === null) return null;
  const t = text.trim();
  if (!t.startsWith("{") && !t.startsWith("[")) return null;
  try {
    return JSON.parse(t);
  } catch {
    return null;
  }
}

/** Parses JSON, or throws a UserError saying the file is damaged. */
export function parseJson(bytes: Uint8Array, what: string): unknown {
  const text = textOf(bytes);
  if (text === null) throw new UserError(`not a ${what} file: it is not UTF-8 text`);
  try {
    return JSON.parse(text);
  } catch {
    throw new UserError(`damaged ${what} file: it is not valid JSON`);
  }
}

/** A plain JSON object (not an array, not null). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A string field, or "" when it is missing or not a string. */
export function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** A number field (numbers or numeric strings), or undefined. */
export function num(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^\s*-?\d+\s*$/.test(v)) return Number(v);
  return undefined;
}

/** Standard base64 (padding and whitespace allowed) to bytes; a UserError naming `what` when malformed. */
export function fromBase64(s: string, what: string): Uint8Array {
  const t = s.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(t)) throw new UserError(`damaged file: ${what} is not base64`);
  try {
    return base64Decode(t);
  } catch {
    // The pattern lets through a length no base64 has ("/", "ab=c").
    throw new UserError(`damaged file: ${what} is not base64`);
  }
}

/**
 * A field value quoted for a message, only when short: a long value in a field such as "type" or
 * "algorithm" may be the secret itself in the wrong place (a damaged or shifted export).
 */
export function shownValue(v: unknown, quoted = true): string {
  const s = String(v);
  if (s.length > 8) return `(a value of ${s.length} characters)`;
  return quoted ? JSON.stringify(s) : s;
}

/** Bytes to standard padded base64. */
export function toBase64(bytes: Uint8Array): string {
  return base64Encode(bytes, "std");
}

/** Hex to bytes; a UserError naming `what` when malformed. */
export function fromHex(s: string, what: string): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(s)) throw new UserError(`damaged file: ${what} is not hex`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Bytes to lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** A random RFC 4122 version 4 UUID from injected randomness. */
export function uuid4(randomBytes: (n: number) => Uint8Array): string {
  const b = randomBytes(16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = toHex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** An entry the importer cannot use: thrown inside one entry, caught and reported as skipped. */
export class SkipEntry extends Error {
  override name = "SkipEntry";
}

/** Parses an algorithm name as apps spell it ("SHA1", "sha256", "HmacSHA512", "SHA-1"); other names skip the entry. */
export function toAlgorithm(v: unknown): Algorithm {
  if (v === undefined || v === null || v === "") return "SHA1";
  const s = String(v)
    .toUpperCase()
    .replace(/^HMAC-?/, "")
    .replace("-", "");
  if (s === "SHA1" || s === "SHA256" || s === "SHA512") return s;
  throw new SkipEntry(`unsupported algorithm ${shownValue(v)}`);
}

/** The fields an importer reads from one entry; undefined means "use the default". */
export interface RawFields {
  kind: OtpKind;
  secret: string;
  issuer?: string;
  account?: string;
  algorithm?: unknown;
  digits?: unknown;
  period?: unknown;
  counter?: unknown;
}

/**
 * Builds a checked Account from an entry's fields: the secret is made canonical, digits must be
 * 1-10, the period 1-86400 seconds, the counter a whole number. A bad field skips the entry.
 */
export function accountFrom(f: RawFields): Account {
  if (!f.secret || f.secret.trim() === "") throw new SkipEntry("it has no secret");
  let secret: string;
  try {
    secret = canonicalSecret(f.secret);
  } catch (e) {
    if (e instanceof UserError) throw new SkipEntry(e.message);
    throw e;
  }
  const digits = num(f.digits);
  const period = num(f.period);
  const counter = num(f.counter);
  if (f.kind !== "steam" && digits !== undefined && (digits < 1 || digits > 10)) {
    throw new SkipEntry(`invalid number of digits (${digits})`);
  }
  if (f.kind !== "hotp" && period !== undefined && (period < 1 || period > 86400)) {
    throw new SkipEntry(`invalid period (${period} seconds)`);
  }
  if (f.kind === "hotp" && counter !== undefined && (counter < 0 || !Number.isSafeInteger(counter))) {
    throw new SkipEntry("invalid counter");
  }
  return makeAccount({
    kind: f.kind,
    secret,
    issuer: (f.issuer ?? "").trim(),
    account: (f.account ?? "").trim(),
    algorithm: f.kind === "steam" ? "SHA1" : toAlgorithm(f.algorithm),
    digits: f.kind === "steam" ? 5 : digits,
    period: f.kind === "hotp" ? 30 : period,
    counter: f.kind === "hotp" ? (counter ?? 0) : 0,
  });
}

/**
 * Collects entries: each one runs `fn`; a SkipEntry or a UserError from inside an entry is
 * reported as skipped under `what(i)`, so that one bad entry never hides the others.
 */
export function collect<T>(
  items: readonly T[],
  what: (item: T, i: number) => string,
  fn: (item: T, i: number) => ImportedAccount | null,
): Decoded {
  const accounts: ImportedAccount[] = [];
  const skipped: Skipped[] = [];
  items.forEach((item, i) => {
    try {
      const a = fn(item, i);
      if (a) accounts.push(a);
    } catch (e) {
      if (e instanceof SkipEntry || e instanceof UserError) {
        skipped.push({ what: what(item, i), why: e.message.replace(/^invalid otpauth URI: /, "") });
      } else throw e;
    }
  });
  return { accounts, skipped };
}

/** How an entry is called in reports: "Issuer (account)", else the fallback ("entry 3"). */
export function label(issuer: unknown, account: unknown, fallback: string): string {
  const i = str(issuer).trim();
  const a = str(account).trim();
  if (i && a) return `${i} (${a})`;
  return i || a || fallback;
}

/** A wrong password (or a file damaged so that it looks like one): the caller may ask again. */
export class WrongPasswordError extends UserError {
  override name = "WrongPasswordError";
}

/** A UserError for a wrong password (the same words for every format). */
export function wrongPassword(): UserError {
  return new WrongPasswordError("wrong password, or the file is damaged");
}

/** Requires the password that the caller should have asked for. */
export function needPassword(password: string | undefined): string {
  if (password === undefined) throw new UserError("this file is encrypted: a password is needed");
  return password;
}

const RECOVERY_HEADER = "Recovery codes (sparekey):";

/** A note holding the unused recovery codes, for password managers that keep notes; null without codes. */
export function recoveryNote(codes: readonly string[] | undefined): string | null {
  return codes && codes.length > 0 ? `${RECOVERY_HEADER}\n${codes.join("\n")}` : null;
}

/** The recovery codes of a note that `recoveryNote` wrote (the lines after its header, up to a blank line). */
export function parseRecoveryNote(note: unknown): string[] {
  const lines = str(note).split(/\r?\n/);
  const at = lines.findIndex((l) => l.trim() === RECOVERY_HEADER);
  if (at < 0) return [];
  const out: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (l.trim() === "") break;
    out.push(l.trim());
  }
  return out;
}
