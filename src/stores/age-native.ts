/**
 * age (https://age-encryption.org/v1) on node:crypto: X25519, HKDF-SHA256, HMAC-SHA256 and
 * ChaCha20-Poly1305 are native in Node 20, so one decrypt costs well under a millisecond and,
 * unlike the age-encryption package, nothing heavy is loaded on `sparekey code`'s path.
 * Bun's node:crypto (BoringSSL) has no chacha20-poly1305 cipher; there, and only there, the AEAD
 * comes from @noble/ciphers, loaded lazily.
 * Supported: X25519 recipients and identities, scrypt (passphrase) files, binary and ASCII armor.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  getCiphers,
  hkdfSync,
  type KeyObject,
  randomBytes,
  scrypt,
  timingSafeEqual,
} from "node:crypto";
import { UserError } from "../core/errors.js";
import type { AgeCrypto } from "./age-crypto.js";

const VERSION_LINE = "age-encryption.org/v1";
const X25519_LABEL = "age-encryption.org/v1/X25519";
const SCRYPT_LABEL = "age-encryption.org/v1/scrypt";
const CHUNK = 64 * 1024;
const TAG = 16;
const SEALED_CHUNK = CHUNK + TAG;
const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";
const ARMOR_END = "-----END AGE ENCRYPTED FILE-----";
/** scrypt with logN 22 already needs 4 GiB; anything above is a denial of service, not a key. */
export const MAX_SCRYPT_LOG_N = 22;
// DER wrappers that turn a raw 32-byte X25519 scalar / point into a KeyObject.
const PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_X25519 = Buffer.from("302a300506032b656e032100", "hex");

// ---------------------------------------------------------------------------------------------
// bech32 (BIP 173) without the 90-character limit, as age uses it.

const BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const BECH32_GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function bech32Polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= BECH32_GEN[i];
  }
  return chk >>> 0;
}

function bech32HrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) >> 5);
  out.push(0);
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) & 31);
  return out;
}

function convertBits(data: ArrayLike<number>, from: number, to: number, pad: boolean): number[] | null {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const maxv = (1 << to) - 1;
  for (let i = 0; i < data.length; i++) {
    acc = (acc << from) | data[i];
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & maxv);
    }
    acc &= (1 << bits) - 1;
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & maxv);
  } else if (bits >= from || ((acc << (to - bits)) & maxv) !== 0) {
    return null;
  }
  return out;
}

/** Encodes bytes as bech32 with a lowercase human-readable part. */
export function encodeBech32(hrp: string, bytes: Uint8Array): string {
  const lower = hrp.toLowerCase();
  const words = convertBits(bytes, 8, 5, true)!;
  const chk = bech32Polymod([...bech32HrpExpand(lower), ...words, 0, 0, 0, 0, 0, 0]) ^ 1;
  let out = `${lower}1`;
  for (const w of words) out += BECH32_CHARSET[w];
  for (let i = 0; i < 6; i++) out += BECH32_CHARSET[(chk >>> (5 * (5 - i))) & 31];
  return out;
}

/** Decodes a bech32 string (all lowercase or all uppercase); null when it is not valid bech32. */
export function decodeBech32(s: string): { hrp: string; bytes: Uint8Array } | null {
  const lower = s.toLowerCase();
  if (lower !== s && s.toUpperCase() !== s) return null;
  const sep = lower.lastIndexOf("1");
  if (sep < 1 || lower.length - sep - 1 < 6) return null;
  const hrp = lower.slice(0, sep);
  for (let i = 0; i < hrp.length; i++) {
    const c = hrp.charCodeAt(i);
    if (c < 33 || c > 126) return null;
  }
  const words: number[] = [];
  for (let i = sep + 1; i < lower.length; i++) {
    const w = BECH32_CHARSET.indexOf(lower[i]);
    if (w < 0) return null;
    words.push(w);
  }
  if (bech32Polymod([...bech32HrpExpand(hrp), ...words]) !== 1) return null;
  const bytes = convertBits(words.slice(0, -6), 5, 8, false);
  return bytes ? { hrp, bytes: Uint8Array.from(bytes) } : null;
}

// ---------------------------------------------------------------------------------------------
// Small primitives.

/** Strict, canonical base64 (age rejects padding in headers and non-zero trailing bits). */
function decodeBase64Strict(s: string, padded: boolean): Buffer | null {
  if (!(padded ? /^[A-Za-z0-9+/]*={0,2}$/ : /^[A-Za-z0-9+/]*$/).test(s)) return null;
  if (padded ? s.length % 4 !== 0 : s.length % 4 === 1) return null;
  const b = Buffer.from(s, "base64");
  const again = b.toString("base64");
  return (padded ? again : again.replace(/=+$/, "")) === s ? b : null;
}

function b64NoPad(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64").replace(/=+$/, "");
}

function hkdf32(ikm: Uint8Array, salt: Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync("sha256", ikm, salt, info, 32));
}

/** ChaCha20-Poly1305 with a 16-byte tag appended; open returns null when authentication fails. */
interface Aead {
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array;
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array | null;
}

const nodeAead: Aead = {
  seal(key, nonce, plaintext) {
    const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG });
    return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  },
  open(key, nonce, sealed) {
    if (sealed.length < TAG) return null;
    const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG });
    d.setAuthTag(sealed.subarray(sealed.length - TAG));
    const body = d.update(sealed.subarray(0, sealed.length - TAG));
    try {
      return body.length === 0 ? d.final() : Buffer.concat([body, d.final()]);
    } catch {
      return null;
    }
  },
};

async function nobleAead(): Promise<Aead> {
  const { chacha20poly1305 } = await import("@noble/ciphers/chacha.js");
  return {
    seal: (key, nonce, plaintext) => chacha20poly1305(key, nonce).encrypt(plaintext),
    open(key, nonce, sealed) {
      if (sealed.length < TAG) return null;
      try {
        return chacha20poly1305(key, nonce).decrypt(sealed);
      } catch {
        return null;
      }
    },
  };
}

/** Which ChaCha20-Poly1305 to use: node:crypto when the runtime has it, else @noble/ciphers. */
export type ChachaImpl = "auto" | "node" | "noble";

let autoAead: Promise<Aead> | undefined;
function loadAead(impl: ChachaImpl): Promise<Aead> {
  if (impl === "node") return Promise.resolve(nodeAead);
  if (impl === "noble") return nobleAead();
  autoAead ??= getCiphers().includes("chacha20-poly1305") ? Promise.resolve(nodeAead) : nobleAead();
  return autoAead;
}

// ---------------------------------------------------------------------------------------------
// X25519 keys.

interface Identity {
  key: KeyObject;
  publicRaw: Buffer;
}

function rawPublicOf(key: KeyObject): Buffer {
  return (createPublicKey(key).export({ format: "der", type: "spki" }) as Buffer).subarray(
    SPKI_X25519.length,
  );
}

function privateKeyOf(scalar: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519, scalar]), format: "der", type: "pkcs8" });
}

function publicKeyOf(point: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_X25519, point]), format: "der", type: "spki" });
}

// Bulk reads decrypt hundreds of files with the same identities: parse each one (bech32, key
// import, public key derivation) once per process.
const identityCache = new Map<string, Identity>();

function parseIdentity(s: string): Identity {
  const cached = identityCache.get(s);
  if (cached) return cached;
  const d = s.startsWith("AGE-SECRET-KEY-1") ? decodeBech32(s) : null;
  if (d?.hrp !== "age-secret-key-" || d.bytes.length !== 32) {
    // Never echo the string: it may be a (mistyped) secret key.
    throw new UserError(
      s.startsWith("AGE-SECRET-KEY-PQ-1") || s.startsWith("AGE-PLUGIN-")
        ? "unsupported age identity type (only X25519 AGE-SECRET-KEY-1... keys are supported)"
        : "invalid age identity (expected AGE-SECRET-KEY-1...)",
    );
  }
  const key = privateKeyOf(d.bytes);
  const id = { key, publicRaw: rawPublicOf(key) };
  identityCache.set(s, id);
  return id;
}

function parseRecipient(s: string): Buffer {
  const d = s.startsWith("age1") ? decodeBech32(s) : null;
  if (d?.hrp !== "age" || d.bytes.length !== 32) {
    throw new UserError(`invalid or unsupported age recipient "${s}" (expected an X25519 age1...)`);
  }
  return Buffer.from(d.bytes);
}

// ---------------------------------------------------------------------------------------------
// File format.

interface Stanza {
  args: string[];
  body: Buffer;
}

interface Header {
  stanzas: Stanza[];
  /** The header up to and including "---", which the MAC covers. */
  macInput: Uint8Array;
  mac: Buffer;
  payload: Uint8Array;
}

function malformed(what: string): UserError {
  // The store prefixes its own "cannot decrypt NAME" context; keep this short and secret-free.
  return new UserError(`age: ${what}`);
}

/** Removes ASCII armor when present (strict PEM: 64-column canonical base64, whitespace around). */
function dearmor(file: Uint8Array): Uint8Array {
  let i = 0;
  while (i < file.length && (file[i] === 0x20 || file[i] === 0x09 || file[i] === 0x0a || file[i] === 0x0d)) {
    i++;
  }
  if (file[i] !== 0x2d) return file; // a binary age file starts with "age-encryption.org"
  const text = Buffer.from(file.buffer, file.byteOffset, file.byteLength).toString("latin1");
  const lines = text.trim().replaceAll("\r\n", "\n").split("\n");
  if (lines.shift() !== ARMOR_BEGIN) throw malformed("bad armor header");
  if (lines.pop() !== ARMOR_END) throw malformed("truncated armor: no end line");
  if (lines.length === 0) throw malformed("empty armor");
  for (let j = 0; j < lines.length; j++) {
    const n = lines[j].length;
    if (j < lines.length - 1 ? n !== 64 : n === 0 || n > 64) throw malformed("bad armor line length");
  }
  const bytes = decodeBase64Strict(lines.join(""), true);
  if (!bytes) throw malformed("bad base64 in armor");
  return bytes;
}

/** Wraps a binary age file in ASCII armor, as `age -a` writes it. */
export function armorAge(file: Uint8Array): string {
  const b64 = Buffer.from(file.buffer, file.byteOffset, file.byteLength).toString("base64");
  let out = `${ARMOR_BEGIN}\n`;
  for (let i = 0; i < b64.length; i += 64) out += `${b64.slice(i, i + 64)}\n`;
  return `${out}${ARMOR_END}\n`;
}

/** The next LF-terminated line starting at `pos`, as text, or null when there is no LF. */
function readLine(file: Uint8Array, pos: number): { line: string; next: number } | null {
  const end = file.indexOf(0x0a, pos);
  if (end < 0) return null;
  let line = "";
  for (let i = pos; i < end; i++) {
    const c = file[i];
    // Header lines are printable ASCII.
    if (c < 0x20 || c > 0x7e) return null;
    line += String.fromCharCode(c);
  }
  return { line, next: end + 1 };
}

function parseHeader(raw: Uint8Array): Header {
  const file = dearmor(raw);
  let l = readLine(file, 0);
  if (!l || l.line !== VERSION_LINE) throw malformed("not an age file (unknown version line)");
  const stanzas: Stanza[] = [];
  for (;;) {
    const lineStart = l.next;
    l = readLine(file, lineStart);
    if (!l) throw malformed("truncated header");
    if (l.line.startsWith("---")) {
      if (!l.line.startsWith("--- ")) throw malformed("bad MAC line");
      const mac = decodeBase64Strict(l.line.slice(4), false);
      if (mac?.length !== 32) throw malformed("bad MAC line");
      return { stanzas, macInput: file.subarray(0, lineStart + 3), mac, payload: file.subarray(l.next) };
    }
    if (!l.line.startsWith("-> ")) throw malformed("bad stanza");
    const args = l.line.slice(3).split(" ");
    if (args.some((a) => a.length === 0)) throw malformed("bad stanza arguments");
    const body: Buffer[] = [];
    for (;;) {
      l = readLine(file, l.next);
      if (!l) throw malformed("truncated header");
      if (l.line.length > 64) throw malformed("bad stanza body");
      const b = decodeBase64Strict(l.line, false);
      if (!b) throw malformed("bad stanza body");
      body.push(b);
      if (l.line.length < 64) break;
    }
    stanzas.push({ args, body: Buffer.concat(body) });
  }
}

function encodeHeaderNoMac(stanzas: readonly Stanza[]): string {
  let h = `${VERSION_LINE}\n`;
  for (const s of stanzas) {
    h += `-> ${s.args.join(" ")}\n`;
    const b64 = b64NoPad(s.body);
    for (let i = 0; i < b64.length; i += 64) h += `${b64.slice(i, i + 64)}\n`;
    if (b64.length % 64 === 0) h += "\n";
  }
  return `${h}---`;
}

function headerMac(fileKey: Uint8Array, macInput: Uint8Array): Buffer {
  return createHmac("sha256", hkdf32(fileKey, new Uint8Array(0), "header"))
    .update(macInput)
    .digest();
}

function streamNonce(counter: number, last: boolean): Uint8Array {
  const n = new Uint8Array(12);
  // The counter is 11 bytes big-endian; files here never exceed 2^53 chunks.
  let c = counter;
  for (let i = 10; i >= 0 && c > 0; i--) {
    n[i] = c % 256;
    c = Math.floor(c / 256);
  }
  n[11] = last ? 1 : 0;
  return n;
}

function decryptPayload(aead: Aead, fileKey: Uint8Array, payload: Uint8Array): Uint8Array {
  if (payload.length < 16) throw malformed("truncated: no payload nonce");
  const key = hkdf32(fileKey, payload.subarray(0, 16), "payload");
  const body = payload.subarray(16);
  if (body.length < TAG) throw malformed("truncated payload");
  const out: Uint8Array[] = [];
  let off = 0;
  for (let counter = 0; ; counter++) {
    const last = body.length - off <= SEALED_CHUNK;
    const end = last ? body.length : off + SEALED_CHUNK;
    const pt = aead.open(key, streamNonce(counter, last), body.subarray(off, end));
    if (!pt) throw malformed("payload authentication failed: corrupt or truncated");
    if (last && pt.length === 0 && counter > 0) throw malformed("empty final chunk");
    out.push(pt);
    off = end;
    if (last) break;
  }
  const all = out.length === 1 ? out[0] : Buffer.concat(out);
  // A plain Uint8Array view, as the age-encryption package returns (callers compare with it).
  return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
}

function encryptPayload(aead: Aead, fileKey: Uint8Array, plaintext: Uint8Array): Buffer {
  const nonce = randomBytes(16);
  const key = hkdf32(fileKey, nonce, "payload");
  const parts: Uint8Array[] = [nonce];
  const chunks = Math.max(1, Math.ceil(plaintext.length / CHUNK));
  for (let i = 0; i < chunks; i++) {
    const chunk = plaintext.subarray(i * CHUNK, Math.min(plaintext.length, (i + 1) * CHUNK));
    parts.push(aead.seal(key, streamNonce(i, i === chunks - 1), chunk));
  }
  return Buffer.concat(parts);
}

function checkMacAndDecrypt(aead: Aead, fileKey: Uint8Array, h: Header): Uint8Array {
  if (!timingSafeEqual(headerMac(fileKey, h.macInput), h.mac)) {
    throw malformed("bad header MAC: corrupt or tampered with");
  }
  return decryptPayload(aead, fileKey, h.payload);
}

const ZERO_NONCE = new Uint8Array(12);

function unwrapX25519(aead: Aead, ids: readonly Identity[], stanzas: readonly Stanza[]): Uint8Array | null {
  for (const s of stanzas) {
    if (s.args[0] === "scrypt") {
      throw new UserError("this age file is encrypted with a passphrase, not to an identity");
    }
  }
  for (const id of ids) {
    for (const s of stanzas) {
      if (s.args[0] !== "X25519") continue;
      const share = s.args.length === 2 ? decodeBase64Strict(s.args[1], false) : null;
      if (share?.length !== 32 || s.body.length !== 32) throw malformed("bad X25519 stanza");
      let secret: Buffer;
      try {
        secret = diffieHellman({ privateKey: id.key, publicKey: publicKeyOf(share) });
      } catch {
        // OpenSSL refuses low-order points (an all-zero shared secret), which age forbids too.
        throw malformed("bad X25519 share");
      }
      if (secret.every((b) => b === 0)) throw malformed("bad X25519 share");
      const wrapKey = hkdf32(secret, Buffer.concat([share, id.publicRaw]), X25519_LABEL);
      const fileKey = aead.open(wrapKey, ZERO_NONCE, s.body);
      if (fileKey) return fileKey;
    }
  }
  return null;
}

function scryptKey(passphrase: string, salt: Uint8Array, logN: number): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) => {
    scrypt(
      passphrase,
      Buffer.concat([Buffer.from(SCRYPT_LABEL), salt]),
      32,
      { N, r: 8, p: 1, maxmem: 128 * N * 8 + 16 * 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

/** Builds an AgeCrypto on node:crypto; `chacha` picks the AEAD (tests cross-check both). */
export function createAgeNative(opts: { chacha?: ChachaImpl } = {}): AgeCrypto {
  const impl = opts.chacha ?? "auto";
  return {
    async decrypt(identities, file) {
      const aead = await loadAead(impl);
      const ids = identities.map(parseIdentity);
      const h = parseHeader(file);
      const fileKey = unwrapX25519(aead, ids, h.stanzas);
      if (!fileKey) throw new UserError("no identity matched this file");
      return checkMacAndDecrypt(aead, fileKey, h);
    },

    async encrypt(recipients, plaintext) {
      if (recipients.length === 0) throw new UserError("no age recipients to encrypt to");
      const aead = await loadAead(impl);
      const points = recipients.map(parseRecipient);
      const fileKey = randomBytes(16);
      const stanzas = points.map((point): Stanza => {
        const ephemeral = privateKeyOf(randomBytes(32));
        const share = rawPublicOf(ephemeral);
        const secret = diffieHellman({ privateKey: ephemeral, publicKey: publicKeyOf(point) });
        const wrapKey = hkdf32(secret, Buffer.concat([share, point]), X25519_LABEL);
        return {
          args: ["X25519", b64NoPad(share)],
          body: Buffer.from(aead.seal(wrapKey, ZERO_NONCE, fileKey)),
        };
      });
      const noMac = Buffer.from(encodeHeaderNoMac(stanzas), "latin1");
      const mac = headerMac(fileKey, noMac);
      const header = Buffer.concat([noMac, Buffer.from(` ${b64NoPad(mac)}\n`, "latin1")]);
      return new Uint8Array(Buffer.concat([header, encryptPayload(aead, fileKey, plaintext)]));
    },

    async decryptWithPassphrase(passphrase, file) {
      const aead = await loadAead(impl);
      const h = parseHeader(file);
      const s = h.stanzas.find((x) => x.args[0] === "scrypt");
      if (!s) throw new UserError("this age file is not encrypted with a passphrase");
      if (h.stanzas.length !== 1) throw malformed("an scrypt stanza must be the only one");
      const salt = s.args.length === 3 ? decodeBase64Strict(s.args[1], false) : null;
      if (salt?.length !== 16 || !/^[1-9][0-9]*$/.test(s.args[2]) || s.body.length !== 32) {
        throw malformed("bad scrypt stanza");
      }
      const logN = Number(s.args[2]);
      if (logN > MAX_SCRYPT_LOG_N) {
        throw new UserError(`scrypt work factor 2^${logN} is too high (at most 2^${MAX_SCRYPT_LOG_N})`);
      }
      const fileKey = aead.open(await scryptKey(passphrase, salt, logN), ZERO_NONCE, s.body);
      if (!fileKey) throw new UserError("wrong passphrase for this age file");
      return checkMacAndDecrypt(aead, fileKey, h);
    },

    async generateIdentity() {
      const scalar = randomBytes(32);
      return {
        identity: encodeBech32("AGE-SECRET-KEY-", scalar).toUpperCase(),
        recipient: encodeBech32("age", rawPublicOf(privateKeyOf(scalar))),
      };
    },

    async toRecipient(identity) {
      return encodeBech32("age", parseIdentity(identity).publicRaw);
    },
  };
}

/** The default native implementation (node:crypto's AEAD when present, else @noble/ciphers). */
export const ageNative: AgeCrypto = createAgeNative();
