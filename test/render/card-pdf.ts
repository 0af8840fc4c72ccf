// Helpers shared by the card tests: run the real poppler/zbar tools on a PDF.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unzlibSync } from "fflate";
import { it } from "vitest";
import { hasTool } from "../e2e/harness.js";

/** `it`, skipped when a tool is missing, except in CI, where a missing tool fails the test. */
export function itWith(tools: string[]) {
  return it.skipIf(!(tools.every(hasTool) || process.env.CI === "true"));
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return r.stdout;
}

/** Runs `fn` on a temporary copy of the PDF on disk. */
function withFile<T>(pdf: Uint8Array, fn: (path: string, dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "sk-card-"));
  try {
    const path = join(dir, "cards.pdf");
    writeFileSync(path, pdf);
    return fn(path, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** pdfinfo's fields (Title, Pages, "Page size"...). */
export function pdfInfo(pdf: Uint8Array): Record<string, string> {
  const out = withFile(pdf, (p) => run("pdfinfo", [p]));
  return Object.fromEntries(
    out
      .split("\n")
      .filter((l) => l.includes(":"))
      .map((l) => [l.slice(0, l.indexOf(":")).trim(), l.slice(l.indexOf(":") + 1).trim()]),
  );
}

/** The page sizes pdfinfo reports, one "W x H" per page. */
export function pageSizes(pdf: Uint8Array): string[] {
  const out = withFile(pdf, (p) => run("pdfinfo", ["-f", "1", "-l", "9999", p]));
  return [...out.matchAll(/^Page\s+\d+ size:\s+([\d.]+ x [\d.]+) pts/gm)].map((m) => m[1]);
}

/** The text of every page (pdftotext, reading order), pages separated by form feeds. */
export function pdfText(pdf: Uint8Array): string {
  return withFile(pdf, (p) => run("pdftotext", [p, "-"]));
}

/** Renders every page at `dpi` and returns what zbarimg decodes from each (stderr ignored: D-Bus noise). */
export function scanQr(pdf: Uint8Array, dpi = 300): string[] {
  return withFile(pdf, (p, dir) => {
    run("pdftoppm", ["-r", String(dpi), "-png", p, join(dir, "page")]);
    const found: string[] = [];
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".png"))) {
      const r = spawnSync("zbarimg", ["-q", "--raw", join(dir, f)], { encoding: "utf8" });
      found.push(...r.stdout.split("\n").filter((l) => l !== ""));
    }
    return found;
  });
}

/** Renders page `page` (1-based) at `dpi` and returns the PNG bytes. */
export function renderPng(pdf: Uint8Array, page: number, dpi: number): Uint8Array {
  return withFile(pdf, (p, dir) => {
    run("pdftoppm", [
      "-r",
      String(dpi),
      "-png",
      "-f",
      String(page),
      "-l",
      String(page),
      "-singlefile",
      p,
      join(dir, "x"),
    ]);
    return new Uint8Array(readFileSync(join(dir, "x.png")));
  });
}

/**
 * Every byte of the file as text, plus every stream inflated: what someone who opened the file
 * with a hex editor could find, compressed or not.
 */
export function rawAndInflated(pdf: Uint8Array): string {
  const latin = new TextDecoder("latin1").decode(pdf);
  const parts = [latin];
  for (const m of latin.matchAll(/(?<!end)stream\r?\n/g)) {
    const start = m.index + m[0].length;
    const end = latin.indexOf("endstream", start);
    if (end < 0) continue;
    try {
      parts.push(new TextDecoder("latin1").decode(unzlibSync(pdf.subarray(start, end))));
    } catch {
      // Not deflated (or trailing newline trouble): the raw bytes are already in `latin`.
    }
  }
  return parts.join("\n");
}
