import { readFileSync, readdirSync } from "node:fs";
import { test } from "vitest";
import { formatUri } from "../../src/core/uri.js";
import { IMPORT_FORMATS } from "../../src/formats/registry.js";
import { readQrCodes } from "../../src/io/qrimage.js";
const A = "/work/shared/fixtures/authenticator-exports/";
const M = "/work/shared/fixtures/more-exports/authenticator/";
const Q = "/work/shared/fixtures/more-exports/qr/";
const files = [
  ...readdirSync(A).filter((f) => /^(aegis|2fas|bitwarden|ente|plain)/.test(f)).map((f) => A + f),
  ...["2fas", "aegis", "bitwarden", "ente"].flatMap((d) => readdirSync(M + d).filter((f) => f !== "password").map((f) => `${M}${d}/${f}`)),
  ...readdirSync(Q).filter((f) => /png|jpe?g/.test(f)).map((f) => Q + f),
];
const pw: Record<string, string> = { "2fas": "test", aegis: "test", ente: "password" };
test("scratch", async () => {
  for (const f of files) {
    const bytes = new Uint8Array(readFileSync(f));
    let text: string | null = null;
    try { text = new TextDecoder("utf-8", { fatal: true }).decode(bytes); } catch {}
    let fmt;
    for (const [id, load] of Object.entries(IMPORT_FORMATS)) {
      const c = await load().catch(() => null);
      if (c?.detect(bytes, text, f)) { fmt = c; break; }
    }
    if (!fmt) { console.log("NODETECT", f); continue; }
    const enc = fmt.isEncrypted(bytes, text);
    const t0 = Date.now();
    try {
      const d = await fmt.decode({ bytes, fileName: f, password: enc ? (f.includes("more-exports") ? pw[f.split("/").at(-2)!] : "test") : undefined, readQr: readQrCodes });
      console.log(`${f.replace("/work/shared/fixtures/", "")} [${fmt.id}${enc ? ",enc" : ""}] ${Date.now() - t0}ms\n  ${d.accounts.map((a) => formatUri(a.account)).join("\n  ")}\n  skipped: ${JSON.stringify(d.skipped)} ${d.batches ? JSON.stringify(d.batches) : ""}`);
    } catch (e) {
      console.log(`${f} [${fmt.id}] ERROR ${(e as Error).name}: ${(e as Error).message}`);
    }
  }
}, 120000);
