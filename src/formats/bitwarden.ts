import { cbc } from "@noble/ciphers/aes.js";
import { expand } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { pbkdf2Async } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { type Account, makeAccount } from "../core/account.js";
import { canonicalSecret } from "../core/base32.js";
import { UserError } from "../core/errors.js";
import { LIMITS } from "../core/limits.js";
import { formatUri, parseUri } from "../core/uri.js";
import type { Decoded, ExportFormat, ImportedAccount, ImportFormat } from "./types.js";
import {
  collect,
  fromBase64,
  isObject,
  needPassword,
  num,
  parseJson,
  parseRecoveryNote,
  recoveryNote,
  SkipEntry,
  str,
  textOf,
  tryJson,
  utf8,
  uuid4,
  wrongPassword,
} from "./util.js";

/**
 * Reads what a password manager keeps in its TOTP field: an otpauth URI, `steam://SECRET`, or a
 * bare base32 secret (SHA1, 6 digits, 30 s). The item's name and username fill in the issuer and
 * account the field leaves out; a name that only repeats the account is not taken as the issuer.
 */
export function accountFromTotpField(
  totp: string,
  itemName: string,
  username: string,
  issuerHint = "",
): Account {
  const t = totp.trim();
  let a: Account;
  if (/^(otpauth|steam):\/\//i.test(t)) {
    a = parseUri(t);
  } else {
    try {
      a = makeAccount({ secret: canonicalSecret(t) });
    } catch (e) {
      if (e instanceof UserError) throw new SkipEntry(`its TOTP field is neither a URI nor a base32 secret`);
      throw e;
    }
  }
  const account = a.account || username.trim();
  const name = itemName.trim();
  const issuer = a.issuer || issuerHint.trim() || (name !== account ? name : "");
  return { ...a, issuer, account };
}

/** Bitwarden's own JSON shapes: the password manager export and the Authenticator app's export. */
function isExport(v: unknown): v is Record<string, unknown> {
  if (!isObject(v)) return false;
  if (v.encrypted === true && v.passwordProtected === true && typeof v.data === "string") return true;
  return typeof v.encrypted === "boolean" && Array.isArray(v.items);
}

function decodeItems(items: unknown[]): Decoded {
  const withKey = items.filter(
    (it) =>
      isObject(it) && isObject(it.login) && typeof it.login.totp === "string" && it.login.totp.trim() !== "",
  ) as Record<string, unknown>[];
  const out = collect(
    withKey,
    (it, i) => str(it.name).trim() || `item ${i + 1}`,
    (it): ImportedAccount => {
      const login = it.login as Record<string, unknown>;
      // The Authenticator app may keep the issuer beside a bare secret.
      const account = accountFromTotpField(
        str(login.totp),
        str(it.name),
        str(login.username),
        str(login.issuer),
      );
      const recovery = parseRecoveryNote(it.notes);
      return recovery.length > 0 ? { account, recovery } : { account };
    },
  );
  const without = items.length - withKey.length;
  if (without > 0) {
    out.skipped.push({
      what: without === 1 ? "1 item" : `${without} items`,
      why: "no 2FA key (TOTP field empty)",
    });
  }
  return out;
}

/** Decrypts a Bitwarden "2.iv|ct|mac" string (AES-256-CBC, HMAC-SHA256 over iv‖ct); null when the MAC fails. */
function openEncString(s: string, encKey: Uint8Array, macKey: Uint8Array): Uint8Array | null {
  const m = /^2\.([^|]+)\|([^|]+)\|([^|]+)$/.exec(s.trim());
  if (!m)
    throw new UserError("damaged Bitwarden export: an encrypted field is not in the 2.iv|data|mac form");
  const iv = fromBase64(m[1], "an IV");
  const ct = fromBase64(m[2], "encrypted data");
  const mac = fromBase64(m[3], "a MAC");
  const want = hmac(sha256, macKey, new Uint8Array([...iv, ...ct]));
  if (want.length !== mac.length) return null;
  let diff = 0;
  for (let i = 0; i < want.length; i++) diff |= want[i] ^ mac[i];
  if (diff !== 0) return null;
  try {
    return cbc(encKey, iv).decrypt(ct);
  } catch {
    return null;
  }
}

/** The export key from the password, as Bitwarden derives it (PBKDF2-SHA256 or Argon2id). */
async function deriveKey(v: Record<string, unknown>, password: string): Promise<Uint8Array> {
  const salt = utf8(str(v.salt));
  const type = num(v.kdfType) ?? 0;
  const iterations = num(v.kdfIterations);
  if (type === 0) {
    if (iterations === undefined || iterations < 1 || iterations > LIMITS.pbkdf2Iterations) {
      throw new UserError("damaged Bitwarden export: invalid PBKDF2 iterations");
    }
    return pbkdf2Async(sha256, utf8(password), salt, { c: iterations, dkLen: 32 });
  }
  if (type === 1) {
    const memory = num(v.kdfMemory);
    const parallelism = num(v.kdfParallelism);
    if (
      iterations === undefined ||
      memory === undefined ||
      parallelism === undefined ||
      iterations < 1 ||
      iterations > LIMITS.argon2Passes ||
      memory < 1 ||
      memory * 1024 > LIMITS.argon2MemoryKiB ||
      memory * 1024 * iterations > LIMITS.argon2Work ||
      parallelism < 1 ||
      parallelism > LIMITS.argon2Parallelism
    ) {
      throw new UserError("damaged Bitwarden export: invalid Argon2id parameters");
    }
    const { argon2id } = await import("hash-wasm");
    return argon2id({
      password,
      // Bitwarden hashes the salt before Argon2id.
      salt: sha256(salt),
      iterations,
      memorySize: memory * 1024,
      parallelism,
      hashLength: 32,
      outputType: "binary",
    });
  }
  throw new UserError(`unsupported Bitwarden key derivation (kdfType ${type})`);
}

/** Opens a password-protected export and returns the plain export inside. */
async function decryptExport(v: Record<string, unknown>, password: string): Promise<Record<string, unknown>> {
  const key = await deriveKey(v, password);
  const encKey = expand(sha256, key, utf8("enc"), 32);
  const macKey = expand(sha256, key, utf8("mac"), 32);
  const check = str(v.encKeyValidation_DO_NOT_EDIT);
  if (check !== "" && openEncString(check, encKey, macKey) === null) throw wrongPassword();
  const plain = openEncString(str(v.data), encKey, macKey);
  if (plain === null) throw wrongPassword();
  const inner = tryJson(textOf(plain));
  if (!isExport(inner)) throw new UserError("damaged Bitwarden export: the decrypted data is not an export");
  return inner;
}

/** The CSV header of a Bitwarden export: it names login_totp. */
function csvHeader(text: string | null): string[] | null {
  if (text === null) return null;
  const first = text.split(/\r?\n/, 1)[0].toLowerCase();
  const cols = first.split(",").map((c) => c.trim().replace(/^"|"$/g, ""));
  return cols.includes("login_totp") ? cols : null;
}

async function decodeCsv(text: string): Promise<Decoded> {
  const { parse } = await import("csv-parse/sync");
  let rows: string[][];
  try {
    rows = parse(text, { relax_column_count: true, skip_empty_lines: true, bom: true }) as string[][];
  } catch {
    throw new UserError("damaged Bitwarden CSV: it is not valid CSV");
  }
  const header = rows[0].map((c) => c.trim().toLowerCase());
  const col = (name: string) => header.indexOf(name);
  const [iName, iUser, iTotp, iNotes] = [col("name"), col("login_username"), col("login_totp"), col("notes")];
  const items = rows.slice(1).map((r) => ({
    name: r[iName] ?? "",
    notes: iNotes >= 0 ? (r[iNotes] ?? "") : "",
    login: { username: iUser >= 0 ? (r[iUser] ?? "") : "", totp: r[iTotp] ?? "" },
  }));
  return decodeItems(items);
}

/** Bitwarden: JSON (plain or password-protected), CSV, and the Bitwarden Authenticator app's JSON. */
export const bitwardenImport: ImportFormat = {
  id: "bitwarden",
  label: "Bitwarden export",
  detect: (_bytes, text) => isExport(tryJson(text)) || csvHeader(text) !== null,
  isEncrypted(_bytes, text) {
    const v = tryJson(text);
    return isObject(v) && v.encrypted === true && v.passwordProtected === true;
  },
  async decode({ bytes, password }) {
    const text = textOf(bytes);
    if (text === null) throw new UserError("not a Bitwarden export: the file is not UTF-8 text");
    if (csvHeader(text)) return decodeCsv(text);
    const parsed = parseJson(bytes, "Bitwarden");
    if (!isExport(parsed)) throw new UserError("not a Bitwarden export: it has no items");
    let v: Record<string, unknown> = parsed;
    if (v.encrypted === true) {
      if (v.passwordProtected !== true) {
        throw new UserError(
          "this Bitwarden export is encrypted with the account key; export again as JSON or password-protected JSON",
        );
      }
      v = await decryptExport(v, needPassword(password));
    }
    return decodeItems(Array.isArray(v.items) ? v.items : []);
  },
};

/** What a Bitwarden TOTP field holds for an account. */
function totpField(a: Account): string {
  return a.kind === "steam" ? `steam://${a.secret}` : formatUri(a);
}

/** A Bitwarden JSON export (unencrypted), one login item per account. */
export const bitwardenExport: ExportFormat = {
  id: "bitwarden",
  label: "Bitwarden JSON",
  encrypted: false,
  limitation(a) {
    if (a.kind === "hotp") return { why: "Bitwarden has no HOTP (counter-based) codes", effect: "drop" };
    return null;
  },
  async encode(accounts, opts) {
    const items = accounts.map(({ name, account: a, recovery }) => ({
      id: uuid4(opts.randomBytes),
      organizationId: null,
      folderId: null,
      type: 1,
      reprompt: 0,
      name: a.issuer || a.account || name,
      notes: recoveryNote(recovery),
      favorite: false,
      login: { uris: [], username: a.account || null, password: null, totp: totpField(a) },
      collectionIds: null,
    }));
    return utf8(`${JSON.stringify({ encrypted: false, folders: [], items }, null, 2)}\n`);
  },
};
