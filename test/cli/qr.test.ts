// The QR renderings: the terminal one reads back as the same modules and scans with zbarimg once
// rasterised; PNG scans too. These are what `show --qr` and `demo` print and write.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type QrMatrix, qrMatrix, renderQrPng, renderQrSvg, renderQrTerminal } from "../../src/render/qr.js";

const DEMO = "otpauth://totp/Example:demo@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";
const TYPICAL =
  "otpauth://totp/GitHub:alice.smith%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=GitHub";
const tmp = mkdtempSync(join(tmpdir(), "sk-qr-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes are stripped
const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, "");

/** Reads half-block text back into a grid of dark modules (true = dark), quiet zone included. */
function readBack(text: string, color: boolean): boolean[][] {
  const rows: boolean[][] = [];
  for (const line of stripAnsi(text).replace(/\n$/, "").split("\n")) {
    const top: boolean[] = [];
    const bottom: boolean[] = [];
    for (const ch of line) {
      const t = ch === "█" || ch === "▀";
      const b = ch === "█" || ch === "▄";
      // Without colour the glyphs paint the light modules.
      top.push(color ? t : !t);
      bottom.push(color ? b : !b);
    }
    rows.push(top, bottom);
  }
  return rows;
}

/** A plain PBM image of a module grid, `scale` pixels per module, for zbarimg. */
function toPbm(grid: boolean[][], scale = 4): string {
  const h = grid.length * scale;
  const w = grid[0].length * scale;
  const lines = [`P1\n${w} ${h}`];
  for (const row of grid) {
    const line = row.flatMap((d) => Array(scale).fill(d ? "1" : "0")).join(" ");
    for (let i = 0; i < scale; i++) lines.push(line);
  }
  return `${lines.join("\n")}\n`;
}

const zbar = (file: string): string =>
  spawnSync("zbarimg", ["--quiet", "--raw", file], { encoding: "utf8" }).stdout.trim();
const hasZbar = spawnSync("sh", ["-c", "command -v zbarimg"]).status === 0;

describe.each([true, false])("terminal QR (colour %s)", (color) => {
  it("holds exactly the modules of the code, with a quiet zone of at least 2", () => {
    const m: QrMatrix = qrMatrix(DEMO);
    const grid = readBack(renderQrTerminal(DEMO, { color }), color);
    const margin = 2;
    expect(grid[0].length).toBe(m.length + 2 * margin);
    for (let r = 0; r < grid.length; r++) {
      for (let c = 0; c < grid[0].length; c++) {
        const rr = r - margin;
        const cc = c - margin;
        const want = rr >= 0 && cc >= 0 && rr < m.length && cc < m.length ? m[rr][cc] : false;
        expect(grid[r][c], `module ${r},${c}`).toBe(want);
      }
    }
  });
  it("fits an 80x24 terminal for a typical otpauth URI", () => {
    for (const uri of [DEMO, TYPICAL]) {
      const lines = stripAnsi(renderQrTerminal(uri, { color })).trimEnd().split("\n");
      expect(lines.length).toBeLessThanOrEqual(23);
      expect(Math.max(...lines.map((l) => [...l].length))).toBeLessThanOrEqual(80);
    }
  });
  it.skipIf(!hasZbar && !process.env.CI)("scans with zbarimg once rasterised", () => {
    const grid = readBack(renderQrTerminal(TYPICAL, { color }), color);
    const file = join(tmp, `term-${color}.pbm`);
    writeFileSync(file, toPbm(grid));
    expect(zbar(file)).toBe(TYPICAL);
  });
});

describe("QR files", () => {
  it.skipIf(!hasZbar && !process.env.CI)("the PNG scans back to the URI", async () => {
    const file = join(tmp, "q.png");
    writeFileSync(file, await renderQrPng(TYPICAL));
    expect(zbar(file)).toBe(TYPICAL);
  });
  it("the SVG is an SVG of the code with a 4-module quiet zone", async () => {
    const svg = await renderQrSvg(TYPICAL);
    const n = qrMatrix(TYPICAL, "M").length + 8;
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain(`viewBox="0 0 ${n} ${n}"`);
  });
});
