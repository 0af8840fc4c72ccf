import { gcm } from "@noble/ciphers/aes.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { pbkdf2Async } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { UserError } from "../core/errors.js";
import type { Decoded, ImportFormat } from "./types.js";
import {
  accountFrom,
  collect,
  isObject,
  label,
  needPassword,
  SkipEntry,
  shownValue,
  str,
  textOf,
  tryJson,
  utf8,
  wrongPassword,
} from "./util.js";

/**
 * PBKDF2-HMAC-SHA1. WebCrypto (a platform API, no node:* import) is used when present because it
 * is about 6x faster than the pure-JS one, which matters for Authy's one derivation per token.
 */
export async function pbkdf2Sha1(
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  length: number,
): Promise<Uint8Array> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle) {
    const key = await subtle.importKey("raw", password, "PBKDF2", false, ["deriveBits"]);
    const bits = await subtle.deriveBits(
      { name: "PBKDF2", hash: "SHA-1", salt, iterations },
      key,
      length * 8,
    );
    return new Uint8Array(bits);
  }
  return pbkdf2Async(sha1, password, salt, { c: iterations, dkLen: length });
}

/** andOTP draws its PBKDF2 iterations from 140000-160000; a value far outside means the old layout. */
const MIN_ITERATIONS = 1000;
const MAX_ITERATIONS = 2_000_000;
const NONCE = 12;
const SALT = 12;
const TAG = 16;

/** The entries of a plain andOTP backup, or null when the JSON is not one. */
function entriesOf(json: unknown): Record<string, unknown>[] | null {
  if (!Array.isArray(json) || json.length === 0) return null;
  const looksRight = (e: unknown) =>
    isObject(e) && typeof e.secret === "string" && typeof e.type === "string" && "label" in e;
  return json.every(isObject) && json.some(looksRight) ? (json as Record<string, unknown>[]) : null;
}

/**
 * Old backups have no issuer: the label is "Issuer - Account" (or "Issuer:Account"), where the
 * account part is often the QR code's whole label "Issuer:Account" again.
 */
function splitOldLabel(lbl: string): { issuer: string; account: string } {
  const dash = lbl.indexOf(" - ");
  if (dash > 0) {
    const issuer = lbl.slice(0, dash);
    const rest = lbl.slice(dash + 3);
    return { issuer, account: rest.startsWith(`${issuer}:`) ? rest.slice(issuer.length + 1) : rest };
  }
  const parts = lbl.split(":");
  if (parts.length === 2 && parts[0].trim() !== "") return { issuer: parts[0], account: parts[1] };
  return { issuer: "", account: lbl };
}

/** Decodes the plain JSON array of an andOTP backup. */
function decodeEntries(entries: Record<string, unknown>[]): Decoded {
  return collect(
    entries,
    (e, i) => label(e.issuer, e.label, `entry ${i + 1}`),
    (e) => {
      const type = str(e.type).toUpperCase() || "TOTP";
      const kind = type === "TOTP" ? "totp" : type === "HOTP" ? "hotp" : type === "STEAM" ? "steam" : null;
      if (kind === null) throw new SkipEntry(`unsupported type ${shownValue(type, false)}`);
      const names =
        typeof e.issuer === "string"
          ? { issuer: e.issuer, account: str(e.label) }
          : splitOldLabel(str(e.label));
      return {
        account: accountFrom({
          kind,
          secret: str(e.secret),
          ...names,
          algorithm: e.algorithm,
          digits: e.digits,
          period: e.period,
          counter: e.counter,
        }),
      };
    },
  );
}

/** AES-256-GCM open of `nonce | ciphertext | tag`, or null when the key is wrong. */
function openGcm(key: Uint8Array, box: Uint8Array): Uint8Array | null {
  if (box.length < NONCE + TAG) return null;
  try {
    return gcm(key, box.subarray(0, NONCE)).decrypt(box.subarray(NONCE));
  } catch {
    return null;
  }
}

/** Decrypts an andOTP `.json.aes` backup, trying the old layout (cheap) before the PBKDF2 one. */
async function decrypt(bytes: Uint8Array, password: string): Promise<Uint8Array> {
  const pw = utf8(password);
  const old = openGcm(sha256(pw), bytes);
  if (old) return old;
  if (bytes.length >= 4 + SALT + NONCE + TAG) {
    const iterations = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
    if (iterations >= MIN_ITERATIONS && iterations <= MAX_ITERATIONS) {
      const key = await pbkdf2Sha1(pw, bytes.slice(4, 4 + SALT), iterations, 32);
      const plain = openGcm(key, bytes.subarray(4 + SALT));
      if (plain) return plain;
    }
  }
  throw wrongPassword();
}

/** andOTP backup: the plain JSON array, or the AES-GCM encrypted `.json.aes` file (new and old layouts). */
export const andotpImport: ImportFormat = {
  id: "andotp",
  label: "andOTP backup",
  detect(_bytes, text, fileName) {
    if (entriesOf(tryJson(text)) !== null) return true;
    // An encrypted backup is random bytes: only its name can tell.
    return text === null && /\.json\.aes$|andotp/i.test(fileName);
  },
  isEncrypted(_bytes, text) {
    return entriesOf(tryJson(text)) === null;
  },
  async decode({ bytes, password }) {
    const text = textOf(bytes);
    let entries = entriesOf(tryJson(text));
    if (entries === null) {
      if (text !== null && /^\s*[[{]/.test(text)) {
        throw new UserError("not an andOTP backup: the JSON is not a list of andOTP entries");
      }
      const plain = textOf(await decrypt(bytes, needPassword(password)));
      const json = tryJson(plain);
      if (Array.isArray(json) && json.length === 0) return { accounts: [], skipped: [] };
      entries = entriesOf(json);
      if (entries === null)
        throw new UserError("damaged andOTP backup: the decrypted content is not a list of entries");
    }
    return decodeEntries(entries);
  },
};
