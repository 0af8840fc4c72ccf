import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import { checkImageSize, LIMITS } from "../core/limits.js";

type Reader = typeof import("zxing-wasm/reader");

let ready: Promise<Reader> | undefined;

/**
 * Where the wasm file is at run time: embedded (Bun), beside the bundle (esbuild), or in
 * node_modules when running from the sources (vitest).
 */
async function wasmLocation(): Promise<string> {
  let wasmPath: string;
  try {
    wasmPath = (await import("./zxingwasm.js")).default;
  } catch {
    return createRequire(import.meta.url).resolve("zxing-wasm/reader/zxing_reader.wasm");
  }
  if (isAbsolute(wasmPath) || /^[A-Za-z]:[\\/]/.test(wasmPath)) return wasmPath;
  return fileURLToPath(new URL(wasmPath, import.meta.url));
}

/** Loads zxing-wasm with the bundled wasm bytes; nothing is fetched from the network. */
async function loadReader(): Promise<Reader> {
  const reader = await import("zxing-wasm/reader");
  const bytes = await readFile(await wasmLocation());
  const wasmBinary = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  await reader.prepareZXingModule({ overrides: { wasmBinary }, fireImmediately: true });
  return reader;
}

/**
 * Decodes every QR code in a PNG/JPEG/GIF/BMP image and returns their texts, in reading order.
 * A small code in a big phone screenshot is found too (zxing scans downscaled copies).
 */
export async function readQrCodes(image: Uint8Array): Promise<string[]> {
  // Before decoding: a small file can declare a huge image (core/limits.ts).
  checkImageSize(image);
  ready ??= loadReader();
  const reader = await ready;
  const opts = { formats: ["QRCode" as const], tryHarder: true, maxNumberOfSymbols: LIMITS.qrCodesPerImage };
  let results = await reader.readBarcodes(image, opts);
  if (results.length === 0) {
    // Blurry or low-contrast photos: a slower pass with denoising and no downscale limit.
    results = await reader.readBarcodes(image, { ...opts, tryDenoise: true, downscaleThreshold: 2000 });
  }
  return results
    .filter((r) => r.isValid && r.text !== "" && r.text.length <= LIMITS.qrTextChars)
    .map((r) => r.text);
}
