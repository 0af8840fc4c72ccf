/**
 * age (https://age-encryption.org/v1) on the runtime's own crypto, so that one decrypt costs well
 * under a millisecond and nothing heavy is loaded on `sparekey code`'s path (the age-encryption
 * package costs ~80 ms to import). Two backends with the same results:
 * - "node": node:crypto (X25519, HKDF, HMAC and ChaCha20-Poly1305 are all native in Node 20);
 * - "web": WebCrypto (X25519, HKDF, HMAC) plus @noble/ciphers' ChaCha20-Poly1305. The Bun binary
 *   uses it: Bun's node:crypto lacks chacha20-poly1305, and importing it there drags in Node's
 *   stream machinery (~4 ms of CPU at start-up), whereas crypto.subtle is built in.
 * Supported: X25519 recipients and identities, scrypt (passphrase) files, binary and ASCII armor;
 * post-quantum hybrid keys are handed to the age-encryption package.
 */
// Type-only: erased at build time, so node:crypto is loaded only by the node backend.
import type { KeyObject, webcrypto } from "node:crypto";
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
// The PKCS #8 wrapper that turns a raw 32-byte X25519 scalar into a private key.
const PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex");

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

/** Constant-time equality of two byte strings of the same length. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i] ^ b[i];
  return acc === 0;
}

function randomBytes(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

/** An X25519 private key as the backend holds it (a KeyObject or a CryptoKey). */
type PrivateKey = object;

/** The primitives age needs; `x25519` throws on an invalid point or an all-zero result. */
interface Backend {
  readonly name: "node" | "web";
  /** The key for a raw 32-byte scalar, and its public point. */
  importScalar(scalar: Uint8Array): Promise<{ key: PrivateKey; publicRaw: Uint8Array }>;
  x25519(key: PrivateKey, point: Uint8Array): Promise<Uint8Array>;
  hkdf(ikm: Uint8Array, salt: Uint8Array, info: string): Promise<Uint8Array>;
  hmac(key: Uint8Array, data: Uint8Array): Promise<Uint8Array>;
  /** ChaCha20-Poly1305 with the 16-byte tag appended; open returns null when authentication fails. */
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array;
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array | null;
}

// HKDF-SHA256: an empty salt means a block of zeros.
const ZERO_SALT = new Uint8Array(32);

/** An HMAC-SHA256 function. */
type Hmac = (key: Uint8Array, data: Uint8Array | string) => Uint8Array;

/**
 * HKDF-SHA256 (RFC 5869) for one 32-byte block, from HMAC: node:crypto's hkdfSync spends ~26 µs a
 * call on argument checks and key objects, against ~15 µs for the two HMACs (bulk reads do three
 * per file), and inside Bun the HMAC is native while WebCrypto's HKDF is two async round trips.
 */
function hkdfFromHmac(hmac: Hmac, ikm: Uint8Array, salt: Uint8Array, info: string): Uint8Array {
  return hmac(hmac(salt.length > 0 ? salt : ZERO_SALT, ikm), `${info}\x01`);
}

async function nodeBackend(): Promise<Backend> {
  const c = await import("node:crypto");
  const hmac: Hmac = (key, data) => c.createHmac("sha256", key).update(data).digest();
  const b64url = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");
  // JWK, not DER: OpenSSL's DER decoders cost ~3 ms on first use. Node requires `x` in a private
  // JWK but derives the public half from `d`; a zero `x` coming back means it did not.
  const zeroX = b64url(new Uint8Array(32));
  const publicRawOf = (key: KeyObject) =>
    Buffer.from(c.createPublicKey(key).export({ format: "jwk" }).x ?? "", "base64url");
  return {
    name: "node",
    async importScalar(scalar) {
      let key = c.createPrivateKey({
        key: { kty: "OKP", crv: "X25519", d: b64url(scalar), x: zeroX },
        format: "jwk",
      });
      let publicRaw = publicRawOf(key);
      if (publicRaw.length !== 32 || publicRaw.every((x) => x === 0)) {
        key = c.createPrivateKey({
          key: Buffer.concat([PKCS8_X25519, scalar]),
          format: "der",
          type: "pkcs8",
        });
        publicRaw = publicRawOf(key);
      }
      return { key, publicRaw };
    },
    x25519: async (key, point) =>
      c.diffieHellman({
        privateKey: key as KeyObject,
        publicKey: c.createPublicKey({ key: { kty: "OKP", crv: "X25519", x: b64url(point) }, format: "jwk" }),
      }),
    hkdf: async (ikm, salt, info) => hkdfFromHmac(hmac, ikm, salt, info),
    hmac: async (key, data) => hmac(key, data),
    seal(key, nonce, plaintext) {
      const e = c.createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG });
      return Buffer.concat([e.update(plaintext), e.final(), e.getAuthTag()]);
    },
    open(key, nonce, sealed) {
      if (sealed.length < TAG) return null;
      const d = c.createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG });
      d.setAuthTag(sealed.subarray(sealed.length - TAG));
      const body = d.update(sealed.subarray(0, sealed.length - TAG));
      try {
        return body.length === 0 ? d.final() : Buffer.concat([body, d.final()]);
      } catch {
        return null;
      }
    },
  };
}

/** Bun's native hash class; constructed with a key, it computes an HMAC. */
type BunHasher = new (
  algorithm: "sha256",
  key: Uint8Array,
) => { update(data: Uint8Array | string): { digest(): Uint8Array } };

async function webBackend(): Promise<Backend> {
  const { chacha20poly1305 } = await import("@noble/ciphers/chacha.js");
  const subtle = globalThis.crypto.subtle;
  // Inside Bun, HMAC (and so HKDF) is native and synchronous: ~1 µs instead of two WebCrypto
  // round trips each, which adds up when `list --codes` decrypts a thousand entries.
  const Hasher = (globalThis as { Bun?: { CryptoHasher: BunHasher } }).Bun?.CryptoHasher;
  const hmacSync: Hmac | undefined =
    Hasher && ((key, data) => new Hasher("sha256", key).update(data).digest());
  const X = { name: "X25519" } as const;
  const basePoint = new Uint8Array(32);
  basePoint[0] = 9;
  const derive = async (key: PrivateKey, point: Uint8Array) => {
    const pub = await subtle.importKey("raw", point, X, false, []);
    return new Uint8Array(
      await subtle.deriveBits({ name: "X25519", public: pub }, key as webcrypto.CryptoKey, 256),
    );
  };
  return {
    name: "web",
    async importScalar(scalar) {
      const key = await subtle.importKey("pkcs8", Buffer.concat([PKCS8_X25519, scalar]), X, false, [
        "deriveBits",
      ]);
      // WebCrypto cannot export the public half of an imported private key: multiply the base point.
      return { key, publicRaw: await derive(key, basePoint) };
    },
    x25519: derive,
    async hkdf(ikm, salt, info) {
      if (hmacSync) return hkdfFromHmac(hmacSync, ikm, salt, info);
      const k = await subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
      const params = { name: "HKDF", hash: "SHA-256", salt, info: new TextEncoder().encode(info) };
      return new Uint8Array(await subtle.deriveBits(params, k, 256));
    },
    async hmac(key, data) {
      if (hmacSync) return hmacSync(key, data);
      const k = await subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      return new Uint8Array(await subtle.sign("HMAC", k, data));
    },
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

/** Which primitives to use: "auto" is "web" inside Bun and "node" elsewhere. */
export type AgeBackend = "auto" | "node" | "web";

const backends = new Map<string, Promise<Backend>>();
function loadBackend(which: AgeBackend): Promise<Backend> {
  const name = which === "auto" ? ("Bun" in globalThis ? "web" : "node") : which;
  let b = backends.get(name);
  if (!b) {
    b = name === "web" ? webBackend() : nodeBackend();
    backends.set(name, b);
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// X25519 keys.

interface Identity {
  key: PrivateKey;
  publicRaw: Uint8Array;
}

function decodeIdentity(s: string): Uint8Array {
  const d = s.startsWith("AGE-SECRET-KEY-1") ? decodeBech32(s) : null;
  if (d?.hrp !== "age-secret-key-" || d.bytes.length !== 32) {
    // Never echo the string: it may be a (mistyped) secret key.
    throw new UserError(
      s.startsWith("AGE-PLUGIN-")
        ? "unsupported age identity type (plugins are not supported; use an AGE-SECRET-KEY-1... key)"
        : "invalid age identity (expected AGE-SECRET-KEY-1...)",
    );
  }
  return d.bytes;
}

// Bulk reads decrypt hundreds of files with the same identities: parse each one (bech32, key
// import, public key derivation) once per process and backend.
const identityCache = new Map<string, Promise<Identity>>();

function parseIdentity(b: Backend, s: string): Promise<Identity> {
  const cacheKey = `${b.name} ${s}`;
  let id = identityCache.get(cacheKey);
  if (!id) {
    const scalar = decodeIdentity(s);
    id = b.importScalar(scalar);
    identityCache.set(cacheKey, id);
  }
  return id;
}

function parseRecipient(s: string): Uint8Array {
  const d = s.startsWith("age1") ? decodeBech32(s) : null;
  if (d?.hrp !== "age" || d.bytes.length !== 32) {
    throw new UserError(`invalid or unsupported age recipient "${s}" (expected an X25519 age1...)`);
  }
  return d.bytes;
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
  mac: Uint8Array;
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

async function headerMac(b: Backend, fileKey: Uint8Array, macInput: Uint8Array): Promise<Uint8Array> {
  return b.hmac(await b.hkdf(fileKey, new Uint8Array(0), "header"), macInput);
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

async function decryptPayload(b: Backend, fileKey: Uint8Array, payload: Uint8Array): Promise<Uint8Array> {
  if (payload.length < 16) throw malformed("truncated: no payload nonce");
  const key = await b.hkdf(fileKey, payload.subarray(0, 16), "payload");
  const body = payload.subarray(16);
  if (body.length < TAG) throw malformed("truncated payload");
  const out: Uint8Array[] = [];
  let off = 0;
  for (let counter = 0; ; counter++) {
    const last = body.length - off <= SEALED_CHUNK;
    const end = last ? body.length : off + SEALED_CHUNK;
    const pt = b.open(key, streamNonce(counter, last), body.subarray(off, end));
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

async function encryptPayload(b: Backend, fileKey: Uint8Array, plaintext: Uint8Array): Promise<Buffer> {
  const nonce = randomBytes(16);
  const key = await b.hkdf(fileKey, nonce, "payload");
  const parts: Uint8Array[] = [nonce];
  const chunks = Math.max(1, Math.ceil(plaintext.length / CHUNK));
  for (let i = 0; i < chunks; i++) {
    const chunk = plaintext.subarray(i * CHUNK, Math.min(plaintext.length, (i + 1) * CHUNK));
    parts.push(b.seal(key, streamNonce(i, i === chunks - 1), chunk));
  }
  return Buffer.concat(parts);
}

async function checkMacAndDecrypt(b: Backend, fileKey: Uint8Array, h: Header): Promise<Uint8Array> {
  if (!equalBytes(await headerMac(b, fileKey, h.macInput), h.mac)) {
    throw malformed("bad header MAC: corrupt or tampered with");
  }
  return decryptPayload(b, fileKey, h.payload);
}

const ZERO_NONCE = new Uint8Array(12);

async function unwrapX25519(
  b: Backend,
  ids: readonly Identity[],
  stanzas: readonly Stanza[],
): Promise<Uint8Array | null> {
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
      let secret: Uint8Array;
      try {
        secret = await b.x25519(id.key, share);
      } catch {
        // OpenSSL and WebCrypto refuse low-order points (an all-zero shared secret), as age does.
        throw malformed("bad X25519 share");
      }
      if (secret.every((x) => x === 0)) throw malformed("bad X25519 share");
      const wrapKey = await b.hkdf(secret, Buffer.concat([share, id.publicRaw]), X25519_LABEL);
      const fileKey = b.open(wrapKey, ZERO_NONCE, s.body);
      if (fileKey) return fileKey;
    }
  }
  return null;
}

async function scryptKey(passphrase: string, salt: Uint8Array, logN: number): Promise<Buffer> {
  // Rare (an encrypted identities file) and slow by design: node:crypto in both runtimes.
  const { scrypt } = await import("node:crypto");
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

/**
 * Post-quantum hybrid keys (ML-KEM-768 + X25519) and tag recipients are rare and need ML-KEM:
 * they go to the age-encryption package, loaded only then.
 */
function isHybrid(key: string): boolean {
  return /^(AGE-SECRET-KEY-PQ-1|age1pq1|age1tag1|age1tagpq1)/.test(key);
}

async function typage(): Promise<AgeCrypto> {
  return (await import("./age-typage.js")).typageCrypto;
}

/** Builds an AgeCrypto on the given primitives (tests cross-check both backends). */
export function createAgeNative(opts: { backend?: AgeBackend } = {}): AgeCrypto {
  const which = opts.backend ?? "auto";
  return {
    async decrypt(identities, file) {
      if (identities.some(isHybrid)) return (await typage()).decrypt(identities, file);
      const b = await loadBackend(which);
      const ids = await Promise.all(identities.map((s) => parseIdentity(b, s)));
      const h = parseHeader(file);
      const fileKey = await unwrapX25519(b, ids, h.stanzas);
      if (!fileKey) throw new UserError("no identity matched this file");
      return checkMacAndDecrypt(b, fileKey, h);
    },

    async encrypt(recipients, plaintext) {
      if (recipients.length === 0) throw new UserError("no age recipients to encrypt to");
      if (recipients.some(isHybrid)) return (await typage()).encrypt(recipients, plaintext);
      const b = await loadBackend(which);
      const points = recipients.map(parseRecipient);
      const fileKey = randomBytes(16);
      const stanzas = await Promise.all(
        points.map(async (point): Promise<Stanza> => {
          const { key: ephemeral, publicRaw: share } = await b.importScalar(randomBytes(32));
          const secret = await b.x25519(ephemeral, point);
          const wrapKey = await b.hkdf(secret, Buffer.concat([share, point]), X25519_LABEL);
          return {
            args: ["X25519", b64NoPad(share)],
            body: Buffer.from(b.seal(wrapKey, ZERO_NONCE, fileKey)),
          };
        }),
      );
      const noMac = Buffer.from(encodeHeaderNoMac(stanzas), "latin1");
      const mac = await headerMac(b, fileKey, noMac);
      const header = Buffer.concat([noMac, Buffer.from(` ${b64NoPad(mac)}\n`, "latin1")]);
      return new Uint8Array(Buffer.concat([header, await encryptPayload(b, fileKey, plaintext)]));
    },

    async decryptWithPassphrase(passphrase, file) {
      const b = await loadBackend(which);
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
      const fileKey = b.open(await scryptKey(passphrase, salt, logN), ZERO_NONCE, s.body);
      if (!fileKey) throw new UserError("wrong passphrase for this age file");
      return checkMacAndDecrypt(b, fileKey, h);
    },

    async generateIdentity() {
      const b = await loadBackend(which);
      const scalar = randomBytes(32);
      return {
        identity: encodeBech32("AGE-SECRET-KEY-", scalar).toUpperCase(),
        recipient: encodeBech32("age", (await b.importScalar(scalar)).publicRaw),
      };
    },

    async toRecipient(identity) {
      if (isHybrid(identity)) return (await typage()).toRecipient(identity);
      const b = await loadBackend(which);
      return encodeBech32("age", (await parseIdentity(b, identity)).publicRaw);
    },
  };
}

/** The default implementation: WebCrypto + @noble/ciphers inside Bun, node:crypto elsewhere. */
export const ageNative: AgeCrypto = createAgeNative();
