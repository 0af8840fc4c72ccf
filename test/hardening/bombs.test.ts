// Resource bombs (issue 8): a 50 MB JSON file, a zip bomb in a "Proton Pass" zip, a 20000x20000
// PNG, a QR code holding ~3 KB of garbage, and key-derivation settings that would take minutes or
// gigabytes. Each is refused or handled within 10 s and 300 MB (peak resident memory of the
// sparekey process, from the kernel via GNU time, else VmHWM). The limits are in src/core/limits.ts.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LIMITS } from "../../src/core/limits.js";
import { FIXTURES, hasTool } from "../e2e/harness.js";
import { ageStore, ensureBuilt, measure, type StoreHome } from "./stores.js";

const MAX_MS = 10_000;
const MAX_BYTES = 300 * 1024 * 1024;
const figures: Record<string, { ms: number; mb: number; code: number; line: string }> = {};

let s: StoreHome;
beforeAll(async () => {
  ensureBuilt();
  s = await ageStore();
}, 120_000);
afterAll(() => {
  console.log(`bombs: ${JSON.stringify(figures)}`);
  s?.home.cleanup();
});

/** CRC-32 (PNG chunks, zip headers). */
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Uint8Array, crc = 0xffffffff): number {
  let c = crc;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return c;
}

/**
 * A raw deflate stream that inflates to `chunk` repeated `times` times, built in milliseconds: a
 * full flush makes every chunk compress to the same bytes, which are then simply repeated.
 */
function deflateRepeated(chunk: Buffer, times: number): Buffer {
  const c = zlib.deflateRawSync(chunk, { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH });
  return Buffer.concat([...Array.from({ length: times }, () => c), Buffer.from([3, 0])]);
}

/** A PNG of width x height 8-bit grey pixels, all black, valid to the last checksum. */
function hugePng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const td = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    td.copy(out, 4);
    out.writeUInt32BE((crc32(td) ^ 0xffffffff) >>> 0, 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const rowsPerChunk = 1000;
  const rows = Buffer.alloc((width + 1) * rowsPerChunk);
  const raw = deflateRepeated(rows, height / rowsPerChunk);
  // zlib wrapper: header, raw deflate, Adler-32 of all the (zero) bytes.
  const n = (width + 1) * height;
  const adler = (((n % 65521) << 16) | 1) >>> 0;
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(adler, 0);
  const idat = Buffer.concat([Buffer.from([0x78, 0xda]), raw, tail]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", idat),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A zip with the given members (deflated data given as is, with the sizes it declares). */
function zip(members: { name: string; data: Buffer; size: number; method?: number }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const name = Buffer.from(m.name, "utf8");
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(m.method ?? 8, 8);
    local.writeUInt32LE(m.data.length, 18);
    local.writeUInt32LE(m.size >>> 0, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(m.method ?? 8, 10);
    central.writeUInt32LE(m.data.length, 20);
    central.writeUInt32LE(m.size >>> 0, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, m.data);
    centrals.push(central, name);
    offset += 30 + name.length + m.data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Math.min(members.length, 0xfffe), 8);
  end.writeUInt16LE(Math.min(members.length, 0xfffe), 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** Runs `sparekey ARGS`, records the figures, and checks the bounds and the one-line outcome. */
async function bounded(
  label: string,
  args: string[],
  opts: { env?: Record<string, string>; ok?: boolean } = {},
) {
  const r = await measure(s, args, { env: opts.env, timeoutMs: 30_000 });
  const line = r.stderr.trimEnd().split("\n").at(-1) ?? "";
  figures[label] = { ms: Math.round(r.ms), mb: Math.round(r.peakBytes / 2 ** 20), code: r.code, line };
  expect(r.timedOut, `${label}: still running after 30 s`).toBe(false);
  expect(r.ms, `${label}: took ${Math.round(r.ms)} ms`).toBeLessThan(MAX_MS);
  expect(r.peakBytes, `${label}: peak memory`).toBeGreaterThan(0);
  expect(r.peakBytes, `${label}: ${Math.round(r.peakBytes / 2 ** 20)} MB`).toBeLessThan(MAX_BYTES);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  if (!opts.ok) {
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trimEnd().split("\n"), r.stderr).toHaveLength(1);
    expect(line).toMatch(/^sparekey: /);
  }
  return { ...r, line };
}

describe("resource bombs: refused or handled within 10 s and 300 MB", () => {
  it("a 50 MB JSON file", async () => {
    const file = join(s.home.dir, "big.json");
    const entry = JSON.stringify({
      type: "totp",
      name: "x",
      issuer: "y",
      info: { secret: "JBSWY3DPEHPK3PXP", digits: 6 },
    });
    const n = Math.ceil((50 * 1024 * 1024) / (entry.length + 1));
    writeFileSync(
      file,
      `{"version":1,"header":{"slots":null,"params":null},"db":{"version":2,"entries":[${Array(n).fill(entry).join(",")}]}}`,
    );
    const r = await bounded("50 MB JSON", ["import", file, "--dry-run"]);
    expect(r.line).toMatch(/big\.json is 50\.0 MiB, larger than any 2FA export \(the limit is 32 MiB\)/);
  });

  it("an endless input (/dev/zero) is read only up to the limit", async () => {
    const r = await bounded("/dev/zero", ["import", "/dev/zero", "--dry-run"]);
    expect(r.line).toMatch(/larger than any 2FA export/);
  });

  it("a zip bomb in a Proton Pass zip (1 GiB of JSON whitespace in 1 MB)", async () => {
    const file = join(s.home.dir, "PassExport.zip");
    const data = deflateRepeated(Buffer.alloc(1 << 20, 0x20), 1024);
    writeFileSync(file, zip([{ name: "Proton Pass/data.json", data, size: 1 << 30 }]));
    const r = await bounded("zip bomb", ["import", file, "--dry-run"]);
    expect(r.line).toMatch(/larger than 64 MiB/);
  });

  it("a zip whose directory lists more files than any export has", async () => {
    const file = join(s.home.dir, "many.zip");
    const members = Array.from({ length: LIMITS.zipEntries + 5 }, (_, i) => ({
      name: i === 0 ? "Proton Pass/data.json" : `f${i}`,
      data: Buffer.alloc(0),
      size: 0,
      method: 0,
    }));
    writeFileSync(file, zip(members));
    const r = await bounded("zip with 10005 files", ["import", file, "--dry-run", "--format", "proton-pass"]);
    expect(r.line).toMatch(/more than 10000 files/);
  });

  describe("a 20000 x 20000 PNG (0.4 MB on disk, 400 MB of pixels)", () => {
    let file = "";
    beforeAll(() => {
      file = join(s.home.dir, "huge.png");
      writeFileSync(file, hugePng(20_000, 20_000));
    });
    it("import", async () => {
      const r = await bounded("20000x20000 PNG (import)", ["import", file, "--dry-run"]);
      expect(r.line).toMatch(/huge\.png: the image is 20000 × 20000 pixels, too large/);
    });
    it("add --qr", async () => {
      const r = await bounded("20000x20000 PNG (add --qr)", ["add", "--qr", file]);
      expect(r.line).toMatch(/huge\.png: the image is 20000 × 20000 pixels, too large/);
    });
  });

  describe("a QR code holding ~3 KB of garbage", () => {
    let file = "";
    beforeAll(() => {
      if (!hasTool("qrencode") && process.env.CI) throw new Error("qrencode is missing");
      file = join(s.home.dir, "garbage.png");
      const garbage = Buffer.alloc(2900);
      for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) % 251;
      const r = spawnSync("qrencode", ["-8", "-l", "L", "-o", file], { input: garbage });
      expect(r.status, String(r.stderr)).toBe(0);
    });
    it("import", async () => {
      const r = await bounded("3 KB garbage QR (import)", ["import", file, "--dry-run"]);
      expect(r.line).toMatch(/garbage\.png: the QR code in the image holds no 2FA key/);
    });
    it("add --qr", async () => {
      const r = await bounded("3 KB garbage QR (add --qr)", ["add", "--qr", file]);
      expect(r.line).toMatch(/garbage\.png: the QR code holds no otpauth:\/\/ key/);
    });
  });

  describe("key-derivation settings that would cost minutes or gigabytes", () => {
    const env = { PW: "test" };
    it("Aegis: scrypt with p = 2^20 (CPU) and with N·r = 4 GiB (memory)", async () => {
      const vault = JSON.parse(
        readFileSync(join(FIXTURES, "authenticator-exports/aegis_encrypted.json"), "utf8"),
      );
      for (const [label, n, r, p] of [
        ["Aegis scrypt p=2^20", 32768, 8, 2 ** 20],
        ["Aegis scrypt 4 GiB", 2 ** 22, 8, 1],
      ] as const) {
        Object.assign(vault.header.slots[0], { n, r, p });
        const file = join(s.home.dir, "kdf-aegis.json");
        writeFileSync(file, JSON.stringify(vault));
        const out = await bounded(label, ["import", file, "--dry-run", "--password-env", "PW"], { env });
        expect(out.line).toMatch(/invalid scrypt parameters/);
      }
    });
    it("Ente: Argon2id with 4 GiB of memory, and with 1000 passes of 1 GiB", async () => {
      const ente = JSON.parse(
        readFileSync(join(FIXTURES, "more-exports/authenticator/ente/encrypted.lowcomplexity.txt"), "utf8"),
      );
      for (const [label, mem, ops] of [
        ["Ente Argon2 4 GiB", 2 ** 32, 1],
        ["Ente Argon2 1000 passes", 2 ** 30, 1000],
      ] as const) {
        ente.kdfParams.memLimit = mem;
        ente.kdfParams.opsLimit = ops;
        const file = join(s.home.dir, "kdf-ente.txt");
        writeFileSync(file, JSON.stringify(ente));
        const out = await bounded(label, ["import", file, "--dry-run", "--password-env", "PW"], { env });
        expect(out.line).toMatch(/key derivation parameters are invalid/);
      }
    });
  });
});
