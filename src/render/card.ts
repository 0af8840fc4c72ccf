import type { CardFonts } from "./fonts.js";

/** Paper a card PDF is laid out on: one 3x5 inch card per page, or several cards to a sheet. */
export type Paper = "card" | "letter" | "a4";

/** Page sizes in PDF points (1/72 inch), portrait width x height; a card page is landscape. */
export const PAPER_SIZES: Record<Paper, readonly [number, number]> = {
  card: [360, 216],
  letter: [612, 792],
  a4: [595.28, 841.89],
};

/** A 3x5 inch index card, landscape, in points. */
export const CARD_WIDTH = 360;
export const CARD_HEIGHT = 216;

/** What one account's card says. The key is present only when the user asked for it. */
export interface CardData {
  /** The store name, for the `sparekey recovery use NAME` hint. */
  name: string;
  issuer: string;
  account: string;
  /** The unused recovery codes, in stored order. */
  codes: string[];
  /** Only with --with-secret: the otpauth URI (as a QR code) and the base32 secret. */
  key?: { uri: string; secret: string };
}

/** How to render: the paper, the date printed on every card, the fonts to embed. */
export interface RenderOptions {
  paper: Paper;
  /** YYYY-MM-DD, printed on the cards and used as the PDF's creation date. */
  date: string;
  fonts: CardFonts;
  /** Deflate the page streams (default true); tests turn it off to search the raw bytes. */
  compress?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Code layout: pure geometry, so that it can be tested without a PDF.

/** One recovery code placed on a card, relative to the top-left corner of the codes area. */
export interface PlacedCode {
  /** 1-based position among the unused codes. */
  number: number;
  code: string;
  /** The code split into lines; one line unless the code is too long for its column. */
  lines: string[];
  x: number;
  y: number;
}

/** The codes that go on one card face, all in one font size. */
export interface CodeFace {
  fontSize: number;
  columns: number;
  columnWidth: number;
  codes: PlacedCode[];
}

/** The size of a rectangle in points. */
export interface Area {
  width: number;
  height: number;
}

/** Font sizes tried for the codes, largest first: "large" on paper, but never below legible. */
export const MAX_CODE_SIZE = 16;
export const MIN_CODE_SIZE = 8;
const SIZE_STEP = 0.5;
const MAX_COLUMNS = 4;
/** Advance width of every DejaVu Sans Mono glyph, as a fraction of the font size (1233/2048). */
export const MONO_ADVANCE = 1233 / 2048;

/** Horizontal parts of one code's row at font size `s`: tick box, number, code. */
export function codeMetrics(s: number, numberDigits: number) {
  const box = 0.72 * s;
  const numberSize = 0.62 * s;
  const numberWidth = numberDigits * MONO_ADVANCE * numberSize;
  const prefix = box + 0.45 * s + numberWidth + 0.4 * s;
  return {
    box,
    numberSize,
    numberWidth,
    prefix,
    /** Distance between the tops of two single-line rows. */
    pitch: 1.6 * s,
    /** Extra height of each wrapped line of a long code. */
    wrapLine: 1.2 * s,
    gutter: Math.max(10, 1.3 * s),
  };
}

/** Places codes from `start` column by column (at most `cap` per column); null when a column is too narrow. */
function fillFace(
  codes: readonly string[],
  start: number,
  area: Area,
  s: number,
  columns: number,
  cap: number,
  digits: number,
  wrap: boolean,
): CodeFace | null {
  const m = codeMetrics(s, digits);
  const columnWidth = (area.width - (columns - 1) * m.gutter) / columns;
  const perLine = Math.floor((columnWidth - m.prefix) / (MONO_ADVANCE * s) + 1e-9);
  // A column too narrow for even a short code is no layout at all; wrapping is a last resort.
  const longest = Math.max(...codes.slice(start).map((c) => c.length));
  if (perLine < (wrap ? Math.min(6, longest) : longest)) return null;
  const placed: PlacedCode[] = [];
  let i = start;
  for (let col = 0; col < columns && i < codes.length; col++) {
    let y = 0;
    let inColumn = 0;
    while (i < codes.length && inColumn < cap) {
      const code = codes[i];
      const lines: string[] = [];
      for (let k = 0; k < code.length; k += perLine) lines.push(code.slice(k, k + perLine));
      if (lines.length === 0) lines.push("");
      // The last row needs only its glyphs' height, not the gap after it.
      const height = s * 1.2 + (lines.length - 1) * m.wrapLine;
      if (y + height > area.height + 1e-6) break;
      placed.push({ number: i + 1, code, lines, x: col * (columnWidth + m.gutter), y });
      y += m.pitch + (lines.length - 1) * m.wrapLine;
      inColumn++;
      i++;
    }
  }
  return { fontSize: s, columns, columnWidth, codes: placed };
}

/** The best face at size `s` for the codes from `start`: all of them in the fewest columns, else the most. */
function bestFace(
  codes: readonly string[],
  start: number,
  area: Area,
  s: number,
  digits: number,
  wrap: boolean,
) {
  const left = codes.length - start;
  let most: CodeFace | null = null;
  for (let c = 1; c <= MAX_COLUMNS; c++) {
    // Balanced columns first (same number of codes in each), then plain top-to-bottom filling.
    for (const cap of [Math.ceil(left / c), Number.POSITIVE_INFINITY]) {
      const face = fillFace(codes, start, area, s, c, cap, digits, wrap);
      if (!face) continue;
      if (face.codes.length === left) return { face, complete: true };
      if (!most || face.codes.length > most.codes.length) most = face;
    }
  }
  return { face: most, complete: false };
}

/** Flows the codes over as many faces as needed at one font size; null if a face holds none. */
function flowAt(codes: readonly string[], first: Area, rest: Area, s: number, digits: number, wrap: boolean) {
  const faces: CodeFace[] = [];
  let start = 0;
  while (start < codes.length) {
    const { face } = bestFace(codes, start, faces.length === 0 ? first : rest, s, digits, wrap);
    if (!face || face.codes.length === 0) return null;
    faces.push(face);
    start += face.codes.length;
  }
  return faces;
}

/**
 * Lays out recovery codes: the largest font (then the fewest columns) that fits them all on the
 * first face; when they cannot all fit even at the smallest size, they continue on further faces
 * (of size `rest`) in the largest size that needs no more faces than the smallest would. A code
 * is split over lines only when it fits no column whole. No code is ever dropped.
 */
export function planCodes(codes: readonly string[], first: Area, rest: Area = first): CodeFace[] {
  if (codes.length === 0) return [];
  return planWith(codes, first, rest, false) ?? planWith(codes, first, rest, true) ?? onePerFace(codes, rest);
}

function planWith(codes: readonly string[], first: Area, rest: Area, wrap: boolean): CodeFace[] | null {
  const digits = String(codes.length).length;
  const sizes: number[] = [];
  for (let s = MAX_CODE_SIZE; s >= MIN_CODE_SIZE - 1e-9; s -= SIZE_STEP) sizes.push(s);
  for (const s of sizes) {
    const { face, complete } = bestFace(codes, 0, first, s, digits, wrap);
    if (face && complete) return [face];
  }
  const smallest = flowAt(codes, first, rest, MIN_CODE_SIZE, digits, wrap);
  if (!smallest) return null;
  for (const s of sizes) {
    const faces = flowAt(codes, first, rest, s, digits, wrap);
    if (faces && faces.length <= smallest.length) return faces;
  }
  return smallest;
}

/** The last resort for areas too small for even one code: one code per face, rather than losing any. */
function onePerFace(codes: readonly string[], rest: Area): CodeFace[] {
  return codes.map((code, i) => ({
    fontSize: MIN_CODE_SIZE,
    columns: 1,
    columnWidth: rest.width,
    codes: [{ number: i + 1, code, lines: [code], x: 0, y: 0 }],
  }));
}

/** A base32 secret in groups of 4, the way people copy it by hand. */
export function groupSecret(secret: string): string[] {
  return secret.match(/.{1,4}/g) ?? [];
}

/** Where the cards go on a sheet: their top-left corners, three stacked edge to edge, centred. */
export function sheetSlots(paper: Exclude<Paper, "card">): { x: number; y: number }[] {
  const [w, h] = PAPER_SIZES[paper];
  const perSheet = Math.floor((h - 2 * 54) / CARD_HEIGHT);
  const x = (w - CARD_WIDTH) / 2;
  const y0 = (h - perSheet * CARD_HEIGHT) / 2;
  return Array.from({ length: perSheet }, (_, i) => ({ x, y: y0 + i * CARD_HEIGHT }));
}

// ---------------------------------------------------------------------------------------------
// Rendering with pdfkit (loaded only here: it costs over 100 ms to import).

type Doc = PDFKit.PDFDocument;

/** One printed card: an account's header, its share of the codes, and maybe the key. */
interface Face {
  card: CardData;
  header: Header;
  codes: CodeFace | null;
  /** 1-based index among this account's faces, and their count. */
  index: number;
  count: number;
  withKey: boolean;
}

/** The measured header of a card: texts in their chosen sizes. */
interface Header {
  title: { text: string; size: number };
  subtitle: { text: string; size: number } | null;
  note: string | null;
  width: number;
  height: number;
}

const MARGIN = 16;
const INK = "#000000";
const GREY = "#555555";
const FOOTER_SIZE = 6.5;
const META_SIZE = 7;
const NOTE_SIZE = 6.5;
const WARNING_SIZE = 7;
const QR_SIZE = 112;
const KEY_COLUMN = QR_SIZE + 4;
const KEY_GAP = 12;
const RULE_GAP = 5;
const WARNING = "\u26a0 This card holds the 2FA key: it is as sensitive as the key itself.";

/** Card geometry that does not depend on the text. */
const BODY_BOTTOM = CARD_HEIGHT - MARGIN - FOOTER_SIZE * 1.25 - 4;
const WARNING_HEIGHT = WARNING_SIZE * 1.3 + 3;

interface FontProbe {
  hasGlyphForCodePoint(cp: number): boolean;
}

/** Whether the font registered as `fontName` draws every character of `text` (controls aside). */
function coversText(doc: Doc, fontName: string, text: string): boolean {
  doc.font(fontName);
  // pdfkit keeps the fontkit font of an embedded TTF in `_font.font`; fontkit answers coverage.
  const probe = (doc as unknown as { _font: { font: FontProbe } })._font.font;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (/\s/u.test(ch) || cp < 0x20) continue;
    if (!probe.hasGlyphForCodePoint(cp)) return false;
  }
  return true;
}

/** The largest size in `sizes` at which `text` fits in `maxLines` lines of `width`; else the last size. */
function fitSize(doc: Doc, font: string, text: string, width: number, sizes: number[], maxLines: number) {
  doc.font(font);
  for (const size of sizes) {
    doc.fontSize(size);
    const lines = Math.round(doc.heightOfString(text, { width, lineGap: 0 }) / doc.currentLineHeight());
    if (lines <= maxLines) return size;
  }
  return sizes[sizes.length - 1];
}

function textHeight(doc: Doc, font: string, size: number, text: string, width: number): number {
  doc.font(font).fontSize(size);
  return doc.heightOfString(text, { width, lineGap: 0 });
}

/** Chooses the header's texts and sizes so that the issuer and account appear in full. */
function measureHeader(doc: Doc, card: CardData, width: number): Header {
  const issuer = card.issuer.trim();
  const account = card.account.trim();
  const titleText = issuer || account || card.name;
  const subtitleText = issuer && account ? account : null;
  const titleSize = fitSize(doc, "bold", titleText, width, [13, 12, 11, 10, 9, 8], 2);
  const subtitleSize = subtitleText ? fitSize(doc, "sans", subtitleText, width, [10, 9, 8, 7], 2) : 0;
  const covered =
    coversText(doc, "bold", titleText) && (subtitleText === null || coversText(doc, "sans", subtitleText));
  const note = covered
    ? null
    : `(some characters of this name are not in the card font: see sparekey show ${card.name})`;
  let height = textHeight(doc, "bold", titleSize, titleText, width);
  if (subtitleText) height += 1 + textHeight(doc, "sans", subtitleSize, subtitleText, width);
  if (note) height += 1 + textHeight(doc, "sans", NOTE_SIZE, note, width);
  height += 2 + META_SIZE * 1.2;
  return {
    title: { text: titleText, size: titleSize },
    subtitle: subtitleText ? { text: subtitleText, size: subtitleSize } : null,
    note,
    width,
    height,
  };
}

/** Splits every card into faces: codes that do not fit continue on another card. */
function planFaces(doc: Doc, cards: readonly CardData[]): Face[] {
  const faces: Face[] = [];
  const fullWidth = CARD_WIDTH - 2 * MARGIN;
  for (const card of cards) {
    const withKey = card.key !== undefined;
    const firstWidth = withKey ? fullWidth - KEY_COLUMN - KEY_GAP : fullWidth;
    const firstHeader = measureHeader(doc, card, firstWidth);
    const restHeader = withKey ? measureHeader(doc, card, fullWidth) : firstHeader;
    const top = (h: Header) => MARGIN + h.height + RULE_GAP * 2;
    // A little air between the last code and the warning or footer below it.
    const first: Area = {
      width: firstWidth,
      height: BODY_BOTTOM - (withKey ? WARNING_HEIGHT + 4 : 3) - top(firstHeader),
    };
    const rest: Area = { width: fullWidth, height: BODY_BOTTOM - 3 - top(restHeader) };
    const plan = planCodes(card.codes, first, rest);
    const count = Math.max(1, plan.length);
    for (let i = 0; i < count; i++) {
      faces.push({
        card,
        header: i === 0 ? firstHeader : restHeader,
        codes: plan[i] ?? null,
        index: i + 1,
        count,
        withKey: withKey && i === 0,
      });
    }
  }
  return faces;
}

/** Draws the otpauth URI as a QR code of filled rectangles (vector: sharp at any printer resolution). */
async function drawQr(doc: Doc, uri: string, x: number, y: number, size: number): Promise<void> {
  const mod = await import("qrcode");
  const qrcode = (mod as unknown as { default?: typeof mod }).default ?? mod;
  const qr = qrcode.create(uri, { errorCorrectionLevel: "M" });
  const n = qr.modules.size;
  const cell = size / n;
  // Runs of dark modules in a row become one rectangle; a hair of overlap avoids white seams.
  for (let row = 0; row < n; row++) {
    let col = 0;
    while (col < n) {
      if (!qr.modules.get(row, col)) {
        col++;
        continue;
      }
      const start = col;
      while (col < n && qr.modules.get(row, col)) col++;
      doc.rect(x + start * cell, y + row * cell, (col - start) * cell + 0.05, cell + 0.05);
    }
  }
  doc.fillColor(INK).fill();
}

/** Draws the key column: the QR code, then the secret in groups of 4 under it. */
async function drawKey(doc: Doc, key: { uri: string; secret: string }, bottom: number): Promise<void> {
  const x = CARD_WIDTH - MARGIN - QR_SIZE;
  await drawQr(doc, key.uri, x, MARGIN, QR_SIZE);
  const groups = groupSecret(key.secret);
  // As many groups per line as fit the QR's width, in the largest size that fits below it.
  let size = 8;
  let lines: string[] = [];
  for (; size >= 4.5; size -= 0.5) {
    const perLine = Math.max(1, Math.floor((QR_SIZE + size * MONO_ADVANCE) / (5 * size * MONO_ADVANCE)));
    lines = [];
    for (let i = 0; i < groups.length; i += perLine) lines.push(groups.slice(i, i + perLine).join(" "));
    if (MARGIN + QR_SIZE + 4 + lines.length * size * 1.2 <= bottom) break;
  }
  doc.font("mono").fontSize(size).fillColor(INK);
  lines.forEach((line, i) => {
    doc.text(line, x, MARGIN + QR_SIZE + 4 + i * size * 1.2, {
      width: QR_SIZE,
      align: "center",
      lineBreak: false,
    });
  });
}

/** Draws one card face with its top-left corner at the origin of the current transform. */
async function drawFace(doc: Doc, face: Face, date: string): Promise<void> {
  const { card, header } = face;
  let y = MARGIN;
  const x = MARGIN;
  const width = header.width;
  doc.fillColor(INK).font("bold").fontSize(header.title.size);
  doc.text(header.title.text, x, y, { width, lineGap: 0, height: CARD_HEIGHT });
  y += doc.heightOfString(header.title.text, { width, lineGap: 0 });
  if (header.subtitle) {
    y += 1;
    doc.font("sans").fontSize(header.subtitle.size);
    doc.text(header.subtitle.text, x, y, { width, lineGap: 0, height: CARD_HEIGHT });
    y += doc.heightOfString(header.subtitle.text, { width, lineGap: 0 });
  }
  if (header.note) {
    y += 1;
    doc.font("sans").fontSize(NOTE_SIZE).fillColor(GREY);
    doc.text(header.note, x, y, { width, lineGap: 0, height: CARD_HEIGHT });
    y += doc.heightOfString(header.note, { width, lineGap: 0 });
  }
  y += 2;
  const continued = face.index > 1 ? ` \u00b7 continued, card ${face.index} of ${face.count}` : "";
  doc.font("sans").fontSize(META_SIZE).fillColor(GREY);
  doc.text(`printed ${date} \u00b7 ${card.name}${continued}`, x, y, {
    width,
    lineBreak: false,
    ellipsis: true,
    height: META_SIZE * 1.3,
  });
  y += META_SIZE * 1.2 + RULE_GAP;
  doc
    .moveTo(x, y)
    .lineTo(x + width, y)
    .lineWidth(0.6)
    .strokeColor(INK)
    .stroke();
  y += RULE_GAP;

  if (face.codes) drawCodes(doc, face.codes, x, y);
  else if (card.codes.length === 0) {
    doc.font("sans").fontSize(8.5).fillColor(GREY);
    doc.text(
      `No unused recovery codes are stored for this account. Add them with: sparekey recovery add ${card.name}`,
      x,
      y + 4,
      { width, lineGap: 1, height: BODY_BOTTOM - y },
    );
  }

  const bodyBottom = face.withKey ? BODY_BOTTOM - WARNING_HEIGHT : BODY_BOTTOM;
  if (face.withKey && card.key) {
    await drawKey(doc, card.key, bodyBottom);
    // The warning must be read whole: shrink it rather than cut it.
    doc.font("bold").fontSize(WARNING_SIZE).fillColor(INK);
    const room = CARD_WIDTH - 2 * MARGIN;
    doc.fontSize(Math.min(WARNING_SIZE, (WARNING_SIZE * room) / doc.widthOfString(WARNING)));
    doc.text(WARNING, MARGIN, bodyBottom + 3, { lineBreak: false });
  }

  const footerY = CARD_HEIGHT - MARGIN - FOOTER_SIZE * 1.2;
  const pageText = face.count > 1 ? `card ${face.index} of ${face.count}` : "";
  doc.font("sans").fontSize(FOOTER_SIZE).fillColor(GREY);
  const pageWidth = pageText ? doc.widthOfString(pageText) : 0;
  const hint = card.codes.length
    ? `Tick a box when you use a code, then run: sparekey recovery use ${card.name} CODE`
    : `sparekey: ${card.name}`;
  doc.text(hint, MARGIN, footerY, {
    width: CARD_WIDTH - 2 * MARGIN - pageWidth - 8,
    lineBreak: false,
    ellipsis: true,
    height: FOOTER_SIZE * 1.4,
  });
  if (pageText) doc.text(pageText, CARD_WIDTH - MARGIN - pageWidth, footerY, { lineBreak: false });
}

/** Draws a face's codes: a tick box, the number, the code in large monospace. */
function drawCodes(doc: Doc, face: CodeFace, ox: number, oy: number): void {
  const s = face.fontSize;
  const digits = String(Math.max(...face.codes.map((c) => c.number))).length;
  const m = codeMetrics(s, Math.max(digits, 1));
  // The ascent of DejaVu Sans Mono: where pdfkit puts the baseline below the text's top.
  const baseline = 0.928 * s;
  for (const c of face.codes) {
    const x = ox + c.x;
    const y = oy + c.y;
    doc
      .rect(x + 0.3, y + baseline - m.box + 0.3, m.box - 0.6, m.box - 0.6)
      .lineWidth(Math.max(0.6, s / 20))
      .strokeColor(INK)
      .stroke();
    doc.font("mono").fontSize(m.numberSize).fillColor(GREY);
    const num = String(c.number);
    const numX = x + m.box + 0.45 * s + (m.numberWidth - num.length * MONO_ADVANCE * m.numberSize);
    doc.text(num, numX, y + baseline - 0.928 * m.numberSize, { lineBreak: false });
    doc.font("mono").fontSize(s).fillColor(INK);
    c.lines.forEach((line, i) => {
      doc.text(line, x + m.prefix, y + i * m.wrapLine, { lineBreak: false });
    });
  }
}

/** Cut marks around a sheet's cards: short lines in the margin, in line with every card edge. */
function drawCutMarks(doc: Doc, x: number, top: number, cards: number): void {
  const right = x + CARD_WIDTH;
  const bottom = top + cards * CARD_HEIGHT;
  const gap = 6;
  const len = 20;
  doc.lineWidth(0.5).strokeColor(INK);
  for (let i = 0; i <= cards; i++) {
    const y = top + i * CARD_HEIGHT;
    doc
      .moveTo(x - gap - len, y)
      .lineTo(x - gap, y)
      .moveTo(right + gap, y)
      .lineTo(right + gap + len, y);
  }
  for (const cx of [x, right]) {
    doc
      .moveTo(cx, top - gap - len)
      .lineTo(cx, top - gap)
      .moveTo(cx, bottom + gap)
      .lineTo(cx, bottom + gap + len);
  }
  doc.stroke();
  // A faint outline guides scissors between the marks; it falls on the cut, not on the card.
  doc.save().lineWidth(0.3).strokeColor("#bbbbbb").dash(2, { space: 2 });
  for (let i = 0; i < cards; i++) doc.rect(x, top + i * CARD_HEIGHT, CARD_WIDTH, CARD_HEIGHT);
  doc.stroke().undash().restore();
}

/**
 * Renders recovery cards to PDF bytes: one card per page, or three to a letter/A4 sheet with cut
 * marks. The only date in the file is the one passed in (no clock, no randomness).
 */
export async function renderCards(cards: readonly CardData[], opts: RenderOptions): Promise<Uint8Array> {
  const { default: PDFDocument } = await import("pdfkit");
  const created = new Date(`${opts.date}T00:00:00Z`);
  const size = opts.paper === "card" ? [CARD_WIDTH, CARD_HEIGHT] : [...PAPER_SIZES[opts.paper]];
  const doc = new PDFDocument({
    autoFirstPage: false,
    compress: opts.compress ?? true,
    margin: 0,
    size,
    // pdfkit's default Helvetica is read from files a bundle does not have; start in our own font.
    font: opts.fonts.sans as unknown as string,
    info: {
      Title: "sparekey recovery card",
      Creator: "sparekey",
      Producer: "sparekey",
      CreationDate: created,
      ModDate: created,
    },
  });
  const chunks: Uint8Array[] = [];
  const done = new Promise<void>((resolve, reject) => {
    doc.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    doc.on("end", () => resolve());
    doc.on("error", reject);
  });
  doc.registerFont("sans", opts.fonts.sans as unknown as string);
  doc.registerFont("bold", opts.fonts.sansBold as unknown as string);
  doc.registerFont("mono", opts.fonts.mono as unknown as string);

  const faces = planFaces(doc, cards);
  if (opts.paper === "card") {
    for (const face of faces) {
      doc.addPage({ size, margin: 0 });
      await drawFace(doc, face, opts.date);
    }
  } else {
    const slots = sheetSlots(opts.paper);
    const sheets = Math.ceil(faces.length / slots.length);
    for (let sheet = 0; sheet < sheets; sheet++) {
      doc.addPage({ size, margin: 0 });
      const onSheet = faces.slice(sheet * slots.length, (sheet + 1) * slots.length);
      doc.font("sans").fontSize(7.5).fillColor(GREY);
      const sheetNo = sheets > 1 ? ` \u00b7 sheet ${sheet + 1} of ${sheets}` : "";
      doc.text(
        `sparekey recovery cards \u00b7 printed ${opts.date}${sheetNo} \u00b7 print at actual size (100%), then cut along the marks: each card is 5 \u00d7 3 in (127 \u00d7 76 mm)`,
        36,
        24,
        { width: size[0] - 72, lineBreak: true, lineGap: 1, height: 30 },
      );
      drawCutMarks(doc, slots[0].x, slots[0].y, onSheet.length);
      for (let i = 0; i < onSheet.length; i++) {
        doc.save().translate(slots[i].x, slots[i].y);
        await drawFace(doc, onSheet[i], opts.date);
        doc.restore();
      }
    }
  }
  if (faces.length === 0) doc.addPage({ size, margin: 0 });
  doc.end();
  await done;
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
