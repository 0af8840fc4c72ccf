import { gcm } from "@noble/ciphers/aes.js";
import { scryptAsync } from "@noble/hashes/scrypt.js";
import type { Account, OtpKind } from "../core/account.js";
import { UserError } from "../core/errors.js";
import { LIMITS } from "../core/limits.js";
import type { ExportFormat, ImportFormat } from "./types.js";
import {
  accountFrom,
  collect,
  fromBase64,
  fromHex,
  isObject,
  label,
  needPassword,
  parseJson,
  SkipEntry,
  shownValue,
  str,
  textOf,
  toBase64,
  toHex,
  tryJson,
  utf8,
  uuid4,
  wrongPassword,
} from "./util.js";

/** scrypt cost Aegis itself uses for password slots. */
const SCRYPT = { N: 32768, r: 8, p: 1 };

function isVault(v: unknown): v is { header: Record<string, unknown>; db: unknown } {
  return isObject(v) && isObject(v.header) && "db" in v && (typeof v.db === "string" || isObject(v.db));
}

function isEncryptedVault(v: { header: Record<string, unknown>; db: unknown }): boolean {
  return typeof v.db === "string" && Array.isArray(v.header.slots);
}

/** AES-256-GCM open with the tag stored apart from the ciphertext, as Aegis does; null on failure. */
function openGcm(key: Uint8Array, nonce: Uint8Array, ct: Uint8Array, tag: Uint8Array): Uint8Array | null {
  const sealed = new Uint8Array(ct.length + tag.length);
  sealed.set(ct);
  sealed.set(tag, ct.length);
  try {
    return gcm(key, nonce).decrypt(sealed);
  } catch {
    return null;
  }
}

/** Tries every password slot (type 1) and returns the vault's master key. */
async function unlock(slots: unknown[], password: string): Promise<Uint8Array> {
  const usable = slots.filter((s): s is Record<string, unknown> => isObject(s) && s.type === 1);
  if (usable.length === 0) throw new UserError("this Aegis vault has no password slot (only biometric ones)");
  for (const s of usable) {
    const params = isObject(s.key_params) ? s.key_params : {};
    const n = Number(s.n);
    const r = Number(s.r);
    const p = Number(s.p);
    // scrypt costs 128·N·r bytes and p sequential passes: a hostile slot must not take minutes.
    const cheap =
      n <= LIMITS.scryptN &&
      r >= 1 &&
      r <= LIMITS.scryptR &&
      p >= 1 &&
      p <= LIMITS.scryptP &&
      128 * n * r <= LIMITS.scryptBytes;
    if (!Number.isInteger(n) || n < 2 || !Number.isInteger(r) || !Number.isInteger(p) || !cheap) {
      throw new UserError("damaged Aegis vault: a password slot has invalid scrypt parameters");
    }
    const kek = await scryptAsync(utf8(password), fromHex(str(s.salt), "a slot salt"), {
      N: n,
      r,
      p,
      dkLen: 32,
    });
    const key = openGcm(
      kek,
      fromHex(str(params.nonce), "a slot nonce"),
      fromHex(str(s.key), "a slot key"),
      fromHex(str(params.tag), "a slot tag"),
    );
    if (key) return key;
  }
  throw wrongPassword();
}

function kindOf(type: unknown): OtpKind {
  const t = str(type).toLowerCase();
  if (t === "totp" || t === "hotp" || t === "steam") return t;
  throw new SkipEntry(`Aegis ${t ? shownValue(t) : "untyped"} entries are not supported`);
}

/** An Aegis vault (the app's export), plain or password-encrypted. */
export const aegisImport: ImportFormat = {
  id: "aegis",
  label: "Aegis vault",
  detect: (_bytes, text) => isVault(tryJson(text)),
  isEncrypted(_bytes, text) {
    const v = tryJson(text);
    return isVault(v) && isEncryptedVault(v);
  },
  async decode({ bytes, password }) {
    const v = parseJson(bytes, "Aegis");
    if (!isVault(v)) throw new UserError("not an Aegis vault: it has no header and db");
    let db: unknown = v.db;
    if (typeof db === "string") {
      if (!Array.isArray(v.header.slots)) throw new UserError("damaged Aegis vault: it has no key slots");
      const master = await unlock(v.header.slots, needPassword(password));
      const params = isObject(v.header.params) ? v.header.params : {};
      const plain = openGcm(
        master,
        fromHex(str(params.nonce), "the vault nonce"),
        fromBase64(db, "the vault"),
        fromHex(str(params.tag), "the vault tag"),
      );
      if (!plain) throw new UserError("damaged Aegis vault: its contents do not decrypt");
      db = tryJson(textOf(plain));
    }
    if (!isObject(db) || !Array.isArray(db.entries))
      throw new UserError("damaged Aegis vault: it has no entries");
    return collect(
      db.entries,
      (e, i) => (isObject(e) ? label(e.issuer, e.name, `entry ${i + 1}`) : `entry ${i + 1}`),
      (e) => {
        if (!isObject(e)) throw new SkipEntry("not an entry");
        const info = isObject(e.info) ? e.info : {};
        return {
          account: accountFrom({
            kind: kindOf(e.type),
            secret: str(info.secret),
            issuer: str(e.issuer),
            account: str(e.name),
            algorithm: info.algo,
            digits: info.digits,
            period: info.period,
            counter: info.counter,
          }),
        };
      },
    );
  },
};

/** The vault's `db` object for these accounts. */
function vaultDb(accounts: Account[], randomBytes: (n: number) => Uint8Array): Record<string, unknown> {
  return {
    version: 3,
    entries: accounts.map((a) => ({
      type: a.kind,
      uuid: uuid4(randomBytes),
      name: a.account,
      issuer: a.issuer,
      note: "",
      favorite: false,
      icon: null,
      info: {
        secret: a.secret,
        algo: a.algorithm,
        digits: a.digits,
        ...(a.kind === "hotp" ? { counter: a.counter } : { period: a.period }),
      },
      groups: [],
    })),
    groups: [],
  };
}

/** Encrypts with AES-256-GCM and splits off the tag, as Aegis stores it. */
function sealGcm(key: Uint8Array, nonce: Uint8Array, plain: Uint8Array): { ct: Uint8Array; tag: Uint8Array } {
  const sealed = gcm(key, nonce).encrypt(plain);
  return { ct: sealed.slice(0, sealed.length - 16), tag: sealed.slice(sealed.length - 16) };
}

/** An Aegis vault: encrypted with one password slot (scrypt N=32768), or plain on request. */
export const aegisExport: ExportFormat = {
  id: "aegis",
  label: "Aegis vault",
  encrypted: true,
  canPlain: true,
  limitation: () => null,
  async encode(accounts, opts) {
    const db = vaultDb(
      accounts.map((a) => a.account),
      opts.randomBytes,
    );
    if (opts.password === undefined) {
      const vault = { version: 1, header: { slots: null, params: null }, db };
      return utf8(`${JSON.stringify(vault, null, 4)}\n`);
    }
    const master = opts.randomBytes(32);
    const salt = opts.randomBytes(32);
    const kek = await scryptAsync(utf8(opts.password), salt, { ...SCRYPT, dkLen: 32 });
    const slotNonce = opts.randomBytes(12);
    const slotKey = sealGcm(kek, slotNonce, master);
    const dbNonce = opts.randomBytes(12);
    const sealedDb = sealGcm(master, dbNonce, utf8(JSON.stringify(db)));
    const vault = {
      version: 1,
      header: {
        slots: [
          {
            type: 1,
            uuid: uuid4(opts.randomBytes),
            key: toHex(slotKey.ct),
            key_params: { nonce: toHex(slotNonce), tag: toHex(slotKey.tag) },
            n: SCRYPT.N,
            r: SCRYPT.r,
            p: SCRYPT.p,
            salt: toHex(salt),
            repaired: true,
            is_backup: false,
          },
        ],
        params: { nonce: toHex(dbNonce), tag: toHex(sealedDb.tag) },
      },
      db: toBase64(sealedDb.ct),
    };
    return utf8(`${JSON.stringify(vault, null, 4)}\n`);
  },
};
