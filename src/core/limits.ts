import { UserError } from "./errors.js";

/**
 * Resource limits for input that sparekey did not write: export files, zips, images, QR codes
 * and the key-derivation settings inside encrypted exports. A hostile or broken file is refused
 * with one line before it can take much memory or time. Real exports are far below every limit:
 * the largest file in the test corpus is 0.4 MB, a phone screenshot is about 3 megapixels, and
 * the costliest real KDF (Ente "sensitive") is Argon2id with 1 GiB and 4 passes.
 * docs/guarantees.md lists these figures; test/hardening/ checks that they hold.
 */
export const LIMITS = {
  /** An import file larger than this is refused before it is read (32 MiB). */
  importFileBytes: 32 * 1024 * 1024,
  /** Files listed in a zip's central directory. */
  zipEntries: 10_000,
  /** Bytes one zip member may inflate to; inflating stops there (64 MiB). */
  zipEntryBytes: 64 * 1024 * 1024,
  /** Pixels of an image decoded for QR codes (25 megapixels, e.g. 5000 × 5000: ~100 MB of RGBA). */
  imagePixels: 25_000_000,
  /** Width or height of an image, in pixels. */
  imageSide: 20_000,
  /** QR codes read from one image. */
  qrCodesPerImage: 32,
  /** Characters of one QR code's text: the capacity of the largest QR code (version 40, numeric). */
  qrTextChars: 7089,
  /** Accounts in one import. */
  importAccounts: 10_000,
  /** PBKDF2 iterations: Bitwarden's and andOTP's highest setting (2 M, ~5 s in pure JS). */
  pbkdf2Iterations: 2_000_000,
  /** scrypt cost: N at most 2^20, r at most 32, p at most 16, and 128·N·r bytes at most 1 GiB. */
  scryptN: 2 ** 20,
  scryptR: 32,
  scryptP: 16,
  scryptBytes: 1024 * 1024 * 1024,
  /** Argon2 memory in KiB (1 GiB, libsodium's "sensitive" level, which Ente uses at most). */
  argon2MemoryKiB: 1024 * 1024,
  /** Argon2 passes. */
  argon2Passes: 64,
  /** Argon2 memory × passes, in KiB-passes (64 GiB-passes: about a minute on a laptop). */
  argon2Work: 64 * 1024 * 1024,
  /** Argon2 lanes. */
  argon2Parallelism: 16,
  /** AES-KDF rounds (KeePass KDBX 3/4): about a minute at 15 M rounds/s. */
  aesKdfRounds: 1_000_000_000,
} as const;

/** "32 MiB", "1.5 KiB": a byte count for messages. */
export function formatBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}

/** Refuses an import file above {@link LIMITS.importFileBytes}; `size` comes from stat, before reading. */
export function checkImportSize(size: number, file: string): void {
  if (size > LIMITS.importFileBytes) {
    throw new UserError(
      `${file} is ${formatBytes(size)}, larger than any 2FA export (the limit is ${formatBytes(LIMITS.importFileBytes)})`,
    );
  }
}

/** The width and height an image header declares (PNG, JPEG, GIF, BMP, WebP), or null when unknown. */
export function imageDimensions(b: Uint8Array): { width: number; height: number } | null {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const has = (n: number) => b.length >= n;
  // PNG: signature, then the IHDR chunk with big-endian width and height.
  if (has(24) && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    return { width: dv.getUint32(16), height: dv.getUint32(20) };
  }
  // GIF: logical screen size, little-endian.
  if (has(10) && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) {
    return { width: dv.getUint16(6, true), height: dv.getUint16(8, true) };
  }
  // BMP: BITMAPINFOHEADER width and height (negative height means top-down).
  if (has(26) && b[0] === 0x42 && b[1] === 0x4d) {
    return { width: Math.abs(dv.getInt32(18, true)), height: Math.abs(dv.getInt32(22, true)) };
  }
  // WebP: RIFF....WEBP with a VP8, VP8L or VP8X chunk.
  if (has(30) && dv.getUint32(0) === 0x52494646 && dv.getUint32(8) === 0x57454250) {
    const chunk = dv.getUint32(12);
    if (chunk === 0x56503858) {
      const w = 1 + (b[24] | (b[25] << 8) | (b[26] << 16));
      const h = 1 + (b[27] | (b[28] << 8) | (b[29] << 16));
      return { width: w, height: h };
    }
    if (chunk === 0x5650384c && has(25)) {
      const bits = dv.getUint32(21, true);
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (chunk === 0x56503820)
      return { width: dv.getUint16(26, true) & 0x3fff, height: dv.getUint16(28, true) & 0x3fff };
    return null;
  }
  // JPEG: walk the segments to the first start-of-frame marker.
  if (has(4) && b[0] === 0xff && b[1] === 0xd8) {
    let p = 2;
    while (p + 9 <= b.length) {
      if (b[p] !== 0xff) return null;
      const marker = b[p + 1];
      if (marker === 0xff) {
        p++;
        continue;
      }
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        p += 2;
        continue;
      }
      const len = dv.getUint16(p + 2);
      const sof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
      if (sof) return { width: dv.getUint16(p + 7), height: dv.getUint16(p + 5) };
      if (len < 2) return null;
      p += 2 + len;
    }
    return null;
  }
  return null;
}

/**
 * Refuses an image whose header declares more than {@link LIMITS.imagePixels} pixels (or a side
 * above {@link LIMITS.imageSide}) before it is decoded: a tiny compressed PNG can declare
 * 20000 × 20000 pixels, 1.6 GB once decoded. The caller puts the file name in front.
 */
export function checkImageSize(bytes: Uint8Array): void {
  const d = imageDimensions(bytes);
  if (!d) return;
  if (d.width > LIMITS.imageSide || d.height > LIMITS.imageSide || d.width * d.height > LIMITS.imagePixels) {
    throw new UserError(
      `the image is ${d.width} × ${d.height} pixels, too large to scan for QR codes (the limit is ${LIMITS.imagePixels / 1e6} megapixels)`,
    );
  }
}

/**
 * Checks the cost settings of a key derivation read from a file, so that a hostile export cannot
 * make sparekey spend minutes or gigabytes on it. `what` names the file kind in the message.
 */
export function checkKdf(
  what: string,
  kdf:
    | { kind: "pbkdf2"; iterations: number }
    | { kind: "scrypt"; n: number; r: number; p: number }
    | { kind: "argon2"; memoryKiB: number; passes: number; parallelism: number },
): void {
  const L = LIMITS;
  const bad = (why: string) =>
    new UserError(`${what}: its key derivation settings are out of range (${why})`);
  const whole = (v: number) => Number.isSafeInteger(v) && v >= 1;
  if (kdf.kind === "pbkdf2") {
    if (!whole(kdf.iterations) || kdf.iterations > L.pbkdf2Iterations)
      throw bad(`PBKDF2 iterations must be 1 to ${L.pbkdf2Iterations}`);
  } else if (kdf.kind === "scrypt") {
    const { n, r, p } = kdf;
    if (!whole(n) || n < 2 || (n & (n - 1)) !== 0 || n > L.scryptN)
      throw bad(`scrypt N must be a power of two up to 2^${Math.log2(L.scryptN)}`);
    if (!whole(r) || r > L.scryptR) throw bad(`scrypt r must be 1 to ${L.scryptR}`);
    if (!whole(p) || p > L.scryptP) throw bad(`scrypt p must be 1 to ${L.scryptP}`);
    if (128 * n * r > L.scryptBytes) throw bad(`scrypt would need more than ${formatBytes(L.scryptBytes)}`);
  } else {
    const { memoryKiB, passes, parallelism } = kdf;
    if (!whole(memoryKiB) || memoryKiB > L.argon2MemoryKiB)
      throw bad(`Argon2 memory must be at most ${formatBytes(L.argon2MemoryKiB * 1024)}`);
    if (!whole(passes) || passes > L.argon2Passes) throw bad(`Argon2 passes must be 1 to ${L.argon2Passes}`);
    if (!whole(parallelism) || parallelism > L.argon2Parallelism)
      throw bad(`Argon2 parallelism must be 1 to ${L.argon2Parallelism}`);
    if (memoryKiB * passes > L.argon2Work) throw bad("Argon2 memory × passes is too large");
  }
}
