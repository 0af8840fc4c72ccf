import { cbc } from "@noble/ciphers/aes.js";
import { UserError } from "../core/errors.js";
import { LIMITS } from "../core/limits.js";
import { pbkdf2Sha1 } from "./andotp.js";
import type { ImportedAccount, ImportFormat, Skipped } from "./types.js";
import {
  accountFrom,
  fromBase64,
  fromHex,
  isObject,
  label,
  needPassword,
  num,
  parseJson,
  SkipEntry,
  str,
  textOf,
  tryJson,
  utf8,
  wrongPassword,
} from "./util.js";

/** Authy's tokens before 2019 carry no iteration count; they used 1000. */
const DEFAULT_ITERATIONS = 1000;
/** A damaged or hostile count must not keep the CPU busy for minutes. */
const MAX_ITERATIONS = LIMITS.pbkdf2Iterations;

type Token = Record<string, unknown>;

/**
 * The tokens of a captured `authenticator_tokens` response (or the bare list), and of the
 * `decrypted_authenticator_tokens` file that the community decrypt scripts write.
 */
function tokensOf(json: unknown): Token[] | null {
  const list = isObject(json)
    ? Array.isArray(json.authenticator_tokens)
      ? json.authenticator_tokens
      : json.decrypted_authenticator_tokens
    : json;
  if (!Array.isArray(list)) return null;
  const looksRight = (t: unknown) =>
    isObject(t) && (typeof t.encrypted_seed === "string" || typeof t.decrypted_seed === "string");
  if (list.length === 0) return isObject(json) && Array.isArray(json.authenticator_tokens) ? [] : null;
  return list.every(isObject) && list.some(looksRight) ? (list as Token[]) : null;
}

function needsPassword(t: Token): boolean {
  return typeof t.decrypted_seed !== "string" && typeof t.encrypted_seed === "string";
}

/** Issuer and account: the `issuer` field, else the part before ":" of the original label. */
function namesOf(t: Token): { issuer: string; account: string } {
  const original = str(t.original_name).trim() || str(t.name).trim();
  const colon = original.indexOf(":");
  const labelIssuer = colon > 0 ? original.slice(0, colon).trim() : "";
  const labelAccount = colon > 0 ? original.slice(colon + 1).trim() : original;
  return { issuer: str(t.issuer).trim() || labelIssuer, account: labelAccount };
}

/** PKCS#7-padded AES-256-CBC; null when the padding (and so the key) is wrong. */
function openCbc(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array | null {
  try {
    return cbc(key, iv).decrypt(data);
  } catch {
    return null;
  }
}

/**
 * Decrypts one token's seed: key = PBKDF2-HMAC-SHA1(backup password, salt string, iterations, 32),
 * AES-256-CBC with `unique_iv` (hex) or 16 zero bytes. The plaintext is the base32 secret.
 * Returns null when this password does not open it.
 */
async function decryptSeed(
  t: Token,
  password: string,
  keys: Map<string, Promise<Uint8Array>>,
): Promise<string | null> {
  const iterations =
    t.key_derivation_iterations == null ? DEFAULT_ITERATIONS : num(t.key_derivation_iterations);
  if (iterations === undefined || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new SkipEntry("its key_derivation_iterations is not a sensible number");
  }
  const salt = str(t.salt);
  let data: Uint8Array;
  let iv: Uint8Array;
  try {
    data = fromBase64(str(t.encrypted_seed), "encrypted_seed");
    iv =
      typeof t.unique_iv === "string" && t.unique_iv !== ""
        ? fromHex(t.unique_iv, "unique_iv")
        : new Uint8Array(16);
  } catch (e) {
    if (e instanceof UserError) throw new SkipEntry(e.message.replace(/^damaged file: /, ""));
    throw e;
  }
  if (iv.length !== 16) throw new SkipEntry("its unique_iv is not 16 bytes");
  if (data.length === 0 || data.length % 16 !== 0)
    throw new SkipEntry("its encrypted_seed is not whole AES blocks");
  // The same salt and count give the same key: derive each once.
  const id = `${iterations}:${salt}`;
  let key = keys.get(id);
  if (!key) {
    key = pbkdf2Sha1(utf8(password), utf8(salt), iterations, 32);
    keys.set(id, key);
  }
  const plain = openCbc(await key, iv, data);
  const text = plain && textOf(plain);
  if (!text || !/^[A-Za-z2-7=\s-]+$/.test(text)) return null;
  return text;
}

/** Authy tokens captured from the iOS app's `authenticator_tokens` response (see docs/authy.md). */
export const authyImport: ImportFormat = {
  id: "authy",
  label: "Authy tokens (captured authenticator_tokens)",
  detect(_bytes, text) {
    return tokensOf(tryJson(text)) !== null;
  },
  isEncrypted(_bytes, text) {
    return (tokensOf(tryJson(text)) ?? []).some(needsPassword);
  },
  async decode({ bytes, password }) {
    const tokens = tokensOf(parseJson(bytes, "Authy tokens"));
    if (tokens === null) throw new UserError("not an Authy tokens file: it has no authenticator_tokens list");
    const accounts: ImportedAccount[] = [];
    const skipped: Skipped[] = [];
    const keys = new Map<string, Promise<Uint8Array>>();
    let tried = 0;
    let opened = 0;
    const notOpened: Skipped[] = [];
    for (const [i, t] of tokens.entries()) {
      const names = namesOf(t);
      const what = label(names.issuer, names.account, `token ${i + 1}`);
      try {
        let secret = str(t.decrypted_seed);
        if (needsPassword(t)) {
          tried++;
          const seed = await decryptSeed(t, needPassword(password), keys);
          if (seed === null) {
            notOpened.push({
              what,
              why: "the backup password does not decrypt it (set before a password change?)",
            });
            continue;
          }
          opened++;
          secret = seed;
        }
        // Authy shows third-party tokens as SHA-1 with a 30-second period; only the digits vary.
        accounts.push({ account: accountFrom({ kind: "totp", secret, ...names, digits: t.digits ?? 6 }) });
      } catch (e) {
        if (e instanceof SkipEntry) skipped.push({ what, why: e.message });
        else if (e instanceof UserError && e.message.startsWith("this file is encrypted")) throw e;
        else if (e instanceof UserError) skipped.push({ what, why: e.message });
        else throw e;
      }
    }
    if (tried > 0 && opened === 0) throw wrongPassword();
    return { accounts, skipped: [...skipped, ...notOpened] };
  },
};
