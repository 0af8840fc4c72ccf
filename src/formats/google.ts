import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { Account, Algorithm } from "../core/account.js";
import { decodeBase32, encodeBase32 } from "../core/base32.js";
import { UserError } from "../core/errors.js";
import type { BatchPart, Decoded, ExportFormat, ImportedAccount, ImportFormat, Skipped } from "./types.js";
import { decodeUriList, keyLines } from "./uris.js";
import { accountFrom, fromBase64, label, SkipEntry, textOf, toBase64, utf8 } from "./util.js";

/** One OtpParameters message, as read off the wire (unspecified enums are 0). */
interface OtpParameters {
  secret: Uint8Array;
  name: string;
  issuer: string;
  algorithm: number;
  digits: number;
  type: number;
  counter: number;
}

/** One MigrationPayload message. */
interface MigrationPayload {
  otp: OtpParameters[];
  version: number;
  batchSize: number;
  batchIndex: number;
  batchId: number;
}

const ALGORITHMS: Record<number, Algorithm> = { 0: "SHA1", 1: "SHA1", 2: "SHA256", 3: "SHA512" };
const ALGORITHM_CODE: Record<Algorithm, number> = { SHA1: 1, SHA256: 2, SHA512: 3 };

/** A 64-bit varint as a number; counters beyond 2^53 cannot be real, so they are refused. */
function toSafe(v: bigint | string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new UserError("damaged migration code: a counter is out of range");
  return n;
}

function readOtp(bytes: Uint8Array): OtpParameters {
  const r = new BinaryReader(bytes);
  const p: OtpParameters = {
    secret: new Uint8Array(),
    name: "",
    issuer: "",
    algorithm: 0,
    digits: 0,
    type: 0,
    counter: 0,
  };
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === WireType.LengthDelimited) p.secret = r.bytes();
    else if (field === 2 && wire === WireType.LengthDelimited) p.name = r.string();
    else if (field === 3 && wire === WireType.LengthDelimited) p.issuer = r.string();
    else if (field === 4 && wire === WireType.Varint) p.algorithm = r.int32();
    else if (field === 5 && wire === WireType.Varint) p.digits = r.int32();
    else if (field === 6 && wire === WireType.Varint) p.type = r.int32();
    else if (field === 7 && wire === WireType.Varint) p.counter = toSafe(r.int64());
    else r.skip(wire, field);
  }
  return p;
}

/** Reads a MigrationPayload with the protobuf wire reader, skipping fields it does not know. */
export function readPayload(bytes: Uint8Array): MigrationPayload {
  const out: MigrationPayload = { otp: [], version: 0, batchSize: 1, batchIndex: 0, batchId: 0 };
  try {
    const r = new BinaryReader(bytes);
    while (r.pos < r.len) {
      const [field, wire] = r.tag();
      if (field === 1 && wire === WireType.LengthDelimited) out.otp.push(readOtp(r.bytes()));
      else if (field === 2 && wire === WireType.Varint) out.version = r.int32();
      else if (field === 3 && wire === WireType.Varint) out.batchSize = r.int32();
      else if (field === 4 && wire === WireType.Varint) out.batchIndex = r.int32();
      else if (field === 5 && wire === WireType.Varint) out.batchId = r.int32();
      else r.skip(wire, field);
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError("damaged migration code: its data is not a valid payload");
  }
  return out;
}

/**
 * The payload bytes of an `otpauth-migration://offline?data=...` URI. The base64 is taken from
 * the raw query value and only percent-decoded: a `+` in it is base64, never a space.
 */
export function migrationData(uri: string): Uint8Array {
  const m = /^otpauth-migration:\/\/[^?]*\?(.*)$/is.exec(uri.trim());
  if (!m) throw new UserError("invalid migration code: it has no data");
  const raw = m[1]
    .split("&")
    .find((p) => p.toLowerCase().startsWith("data="))
    ?.slice(5);
  if (raw === undefined || raw === "") throw new UserError("invalid migration code: it has no data");
  let b64: string;
  try {
    b64 = decodeURIComponent(raw);
  } catch {
    throw new UserError("invalid migration code: its data is not percent-encoded correctly");
  }
  // Some scanners hand back the value after a form decoder already turned `+` into a space.
  return fromBase64(b64.replace(/ /g, "+"), "the migration data");
}

/** Turns one OtpParameters into an account; unusual fields skip it with the reason. */
function toAccount(p: OtpParameters): ImportedAccount {
  if (p.secret.length === 0) throw new SkipEntry("it has no secret");
  if (p.algorithm === 4) throw new SkipEntry("MD5 codes are not supported");
  const algorithm = ALGORITHMS[p.algorithm];
  if (!algorithm) throw new SkipEntry(`unknown algorithm ${p.algorithm}`);
  if (p.digits !== 0 && p.digits !== 1 && p.digits !== 2)
    throw new SkipEntry(`unknown digit count ${p.digits}`);
  if (p.type !== 0 && p.type !== 1 && p.type !== 2) throw new SkipEntry(`unknown code type ${p.type}`);
  let issuer = p.issuer.trim();
  let account = p.name.trim();
  // Google keeps the whole label in `name`: "Issuer:account", even when `issuer` is set too.
  const colon = account.indexOf(":");
  if (colon >= 0) {
    const prefix = account.slice(0, colon).trim();
    if (issuer === "" || prefix === issuer) {
      issuer = issuer || prefix;
      account = account.slice(colon + 1).trim();
    }
  }
  return {
    account: accountFrom({
      kind: p.type === 1 ? "hotp" : "totp",
      secret: encodeBase32(p.secret),
      issuer,
      account,
      algorithm,
      digits: p.digits === 2 ? 8 : 6,
      counter: p.counter,
    }),
  };
}

/** Decodes one migration URI: its accounts, what was skipped, and where it sits in its batch. */
export function decodeMigration(uri: string): Decoded & { batches: BatchPart[] } {
  const payload = readPayload(migrationData(uri));
  const accounts: ImportedAccount[] = [];
  const skipped: Skipped[] = [];
  payload.otp.forEach((p, i) => {
    try {
      accounts.push(toAccount(p));
    } catch (e) {
      if (!(e instanceof SkipEntry || e instanceof UserError)) throw e;
      skipped.push({ what: label(p.issuer, p.name, `account ${i + 1}`), why: e.message });
    }
  });
  const size = Math.max(1, payload.batchSize);
  return {
    accounts,
    skipped,
    batches: [{ id: payload.batchId, index: Math.min(Math.max(0, payload.batchIndex), size - 1), size }],
  };
}

/** Merges decoded parts in order. */
function merge(parts: Decoded[]): Decoded {
  const batches = parts.flatMap((p) => p.batches ?? []);
  return {
    accounts: parts.flatMap((p) => p.accounts),
    skipped: parts.flatMap((p) => p.skipped),
    ...(batches.length > 0 ? { batches } : {}),
  };
}

const MIGRATION = /^\s*otpauth-migration:\/\//i;

/** Decodes the texts of QR codes (or lines of a text file): migration codes and plain key URIs. */
export function decodeQrTexts(texts: string[]): Decoded {
  const parts: Decoded[] = [];
  let other = 0;
  for (const t of texts) {
    if (MIGRATION.test(t)) parts.push(decodeMigration(t));
    else if (keyLines(t).length > 0) parts.push(decodeUriList(t));
    else other++;
  }
  const out = merge(parts);
  if (other > 0) {
    out.skipped.push({
      what: other === 1 ? "1 QR code" : `${other} QR codes`,
      why: "it holds something other than a 2FA key",
    });
  }
  return out;
}

/** Google Authenticator's "Transfer accounts" codes as text, one `otpauth-migration://` URI a line. */
export const googleImport: ImportFormat = {
  id: "google",
  label: "Google Authenticator migration",
  detect: (_bytes, text) => (text ?? "").split(/\r?\n/).some((l) => MIGRATION.test(l)),
  isEncrypted: () => false,
  async decode({ bytes }) {
    const text = textOf(bytes);
    if (text === null) throw new UserError("not a migration code: the file is not UTF-8 text");
    const lines = text.split(/\r?\n/).filter((l) => MIGRATION.test(l));
    if (lines.length === 0) throw new UserError("no otpauth-migration:// code found in the file");
    return decodeQrTexts(lines.map((l) => l.trim()));
  },
};

/** Whether the bytes start like an image zxing can read (PNG, JPEG, GIF, BMP). */
export function isImage(bytes: Uint8Array): boolean {
  const b = bytes;
  if (b.length < 4) return false;
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return true;
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return true;
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return true;
  return b[0] === 0x42 && b[1] === 0x4d;
}

/** A screenshot or photo of QR codes: Google's transfer codes, or ordinary otpauth:// codes. */
export const qrImageImport: ImportFormat = {
  id: "qr",
  label: "QR code image",
  detect: (bytes) => isImage(bytes),
  isEncrypted: () => false,
  async decode({ bytes, readQr }) {
    if (!isImage(bytes)) throw new UserError("not an image: expected a PNG or JPEG file");
    if (!readQr) throw new UserError("QR images cannot be read here");
    const texts = await readQr(bytes);
    if (texts.length === 0) throw new UserError("no QR code found in the image");
    if (texts.every((t) => !MIGRATION.test(t) && keyLines(t).length === 0)) {
      throw new UserError(
        `the QR code${texts.length > 1 ? "s" : ""} in the image hold${texts.length > 1 ? "" : "s"} no 2FA key`,
      );
    }
    return decodeQrTexts(texts);
  },
};

/** How many accounts go in one QR code: the app itself puts about ten in each. */
export const PER_CODE = 10;

/** Writes one MigrationPayload. */
export function writePayload(accounts: Account[], batch: BatchPart): Uint8Array {
  const w = new BinaryWriter();
  for (const a of accounts) {
    w.tag(1, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).bytes(decodeBase32(a.secret));
    w.tag(2, WireType.LengthDelimited).string(a.account);
    if (a.issuer) w.tag(3, WireType.LengthDelimited).string(a.issuer);
    w.tag(4, WireType.Varint).int32(ALGORITHM_CODE[a.algorithm]);
    w.tag(5, WireType.Varint).int32(a.digits === 8 ? 2 : 1);
    w.tag(6, WireType.Varint).int32(a.kind === "hotp" ? 1 : 2);
    if (a.kind === "hotp") w.tag(7, WireType.Varint).int64(a.counter);
    w.join();
  }
  w.tag(2, WireType.Varint).int32(1);
  w.tag(3, WireType.Varint).int32(batch.size);
  w.tag(4, WireType.Varint).int32(batch.index);
  w.tag(5, WireType.Varint).int32(batch.id);
  return w.finish();
}

/** The `otpauth-migration://` URI of a payload; the base64 is percent-encoded so `+` survives. */
export function migrationUri(payload: Uint8Array): string {
  return `otpauth-migration://offline?data=${encodeURIComponent(toBase64(payload))}`;
}

/** Google Authenticator's transfer QR codes: one PNG per ten accounts. */
export const googleExport: ExportFormat = {
  id: "google",
  label: "Google Authenticator transfer QR codes",
  encrypted: false,
  limitation(a) {
    if (a.kind === "steam") return { why: "Google Authenticator has no Steam codes", effect: "drop" };
    if (a.kind === "totp" && a.period !== 30) {
      return {
        why: `the transfer format has no period (it would use 30 s, not ${a.period} s)`,
        effect: "drop",
      };
    }
    if (a.digits !== 6 && a.digits !== 8) {
      return { why: `the transfer format holds 6 or 8 digits, not ${a.digits}`, effect: "drop" };
    }
    if (a.algorithm !== "SHA1") {
      return {
        why: `Google Authenticator ignores ${a.algorithm} and will show wrong codes`,
        effect: "degrade",
      };
    }
    if (a.digits === 8)
      return { why: "Google Authenticator may show 6 digits instead of 8", effect: "degrade" };
    return null;
  },
  async encode(accounts, opts) {
    const r = opts.randomBytes(4);
    // A positive int32, as the app writes.
    const id = ((r[0] << 24) | (r[1] << 16) | (r[2] << 8) | r[3]) & 0x7fffffff;
    const size = Math.max(1, Math.ceil(accounts.length / PER_CODE));
    const files: { name: string; bytes: Uint8Array; text: string }[] = [];
    for (let index = 0; index < size; index++) {
      const chunk = accounts.slice(index * PER_CODE, (index + 1) * PER_CODE).map((a) => a.account);
      const text = migrationUri(writePayload(chunk, { id, index, size }));
      files.push({ name: `google-${index + 1}-of-${size}.png`, bytes: await qrPng(text), text });
    }
    return { files };
  },
};

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const p of parts) for (const b of p) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function u32(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

function chunk(type: string, data: Uint8Array): Uint8Array[] {
  const t = utf8(type);
  return [u32(data.length), t, data, u32(crc32([t, data]))];
}

/**
 * A black-on-white PNG of the QR code for `text` (error correction M, a 4-module quiet zone).
 * Written here with fflate rather than through qrcode's PNG renderer, which needs Node streams.
 */
export async function qrPng(text: string, scale = 6): Promise<Uint8Array> {
  // @ts-expect-error: the qrcode package ships no types for its pure core module
  const core = (await import("qrcode/lib/core/qrcode.js")) as Partial<QrCore> & { default?: QrCore };
  const { zlibSync } = await import("fflate");
  const create = core.create ?? core.default!.create;
  const qr = create(text, { errorCorrectionLevel: "M" });
  const n = qr.modules.size;
  const margin = 4;
  const side = (n + 2 * margin) * scale;
  // One filter byte (0, none) per row, then 8-bit grey pixels.
  const raw = new Uint8Array(side * (side + 1)).fill(255);
  for (let y = 0; y < side; y++) {
    raw[y * (side + 1)] = 0;
    const my = Math.floor(y / scale) - margin;
    for (let x = 0; x < side; x++) {
      const mx = Math.floor(x / scale) - margin;
      if (mx >= 0 && my >= 0 && mx < n && my < n && qr.modules.get(my, mx)) raw[y * (side + 1) + 1 + x] = 0;
    }
  }
  const ihdr = new Uint8Array([...u32(side), ...u32(side), 8, 0, 0, 0, 0]);
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    ...chunk("IHDR", ihdr),
    ...chunk("IDAT", zlibSync(raw, { level: 9 })),
    ...chunk("IEND", new Uint8Array()),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The part of qrcode's core that builds the module matrix. */
interface QrCore {
  create(
    text: string,
    opts: { errorCorrectionLevel: string },
  ): { modules: { size: number; get(row: number, col: number): number | boolean } };
}
