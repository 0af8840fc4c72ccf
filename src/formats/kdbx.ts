import type { Account } from "../core/account.js";
import { encodeBase32 } from "../core/base32.js";
import { UserError } from "../core/errors.js";
import { LIMITS } from "../core/limits.js";
import { validateName } from "../core/names.js";
import { formatUri, parseUri } from "../core/uri.js";
import type { ExportFormat, ImportedAccount, ImportFormat, Skipped } from "./types.js";
import {
  accountFrom,
  fromBase64,
  fromHex,
  label,
  parseRecoveryNote,
  recoveryNote,
  SkipEntry,
  utf8,
} from "./util.js";

type Kdbxweb = typeof import("kdbxweb");
type KdbxEntry = import("kdbxweb").KdbxEntry;
type KdbxGroup = import("kdbxweb").KdbxGroup;

/** hash-wasm, however the bundler exposes it: esbuild's Node bundle gives its CommonJS build as `default`. */
async function loadHashWasm(): Promise<typeof import("hash-wasm")> {
  const mod = (await import("hash-wasm")) as typeof import("hash-wasm") & {
    default?: typeof import("hash-wasm");
  };
  return typeof mod.argon2id === "function" ? mod : mod.default!;
}

/** Argon2 for kdbxweb, from hash-wasm (kdbxweb ships none). */
async function argon2(
  password: ArrayBuffer,
  salt: ArrayBuffer,
  memoryKiB: number,
  iterations: number,
  length: number,
  parallelism: number,
  type: number,
  version: number,
): Promise<ArrayBuffer> {
  if (version !== 0x13) throw new UserError("this KDBX uses Argon2 version 1.0, which is not supported");
  if (memoryKiB > LIMITS.argon2MemoryKiB || memoryKiB * iterations > LIMITS.argon2Work) {
    throw new UserError(
      "this KDBX asks for more Argon2 work than sparekey allows (over 1 GiB or about a minute)",
    );
  }
  const { argon2d, argon2id } = await loadHashWasm();
  const out = await (type === 2 ? argon2id : argon2d)({
    password: new Uint8Array(password),
    salt: new Uint8Array(salt),
    memorySize: memoryKiB,
    iterations,
    parallelism,
    hashLength: length,
    outputType: "binary",
  });
  return out.slice().buffer;
}

/**
 * kdbxweb is CommonJS and heavy: loaded on first use. It does its AES and SHA through WebCrypto
 * (`globalThis.crypto.subtle`), a platform API rather than a node:* import.
 */
async function loadKdbxweb(): Promise<Kdbxweb> {
  const mod = (await import("kdbxweb")) as unknown as { default?: Kdbxweb } & Kdbxweb;
  const k = mod.default ?? mod;
  k.CryptoEngine.setArgon2Impl(argon2);
  return k;
}

function credentialsFor(k: Kdbxweb, password: string) {
  // KeePassXC's "no password" is an absent key part, not an empty string.
  return new k.Credentials(password === "" ? null : k.ProtectedValue.fromString(password));
}

/** Reads the KDF parameters from the outer header and refuses absurd ones before any work. */
function checkKdfCost(k: Kdbxweb, data: ArrayBuffer): void {
  const header = k.KdbxHeader.read(new k.BinaryStream(data), new k.KdbxContext({ kdbx: {} as never }));
  const tooSlow = () => new UserError("this KDBX asks for more key-derivation work than sparekey allows");
  if ((header.keyEncryptionRounds ?? 0) > LIMITS.aesKdfRounds) throw tooSlow();
  const rounds = header.kdfParameters?.get("R");
  if (rounds !== undefined && Number(rounds.valueOf()) > LIMITS.aesKdfRounds) throw tooSlow();
}

// ---------------------------------------------------------------- import

const SIGNATURE = [0x03, 0xd9, 0xa2, 0x9a];
const SIG_KDBX = [0x67, 0xfb, 0x4b, 0xb5];
const SIG_KDB = [0x65, 0xfb, 0x4b, 0xb5];

function startsWith(bytes: Uint8Array, sig: number[], at = 0): boolean {
  return bytes.length >= at + sig.length && sig.every((b, i) => bytes[at + i] === b);
}

/** The secret of KeePass's `<prefix>-Secret[-Base32|-Hex|-Base64]` fields, as canonical base32. */
function keepassSecret(get: (k: string) => string, prefix: string): string | null {
  const b32 = get(`${prefix}-Secret-Base32`);
  if (b32) return b32;
  try {
    const hex = get(`${prefix}-Secret-Hex`);
    if (hex) return encodeBase32(fromHex(hex.replace(/\s/g, ""), `${prefix}-Secret-Hex`));
    const b64 = get(`${prefix}-Secret-Base64`);
    if (b64) return encodeBase32(fromBase64(b64, `${prefix}-Secret-Base64`));
  } catch (e) {
    if (e instanceof UserError) throw new SkipEntry(e.message.replace(/^damaged file: /, ""));
    throw e;
  }
  const raw = get(`${prefix}-Secret`);
  return raw ? encodeBase32(utf8(raw)) : null;
}

/** KeeOtp's `otp` field: `key=BASE32&size=6&step=30&otpHashMode=Sha256&type=Hotp&counter=3`. */
function keeOtp(value: string): Account {
  const q = new Map<string, string>();
  for (const part of value.split("&")) {
    const eq = part.indexOf("=");
    if (eq > 0)
      q.set(part.slice(0, eq).toLowerCase(), decodeURIComponent(part.slice(eq + 1).replace(/\+/g, " ")));
  }
  const hotp = (q.get("type") ?? "").toLowerCase() === "hotp";
  return accountFrom({
    kind: hotp ? "hotp" : "totp",
    secret: q.get("key") ?? "",
    algorithm: q.get("otphashmode"),
    digits: q.get("size"),
    period: q.get("step"),
    counter: q.get("counter"),
  });
}

/**
 * The key of one entry, read in KeePassXC's order: the legacy `TOTP Seed` + `TOTP Settings`,
 * the `otp` field, KeePass's `TimeOtp-*` fields, then KeePass's `HmacOtp-*` (HOTP) fields.
 * Null when the entry holds no key. Issuer and account fall back to Title and UserName.
 */
function entryKey(get: (k: string) => string): Account | null {
  const title = get("Title").trim();
  const user = get("UserName").trim();
  const named = (a: Account): Account => ({
    ...a,
    issuer: a.issuer || title,
    // KeePassXC writes "none" into the label when the entry has no user name.
    account: a.account === "none" && user === "" ? "" : a.account || user,
  });
  const seed = get("TOTP Seed").trim();
  const settings = get("TOTP Settings").trim();
  if (seed) {
    if (/^otpauth:\/\//i.test(seed)) return named(parseUri(seed));
    const [step, digits] = settings.split(";").map((s) => s.trim());
    const steam = digits === "S";
    return named(
      accountFrom({
        kind: steam ? "steam" : "totp",
        secret: seed,
        period: step || undefined,
        digits: steam ? 5 : digits || undefined,
      }),
    );
  }
  const otp = get("otp").trim();
  if (otp) {
    if (/^(otpauth|steam):\/\//i.test(otp)) return named(parseUri(otp));
    if (/(^|&)key=/i.test(otp)) return named(keeOtp(otp));
    return named(accountFrom({ kind: "totp", secret: otp }));
  }
  const totp = keepassSecret(get, "TimeOtp");
  if (totp) {
    return named(
      accountFrom({
        kind: "totp",
        secret: totp,
        algorithm: get("TimeOtp-Algorithm") || undefined,
        digits: get("TimeOtp-Length") || undefined,
        period: get("TimeOtp-Period") || undefined,
      }),
    );
  }
  const hotp = keepassSecret(get, "HmacOtp");
  if (hotp)
    return named(accountFrom({ kind: "hotp", secret: hotp, counter: get("HmacOtp-Counter") || undefined }));
  return null;
}

/**
 * The key of an entry sparekey wrote: its URI as it was (no Title fallback, which would invent an
 * issuer), from `sparekey-otp` for HOTP, whose counter KeePass may have moved on since.
 */
function ownEntryKey(get: (k: string) => string): Account | null {
  const full = get(KDBX_OTP_FIELD).trim() || get("otp").trim();
  if (!/^otpauth:\/\//i.test(full)) return null;
  const a = parseUri(full);
  const counter = get("HmacOtp-Counter").trim();
  if (a.kind === "hotp" && /^\d+$/.test(counter) && Number.isSafeInteger(Number(counter))) {
    return { ...a, counter: Number(counter) };
  }
  return a;
}

/** The field that holds the sparekey name of an entry sparekey wrote (the mirror uses it too). */
export const KDBX_NAME_FIELD = "sparekey-name";
/** The full otpauth URI of an HOTP entry sparekey wrote: KeePass's HmacOtp-* fields hold no issuer, algorithm or digits. */
export const KDBX_OTP_FIELD = "sparekey-otp";

function fieldReader(k: Kdbxweb, e: KdbxEntry): (key: string) => string {
  return (key) => {
    const v = e.fields.get(key);
    if (v === undefined) return "";
    return v instanceof k.ProtectedValue ? v.getText() : String(v);
  };
}

/**
 * Every entry with a key, outside the recycle bin. Entries that sparekey wrote carry their store
 * name and recovery codes; other entries get names derived from issuer and account as usual.
 */
function collectEntries(
  k: Kdbxweb,
  db: import("kdbxweb").Kdbx,
): { accounts: ImportedAccount[]; skipped: Skipped[] } {
  const accounts: ImportedAccount[] = [];
  const skipped: Skipped[] = [];
  const bin = db.meta.recycleBinEnabled !== false ? db.meta.recycleBinUuid?.id : undefined;
  const walk = (g: KdbxGroup, path: string[], inBin: boolean) => {
    for (const e of g.entries) {
      const get = fieldReader(k, e);
      const title = get("Title").trim();
      const where = [...path, title || "(untitled)"].join("/");
      try {
        const name = get(KDBX_NAME_FIELD).trim();
        let ours = false;
        if (name) {
          try {
            validateName(name);
            ours = true;
          } catch {
            // A hand-edited name that the store would refuse: treat the entry as anyone's.
          }
        }
        const account = (ours ? ownEntryKey(get) : null) ?? entryKey(get);
        if (account === null) continue;
        if (inBin) {
          skipped.push({ what: where, why: "it is in the recycle bin" });
          continue;
        }
        const recovery = ours ? parseRecoveryNote(get("Notes")) : [];
        accounts.push({
          account,
          ...(ours ? { name } : {}),
          ...(recovery.length > 0 ? { recovery } : {}),
        });
      } catch (err) {
        if (!(err instanceof SkipEntry || err instanceof UserError)) throw err;
        skipped.push({
          what: label(title, get("UserName"), where),
          why: err.message.replace(/^invalid otpauth URI: /, ""),
        });
      }
    }
    for (const sub of g.groups) {
      const isBin = inBin || (bin !== undefined && sub.uuid.id === bin);
      walk(sub, [...path, sub.name ?? ""], isBin);
    }
  };
  for (const root of db.groups) walk(root, [], bin !== undefined && root.uuid.id === bin);
  return { accounts, skipped };
}

/** Turns whatever kdbxweb throws into one line for the user. */
function explain(k: Kdbxweb, e: unknown): UserError {
  if (e instanceof UserError) return e;
  if (e instanceof k.KdbxError) {
    if (e.code === k.Consts.ErrorCodes.InvalidKey)
      return new UserError("wrong password, or the database also needs a key file");
    if (e.code === k.Consts.ErrorCodes.Unsupported || e.code === k.Consts.ErrorCodes.InvalidVersion) {
      // kdbxweb says "Error Unsupported: cipher" (Twofish, for one): keep the last part.
      const what = e.message.replace(/^Error \w+:?\s*/, "") || "version or feature";
      return new UserError(`unsupported KDBX database: ${what} not supported (KeePassXC can change it)`);
    }
  }
  return new UserError("damaged KDBX database: it cannot be read");
}

/** KeePass / KeePassXC database (KDBX 3.1 and 4). */
export const kdbxImport: ImportFormat = {
  id: "kdbx",
  label: "KeePass(XC) database",
  detect(bytes) {
    return startsWith(bytes, SIGNATURE) && (startsWith(bytes, SIG_KDBX, 4) || startsWith(bytes, SIG_KDB, 4));
  },
  isEncrypted() {
    return true;
  },
  async decode({ bytes, password }) {
    if (startsWith(bytes, SIG_KDB, 4))
      throw new UserError("KeePass 1 (.kdb) databases are not supported: save as KDBX");
    if (!kdbxImport.detect(bytes, null, "")) throw new UserError("not a KDBX database");
    if (password === undefined) throw new UserError("this file is encrypted: a password is needed");
    const k = await loadKdbxweb();
    const data = bytes.slice().buffer;
    let db: import("kdbxweb").Kdbx;
    try {
      checkKdfCost(k, data);
      db = await k.Kdbx.load(data, credentialsFor(k, password));
    } catch (e) {
      throw explain(k, e);
    }
    return collectEntries(k, db);
  },
};

// ---------------------------------------------------------------- export

/** Argon2id cost of the files we write. */
export interface KdfParams {
  memoryKiB: number;
  iterations: number;
  parallelism: number;
}

/** 64 MiB and 3 passes: about 0.6 s here with hash-wasm, similar to KeePassXC's 1-second default. */
export const DEFAULT_KDF: KdfParams = { memoryKiB: 64 * 1024, iterations: 3, parallelism: 1 };

/** The `otp` value KeePassXC reads: the canonical URI; Steam is TOTP with 5 digits and `encoder=steam`. */
export function otpField(a: Account): string {
  if (a.kind !== "steam") return formatUri(a);
  // formatUri writes digits=5 for a TOTP; without it KeePassXC would show 6 Steam characters.
  return `${formatUri({ ...a, kind: "totp", digits: 5 })}&encoder=steam`;
}

/**
 * The fields of one entry, the way KeePassXC writes 2FA entries: Title (the issuer, else the last
 * part of the name), UserName, a protected `otp` URI, recovery codes in Notes, and the store name
 * in `sparekey-name`. HOTP goes into KeePass's HmacOtp-* fields (KeePassXC has none), with the
 * full URI in `sparekey-otp`.
 */
export function kdbxEntryFields(
  name: string,
  a: Account,
  recovery: readonly string[] = [],
): Map<string, string | { protected: string }> {
  const f = new Map<string, string | { protected: string }>();
  f.set("Title", a.issuer || (name.split("/").pop() ?? name));
  f.set("UserName", a.account);
  f.set("Notes", recoveryNote(recovery) ?? "");
  if (a.kind === "hotp") {
    f.set("HmacOtp-Secret-Base32", { protected: a.secret });
    f.set("HmacOtp-Counter", String(a.counter));
    // KeePass's HOTP fields hold no issuer, algorithm or digits: keep the whole key beside them.
    f.set(KDBX_OTP_FIELD, { protected: formatUri(a) });
  } else {
    f.set("otp", { protected: otpField(a) });
  }
  f.set(KDBX_NAME_FIELD, name);
  return f;
}

/**
 * Temporarily routes kdbxweb's randomness (salts, seeds, uuids) through the injected source,
 * so that the encoder, like every other, draws only from EncodeOptions.randomBytes.
 */
async function withRandom<T>(
  k: Kdbxweb,
  randomBytes: (n: number) => Uint8Array,
  fn: () => Promise<T>,
): Promise<T> {
  const engine = k.CryptoEngine as { random: (n: number) => Uint8Array };
  const original = engine.random;
  engine.random = (n) => randomBytes(n);
  try {
    return await fn();
  } finally {
    engine.random = original;
  }
}

/** A KDBX 4 export codec with the given Argon2id cost (tests pass a cheap one). */
export function makeKdbxExport(kdf: KdfParams = DEFAULT_KDF): ExportFormat {
  return {
    id: "kdbx",
    label: "KeePass(XC) database (KDBX 4)",
    encrypted: true,
    canPlain: false,
    limitation(a) {
      if (a.kind !== "hotp") return null;
      const odd = a.algorithm !== "SHA1" || a.digits !== 6;
      return {
        why:
          "KeePassXC has no HOTP: written as KeePass HmacOtp-* fields, which KeePass and KeePassDX read" +
          (odd
            ? `; KeePass computes HOTP with SHA-1 and 6 digits only, not ${a.algorithm} with ${a.digits}`
            : ""),
        effect: "degrade",
      };
    },
    async encode(accounts, opts) {
      if (!opts.password) throw new UserError("a KDBX export needs a password");
      const password = opts.password;
      const k = await loadKdbxweb();
      return withRandom(k, opts.randomBytes, async () => {
        const db = k.Kdbx.create(credentialsFor(k, password), "sparekey");
        db.setVersion(4);
        db.setKdf(k.Consts.KdfId.Argon2id);
        const params = db.header.kdfParameters!;
        params.set("M", k.VarDictionary.ValueType.UInt64, k.Int64.from(kdf.memoryKiB * 1024));
        params.set("I", k.VarDictionary.ValueType.UInt64, k.Int64.from(kdf.iterations));
        params.set("P", k.VarDictionary.ValueType.UInt32, kdf.parallelism);
        const root = db.getDefaultGroup();
        const groups = new Map<string, KdbxGroup>([["", root]]);
        const groupFor = (dirs: string[]): KdbxGroup => {
          let path = "";
          let g = root;
          for (const d of dirs) {
            path = path ? `${path}/${d}` : d;
            let next = groups.get(path);
            if (!next) {
              next = db.createGroup(g, d);
              groups.set(path, next);
            }
            g = next;
          }
          return g;
        };
        for (const { name, account, recovery } of accounts) {
          const e = db.createEntry(groupFor(name.split("/").slice(0, -1)));
          for (const [key, v] of kdbxEntryFields(name, account, recovery)) {
            e.fields.set(key, typeof v === "string" ? v : k.ProtectedValue.fromString(v.protected));
          }
        }
        return new Uint8Array(await db.save());
      });
    },
  };
}

/** KDBX 4 with Argon2id and a protected `otp` field per entry (KeePassXC, KeePassDX, KeePass 2.47+). */
export const kdbxExport: ExportFormat = makeKdbxExport();
