import { gcm } from "@noble/ciphers/aes.js";
import { pbkdf2Async } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { Account, OtpKind } from "../core/account.js";
import { UserError } from "../core/errors.js";
import { formatUri } from "../core/uri.js";
import type { ExportFormat, ImportFormat } from "./types.js";
import {
  accountFrom,
  collect,
  fromBase64,
  isObject,
  label,
  needPassword,
  parseJson,
  SkipEntry,
  shownValue,
  str,
  textOf,
  toBase64,
  tryJson,
  utf8,
  wrongPassword,
} from "./util.js";

/**
 * The constant that 2FAS encrypts into `reference` to check a password before decrypting the
 * services (BackupContent.Reference in the 2FAS Android app; the iOS app uses the same string).
 */
export const TWOFAS_REFERENCE =
  "tRViSsLKzd86Hprh4ceC2OP7xazn4rrt4xhfEUbOjxLX8Rc3mkISXE0lWbmnWfggogbBJhtYgpK6fMl1D6mtsy92R3HkdGfwuXbzLebqVFJsR7IZ2w58t938iymwG4824igYy1wi6n2WDpO1Q1P69zwJGs2F5a1qP4MyIiDSD7NCV2OvidXQCBnDlGfmz0f1BQySRkkt4ryiJeCjD2o4QsveJ9uDBUn8ELyOrESv5R5DMDkD4iAF8TXU7KyoJujd";

const ITERATIONS = 10000;

function isBackup(v: unknown): v is Record<string, unknown> {
  return (
    isObject(v) &&
    Array.isArray(v.services) &&
    (typeof v.schemaVersion === "number" || "servicesEncrypted" in v || "appOrigin" in v)
  );
}

function isEncryptedBackup(v: Record<string, unknown>): boolean {
  return typeof v.servicesEncrypted === "string" && v.servicesEncrypted !== "";
}

/** Splits `b64(ct‖tag):b64(salt):b64(iv)`. */
function splitField(field: string, what: string): { sealed: Uint8Array; salt: Uint8Array; iv: Uint8Array } {
  const parts = field.split(":");
  if (parts.length !== 3) throw new UserError(`damaged 2FAS backup: ${what} is not ciphertext:salt:iv`);
  const sealed = fromBase64(parts[0], what);
  const salt = fromBase64(parts[1], `the salt of ${what}`);
  const iv = fromBase64(parts[2], `the IV of ${what}`);
  if (sealed.length < 16 || iv.length !== 12)
    throw new UserError(`damaged 2FAS backup: ${what} is truncated`);
  return { sealed, salt, iv };
}

function deriveKey(password: string, salt: Uint8Array): Promise<Uint8Array> {
  return pbkdf2Async(sha256, utf8(password), salt, { c: ITERATIONS, dkLen: 32 });
}

function open(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array): Uint8Array | null {
  try {
    return gcm(key, iv).decrypt(sealed);
  } catch {
    return null;
  }
}

/** Decrypts `servicesEncrypted`, checking the password against `reference` first when there is one. */
async function decryptServices(backup: Record<string, unknown>, password: string): Promise<unknown[]> {
  const services = splitField(str(backup.servicesEncrypted), "servicesEncrypted");
  const key = await deriveKey(password, services.salt);
  if (typeof backup.reference === "string" && backup.reference !== "") {
    const ref = splitField(backup.reference, "reference");
    const refKey =
      ref.salt.length === services.salt.length && ref.salt.every((b, i) => b === services.salt[i])
        ? key
        : await deriveKey(password, ref.salt);
    const plain = open(refKey, ref.iv, ref.sealed);
    if (!plain || textOf(plain) !== TWOFAS_REFERENCE) throw wrongPassword();
  }
  const plain = open(key, services.iv, services.sealed);
  if (!plain) throw wrongPassword();
  const list = tryJson(textOf(plain));
  if (!Array.isArray(list)) throw new UserError("damaged 2FAS backup: the decrypted services are not a list");
  return list;
}

function kindOf(otp: Record<string, unknown>): OtpKind {
  const t = str(otp.tokenType).toUpperCase();
  if (t === "" || t === "TOTP") return "totp";
  if (t === "HOTP") return "hotp";
  if (t === "STEAM") return "steam";
  throw new SkipEntry(`2FAS token type ${shownValue(t)} is not supported`);
}

/** A 2FAS backup (.2fas, schema 1-4), plain or encrypted. */
export const twofasImport: ImportFormat = {
  id: "2fas",
  label: "2FAS backup",
  detect: (_bytes, text) => isBackup(tryJson(text)),
  isEncrypted(_bytes, text) {
    const v = tryJson(text);
    return isBackup(v) && isEncryptedBackup(v);
  },
  async decode({ bytes, password }) {
    const backup = parseJson(bytes, "2FAS");
    if (!isBackup(backup)) throw new UserError("not a 2FAS backup: it has no services");
    const services = isEncryptedBackup(backup)
      ? await decryptServices(backup, needPassword(password))
      : (backup.services as unknown[]);
    return collect(
      services,
      (s, i) => {
        const otp = isObject(s) && isObject(s.otp) ? s.otp : {};
        return isObject(s)
          ? label(s.name || otp.issuer, otp.account, `service ${i + 1}`)
          : `service ${i + 1}`;
      },
      (s) => {
        if (!isObject(s)) throw new SkipEntry("not a service");
        const otp = isObject(s.otp) ? s.otp : {};
        const kind = kindOf(otp);
        let account = str(otp.account).trim();
        if (account === "") {
          const lbl = str(otp.label).trim();
          const colon = lbl.indexOf(":");
          account = colon >= 0 ? lbl.slice(colon + 1).trim() : lbl;
        }
        // `name` is what the app shows (the user may have renamed it); `otp.issuer` is what the code
        // said. A name that only repeats the account of a code without issuer is not an issuer.
        const name = str(s.name).trim();
        const codeIssuer = str(otp.issuer).trim();
        const issuer =
          "issuer" in otp && codeIssuer === "" && name === account && account !== ""
            ? ""
            : name || codeIssuer;
        return {
          account: accountFrom({
            kind,
            secret: str(s.secret),
            issuer,
            account,
            algorithm: otp.algorithm,
            digits: otp.digits,
            period: otp.period,
            counter: otp.counter,
          }),
        };
      },
    );
  },
};

const TOKEN_TYPE: Record<OtpKind, string> = { totp: "TOTP", hotp: "HOTP", steam: "STEAM" };

/** One 2FAS service for an account. */
function service(a: Account, fallbackName: string, position: number, now: number): Record<string, unknown> {
  const name = a.issuer || a.account || fallbackName;
  return {
    name,
    secret: a.secret,
    updatedAt: now,
    otp: {
      link: formatUri(a),
      label: a.account,
      account: a.account,
      issuer: a.issuer,
      digits: a.digits,
      ...(a.kind === "hotp" ? { counter: a.counter } : { period: a.period }),
      algorithm: a.algorithm,
      tokenType: TOKEN_TYPE[a.kind],
      source: "Link",
    },
    order: { position },
    icon: {
      selected: "Label",
      label: { text: name.slice(0, 2).toUpperCase(), backgroundColor: "Default" },
      iconCollection: { id: "a5b3fb65-4ec5-43e6-8ec1-49e24ca9e7ad" },
    },
  };
}

/** Encrypts one field as `b64(ct‖tag):b64(salt):b64(iv)`. */
function sealField(key: Uint8Array, salt: Uint8Array, iv: Uint8Array, plain: Uint8Array): string {
  return `${toBase64(gcm(key, iv).encrypt(plain))}:${toBase64(salt)}:${toBase64(iv)}`;
}

/** A 2FAS backup, schema 4: encrypted (with `reference`) by default, plain on request. */
export const twofasExport: ExportFormat = {
  id: "2fas",
  label: "2FAS backup",
  encrypted: true,
  canPlain: true,
  limitation(a) {
    if (a.kind !== "steam" && (a.digits < 6 || a.digits > 8)) {
      return {
        why: `2FAS offers 6 to 8 digits, not ${a.digits}; it may show this code wrongly`,
        effect: "degrade",
      };
    }
    return null;
  },
  async encode(accounts, opts) {
    const services = accounts.map((a, i) => service(a.account, a.name, i, opts.now));
    const backup: Record<string, unknown> = {
      services,
      groups: [],
      updatedAt: opts.now,
      schemaVersion: 4,
      appVersionCode: 5000029,
      appVersionName: "5.4.8",
      appOrigin: "android",
    };
    if (opts.password !== undefined) {
      const salt = opts.randomBytes(256);
      const key = await deriveKey(opts.password, salt);
      backup.services = [];
      backup.servicesEncrypted = sealField(key, salt, opts.randomBytes(12), utf8(JSON.stringify(services)));
      backup.reference = sealField(key, salt, opts.randomBytes(12), utf8(TWOFAS_REFERENCE));
    }
    return utf8(JSON.stringify(backup));
  },
};
