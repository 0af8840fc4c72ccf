import { gcm } from "@noble/ciphers/aes.js";
import { Inflate } from "fflate";
import type { Account } from "../core/account.js";
import { UserError } from "../core/errors.js";
import { LIMITS } from "../core/limits.js";
import { parseUri } from "../core/uri.js";
import type { ImportedAccount, ImportFormat, Skipped } from "./types.js";
import {
  accountFrom,
  collect,
  fromBase64,
  isObject,
  needPassword,
  parseJson,
  SkipEntry,
  str,
  textOf,
  tryJson,
  utf8,
  wrongPassword,
} from "./util.js";

// ---------------------------------------------------------------- Proton Authenticator

/** Fixed by the format (proton-pass-common), so a file cannot choose the KDF cost. */
const ARGON2 = { memorySize: 19456, iterations: 2, parallelism: 1, hashLength: 32 } as const;
const AAD = "proton.authenticator.export.v1";
const NONCE = 12;
const TAG = 16;

function isPlainExport(v: unknown): v is { entries: unknown[] } {
  return (
    isObject(v) &&
    Array.isArray(v.entries) &&
    (v.entries.length === 0 ? "version" in v : v.entries.some(isEntry))
  );
}

function isEntry(e: unknown): boolean {
  return isObject(e) && isObject(e.content) && typeof e.content.uri === "string";
}

function isEncryptedExport(v: unknown): v is { salt: string; content: string } {
  return isObject(v) && typeof v.salt === "string" && typeof v.content === "string" && !("entries" in v);
}

/** A URI as Proton stores it: otpauth:// or steam://; a bare base32 secret (Proton Pass allows it) is TOTP. */
function parseKey(uri: string): Account {
  const t = uri.trim();
  if (/^(otpauth|steam):\/\//i.test(t)) return parseUri(t);
  return accountFrom({ kind: "totp", secret: t });
}

/** One Proton Authenticator entry: the URI holds everything; `name` fills an empty label. */
function entryAccount(e: Record<string, unknown>): ImportedAccount {
  const content = isObject(e.content) ? e.content : {};
  const uri = str(content.uri);
  if (uri.trim() === "") throw new SkipEntry("it has no URI");
  const a = parseKey(uri);
  const name = str(content.name).trim();
  if (a.kind === "steam") {
    const issuer = a.issuer || "Steam";
    return { account: { ...a, issuer, account: a.account || (name === issuer ? "" : name) } };
  }
  return { account: { ...a, account: a.account || name } };
}

/** hash-wasm, however the bundler exposes it: esbuild's Node bundle gives its CommonJS build as `default`. */
async function loadHashWasm(): Promise<typeof import("hash-wasm")> {
  const mod = (await import("hash-wasm")) as typeof import("hash-wasm") & {
    default?: typeof import("hash-wasm");
  };
  return typeof mod.argon2id === "function" ? mod : mod.default!;
}

/** Decrypts `{"version":1,"salt","content"}`: Argon2id, then AES-256-GCM over nonce‖ct‖tag with Proton's AAD. */
async function decryptExport(v: { salt: string; content: string }, password: string): Promise<Uint8Array> {
  const salt = fromBase64(v.salt, "salt");
  const box = fromBase64(v.content, "content");
  if (salt.length < 8) throw new UserError("damaged Proton Authenticator export: the salt is too short");
  if (box.length < NONCE + TAG)
    throw new UserError("damaged Proton Authenticator export: the content is too short");
  const { argon2id } = await loadHashWasm();
  const key = await argon2id({ password: utf8(password), salt, ...ARGON2, outputType: "binary" });
  try {
    return gcm(key, box.subarray(0, NONCE), utf8(AAD)).decrypt(box.subarray(NONCE));
  } catch {
    throw wrongPassword();
  }
}

/** Proton Authenticator JSON export, plain or password-protected. */
export const protonAuthenticatorImport: ImportFormat = {
  id: "proton-authenticator",
  label: "Proton Authenticator export",
  detect(_bytes, text) {
    const v = tryJson(text);
    if (!isObject(v)) return false;
    return isPlainExport(v) || (isEncryptedExport(v) && "version" in v);
  },
  isEncrypted(_bytes, text) {
    return isEncryptedExport(tryJson(text));
  },
  async decode({ bytes, password }) {
    let v = parseJson(bytes, "Proton Authenticator");
    if (isEncryptedExport(v)) {
      const plain = textOf(await decryptExport(v, needPassword(password)));
      v = tryJson(plain);
    }
    if (!isPlainExport(v)) throw new UserError("not a Proton Authenticator export: it has no entries list");
    return collect(
      v.entries,
      (e, i) => (isObject(e) && isObject(e.content) && str(e.content.name)) || `entry ${i + 1}`,
      (e) => {
        if (!isObject(e)) throw new SkipEntry("it is not an entry");
        return entryAccount(e);
      },
    );
  },
};

// ---------------------------------------------------------------- Proton Pass zip

/** Limits that keep a hostile zip from exhausting memory or time. */
export const ZIP_LIMITS = { entries: LIMITS.zipEntries, bytes: LIMITS.zipEntryBytes } as const;
const DATA_JSON = "Proton Pass/data.json";
const DATA_PGP = "Proton Pass/data.pgp";

interface ZipEntry {
  name: string;
  flags: number;
  method: number;
  compressedSize: number;
  size: number;
  offset: number;
}

function damagedZip(why: string): UserError {
  return new UserError(`damaged Proton Pass export: ${why}`);
}

/** The central directory of a zip, checked against the entry limit; ZIP64 is refused. */
function listZip(z: Uint8Array): ZipEntry[] {
  const dv = new DataView(z.buffer, z.byteOffset, z.byteLength);
  let end = -1;
  for (let i = z.length - 22; i >= 0 && i >= z.length - 22 - 0xffff; i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end < 0) throw damagedZip("the zip has no central directory");
  const count = dv.getUint16(end + 10, true);
  let p = dv.getUint32(end + 16, true);
  if (count === 0xffff || p === 0xffffffff)
    throw new UserError("Proton Pass export: ZIP64 archives are not supported");
  if (count > ZIP_LIMITS.entries) throw damagedZip(`the zip holds more than ${ZIP_LIMITS.entries} files`);
  const names = new TextDecoder("utf-8");
  const out: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (p + 46 > z.length || dv.getUint32(p, true) !== 0x02014b50)
      throw damagedZip("the zip directory is cut short");
    const n = dv.getUint16(p + 28, true);
    const m = dv.getUint16(p + 30, true);
    const k = dv.getUint16(p + 32, true);
    if (p + 46 + n > z.length) throw damagedZip("the zip directory is cut short");
    out.push({
      name: names.decode(z.subarray(p + 46, p + 46 + n)),
      flags: dv.getUint16(p + 8, true),
      method: dv.getUint16(p + 10, true),
      compressedSize: dv.getUint32(p + 20, true),
      size: dv.getUint32(p + 24, true),
      offset: dv.getUint32(p + 42, true),
    });
    p += 46 + n + m + k;
  }
  return out;
}

/**
 * The bytes of one zip entry. Inflating goes in small steps and stops at the byte limit, so
 * a zip bomb costs neither memory nor time (the declared size is not trusted).
 */
function readZipEntry(z: Uint8Array, e: ZipEntry): Uint8Array {
  const dv = new DataView(z.buffer, z.byteOffset, z.byteLength);
  if (e.flags & 1) throw new UserError("Proton Pass export: encrypted zip files are not supported");
  if (e.offset + 30 > z.length || dv.getUint32(e.offset, true) !== 0x04034b50)
    throw damagedZip("bad zip entry");
  const start = e.offset + 30 + dv.getUint16(e.offset + 26, true) + dv.getUint16(e.offset + 28, true);
  const raw = z.subarray(start, start + e.compressedSize);
  if (start + e.compressedSize > z.length) throw damagedZip("the zip is cut short");
  const tooBig = () =>
    new UserError(`Proton Pass export: ${e.name} is larger than ${ZIP_LIMITS.bytes >> 20} MiB`);
  if (e.method === 0) {
    if (raw.length > ZIP_LIMITS.bytes) throw tooBig();
    return raw;
  }
  if (e.method !== 8)
    throw new UserError(`Proton Pass export: unsupported zip compression method ${e.method}`);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const inflate = new Inflate((chunk) => {
    total += chunk.length;
    if (total > ZIP_LIMITS.bytes) throw tooBig();
    chunks.push(chunk);
  });
  try {
    const STEP = 16 * 1024;
    if (raw.length === 0) inflate.push(raw, true);
    for (let i = 0; i < raw.length; i += STEP)
      inflate.push(raw.subarray(i, i + STEP), i + STEP >= raw.length);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw damagedZip(`${e.name} does not inflate`);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Proton Pass puts "Proton Pass" where the account name goes when it exports a TOTP field. */
function withAccount(a: Account, fallback: string): Account {
  return a.account === "" || a.account === "Proton Pass" ? { ...a, account: fallback } : a;
}

/** The TOTP keys of one Proton Pass item: the login's `totpUri`, then every extra field of type totp. */
function itemKeys(item: Record<string, unknown>, where: string, skipped: Skipped[]): ImportedAccount[] {
  const data = isObject(item.data) ? item.data : {};
  const meta = isObject(data.metadata) ? data.metadata : {};
  const content = isObject(data.content) ? data.content : {};
  const title = str(meta.name).trim();
  const user = str(content.itemUsername).trim() || str(content.itemEmail).trim();
  const uris: { uri: string; what: string }[] = [];
  if (str(content.totpUri).trim() !== "") uris.push({ uri: str(content.totpUri), what: title || where });
  if (Array.isArray(data.extraFields)) {
    for (const f of data.extraFields) {
      if (!isObject(f) || f.type !== "totp" || !isObject(f.data)) continue;
      const uri = str(f.data.totpUri);
      if (uri.trim() !== "")
        uris.push({ uri, what: `${title || where} – ${str(f.fieldName) || "TOTP field"}` });
    }
  }
  if (uris.length > 0 && item.state === 2) {
    skipped.push({ what: title || where, why: "it is in the trash" });
    return [];
  }
  const out: ImportedAccount[] = [];
  for (const { uri, what } of uris) {
    try {
      const a = withAccount(parseKey(uri), user);
      out.push({ account: { ...a, issuer: a.issuer || title } });
    } catch (e) {
      if (!(e instanceof UserError || e instanceof SkipEntry)) throw e;
      skipped.push({ what, why: e.message.replace(/^invalid otpauth URI: /, "") });
    }
  }
  return out;
}

/** Proton Pass export: a zip holding `Proton Pass/data.json` (vaults → items). */
export const protonPassImport: ImportFormat = {
  id: "proton-pass",
  label: "Proton Pass export (zip)",
  detect(bytes) {
    if (bytes.length < 22 || bytes[0] !== 0x50 || bytes[1] !== 0x4b || bytes[2] !== 3 || bytes[3] !== 4)
      return false;
    try {
      return listZip(bytes).some((e) => e.name === DATA_JSON || e.name === DATA_PGP);
    } catch {
      return false;
    }
  },
  isEncrypted() {
    return false;
  },
  async decode({ bytes }) {
    const entries = listZip(bytes);
    const data = entries.find((e) => e.name === DATA_JSON);
    if (!data) {
      if (entries.some((e) => e.name === DATA_PGP)) {
        throw new UserError("this Proton Pass export is PGP-encrypted: export again without encryption");
      }
      throw new UserError(`not a Proton Pass export: the zip has no ${DATA_JSON}`);
    }
    const json = parseJson(readZipEntry(bytes, data), "Proton Pass");
    if (!isObject(json) || !isObject(json.vaults)) throw damagedZip("data.json has no vaults");
    const accounts: ImportedAccount[] = [];
    const skipped: Skipped[] = [];
    for (const vault of Object.values(json.vaults)) {
      if (!isObject(vault) || !Array.isArray(vault.items)) continue;
      const vaultName = str(vault.name) || "vault";
      vault.items.forEach((item, i) => {
        if (isObject(item)) accounts.push(...itemKeys(item, `${vaultName} item ${i + 1}`, skipped));
      });
    }
    return { accounts, skipped };
  },
};
