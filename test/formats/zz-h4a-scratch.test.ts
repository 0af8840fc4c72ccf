import { readFileSync } from "node:fs";
import { test, expect } from "vitest";
import { readQrCodes } from "../../src/io/qrimage.js";
test("qr", async () => {
  const t0 = Date.now();
  const r = await readQrCodes(new Uint8Array(readFileSync("/work/shared/fixtures/more-exports/qr/GoogleAuthenticator_ScreenshotBigQR.jpeg")));
  console.log(r, Date.now() - t0);
  expect(r.length).toBe(1);
});
