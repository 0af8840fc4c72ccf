import QRCode from "qrcode";

/** A QR symbol as rows of booleans (true = dark module), without a quiet zone. */
export type QrMatrix = boolean[][];

/**
 * The modules of a QR code for `text`. Error correction L keeps a typical otpauth URI at
 * version 5 or 6, small enough for a 24-line terminal; a screen does not smudge like paper.
 */
export function qrMatrix(text: string, level: "L" | "M" | "Q" | "H" = "L"): QrMatrix {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: level });
  const rows: QrMatrix = [];
  for (let r = 0; r < modules.size; r++) {
    const row: boolean[] = [];
    for (let c = 0; c < modules.size; c++) row.push(modules.get(r, c) === 1);
    rows.push(row);
  }
  return rows;
}

/** Options of the terminal rendering. */
export interface TerminalQrOptions {
  /** Light modules around the symbol; scanners want at least 2 to find the code. */
  margin?: number;
  /**
   * Paint black on white with ANSI colours, so that the code reads the same on dark and light
   * terminals. Without colour, the terminal's foreground paints the LIGHT modules, which is
   * right for the usual light-on-dark terminal (the convention of `qrencode -t UTF8`).
   */
  color?: boolean;
}

/**
 * Renders a QR code with half-block characters, two module rows per text line, so that a
 * typical otpauth URI (version 5, 37 modules) takes 41 columns and 21 lines with a 2-module
 * quiet zone. Returns the lines joined with newlines, ending with one.
 */
export function renderQrTerminal(text: string, opts: TerminalQrOptions = {}): string {
  return renderMatrixTerminal(qrMatrix(text), opts);
}

/** Renders a module matrix as half blocks (see renderQrTerminal). */
export function renderMatrixTerminal(matrix: QrMatrix, opts: TerminalQrOptions = {}): string {
  const margin = Math.max(2, opts.margin ?? 2);
  const color = opts.color ?? true;
  const size = matrix.length;
  const full = size + 2 * margin;
  const dark = (r: number, c: number): boolean => {
    const rr = r - margin;
    const cc = c - margin;
    return rr >= 0 && cc >= 0 && rr < size && cc < size && matrix[rr][cc];
  };
  // With colour the glyph paints dark modules; without, it paints light ones.
  const ink = (r: number, c: number): boolean => (color ? dark(r, c) : !dark(r, c));
  const lines: string[] = [];
  for (let r = 0; r < full; r += 2) {
    let line = "";
    for (let c = 0; c < full; c++) {
      const top = ink(r, c);
      // An odd total leaves the last line a bottom half below the code: paint it light, like the margin.
      const bottom = r + 1 < full ? ink(r + 1, c) : !color;
      line += top && bottom ? "█" : top ? "▀" : bottom ? "▄" : " ";
    }
    lines.push(color ? `\x1b[30;107m${line}\x1b[0m` : line);
  }
  return `${lines.join("\n")}\n`;
}

/** A PNG image of the QR code (error correction M, 8 pixels a module, 4-module quiet zone). */
export async function renderQrPng(text: string): Promise<Uint8Array> {
  const buf = await QRCode.toBuffer(text, { type: "png", errorCorrectionLevel: "M", margin: 4, scale: 8 });
  return new Uint8Array(buf);
}

/** An SVG image of the QR code (error correction M, 4-module quiet zone). */
export async function renderQrSvg(text: string): Promise<string> {
  return QRCode.toString(text, { type: "svg", errorCorrectionLevel: "M", margin: 4 });
}
