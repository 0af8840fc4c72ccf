import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type Area,
  CARD_HEIGHT,
  CARD_WIDTH,
  type CardData,
  codeMetrics,
  groupSecret,
  MAX_CODE_SIZE,
  MIN_CODE_SIZE,
  MONO_ADVANCE,
  PAPER_SIZES,
  planCodes,
  renderCards,
  sheetSlots,
} from "../../src/render/card.js";
import { type CardFonts, loadCardFonts } from "../../src/render/fonts.js";
import { itWith, pageSizes, pdfInfo, pdfText, rawAndInflated, scanQr } from "./card-pdf.js";

const SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ";
const URI = `otpauth://totp/GitHub:Zo%C3%AB%20%C3%85str%C3%B6m-N%C3%BA%C3%B1ez?secret=${SECRET}&issuer=GitHub`;
const codes = (n: number, len = 9): string[] =>
  Array.from(
    { length: n },
    (_, i) => `c${String(i + 1).padStart(3, "0")}-${"x".repeat(Math.max(0, len - 5))}`,
  );

/** Every placed code lies inside the area, at its size. */
function insideArea(face: ReturnType<typeof planCodes>[number], area: Area): boolean {
  const s = face.fontSize;
  const m = codeMetrics(s, String(Math.max(...face.codes.map((c) => c.number))).length);
  return face.codes.every((c) => {
    const width = m.prefix + Math.max(...c.lines.map((l) => l.length)) * MONO_ADVANCE * s;
    const height = s * 1.2 + (c.lines.length - 1) * m.wrapLine;
    return c.x >= 0 && c.y >= 0 && c.x + width <= area.width + 0.01 && c.y + height <= area.height + 0.01;
  });
}

describe("planCodes", () => {
  const area = { width: 328, height: 120 };

  it("puts ten short codes on one card in a large font", () => {
    const faces = planCodes(codes(10), area);
    expect(faces).toHaveLength(1);
    expect(faces[0].fontSize).toBeGreaterThanOrEqual(14);
    expect(faces[0].codes.map((c) => c.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it("prefers one column when the codes fit in one", () => {
    const faces = planCodes(codes(2), area);
    expect(faces[0].columns).toBe(1);
    expect(faces[0].fontSize).toBe(MAX_CODE_SIZE);
  });

  it("shrinks and adds columns before spilling onto a second card", () => {
    const faces = planCodes(codes(30), area);
    expect(faces).toHaveLength(1);
    expect(faces[0].columns).toBeGreaterThan(1);
    expect(faces[0].fontSize).toBeLessThan(MAX_CODE_SIZE);
  });

  it("flows many codes onto a second card rather than dropping any", () => {
    const faces = planCodes(codes(60), area);
    expect(faces.length).toBeGreaterThanOrEqual(2);
    expect(faces.flatMap((f) => f.codes.map((c) => c.code))).toEqual(codes(60));
    // Every card uses the same size: the largest that needs no more cards than the smallest.
    expect(new Set(faces.map((f) => f.fontSize)).size).toBe(1);
  });

  it("uses the larger area of continuation cards", () => {
    const small = { width: 190, height: 100 };
    const faces = planCodes(codes(40), small, area);
    expect(insideArea(faces[0], small)).toBe(true);
    for (const f of faces.slice(1)) expect(insideArea(f, area)).toBe(true);
  });

  it("never splits a code that fits a column whole, even if a larger split font would fit", () => {
    const list = ["4821 0693", "7730 1184", "2297 5560", "9014 3378", "6652 8041", "3308 7719"];
    for (const width of [150, 196, 240, 328]) {
      for (const f of planCodes(list, { width, height: 105 })) {
        for (const c of f.codes) expect(c.lines).toEqual([c.code]);
      }
    }
  });

  it("wraps a code too long for the card instead of cutting it", () => {
    const long = "A".repeat(90);
    const faces = planCodes([long], area);
    expect(faces[0].codes[0].lines.length).toBeGreaterThan(1);
    expect(faces[0].codes[0].lines.join("")).toBe(long);
  });

  it("places every code exactly once, in order, inside the area (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z0-9-]{1,40}$/), { maxLength: 80 }),
        fc.integer({ min: 150, max: 330 }),
        fc.integer({ min: 60, max: 150 }),
        (list, width, height) => {
          const first = { width, height };
          const rest = { width: 328, height: 130 };
          const faces = planCodes(list, first, rest);
          expect(faces.flatMap((f) => f.codes.map((c) => c.code))).toEqual(list);
          expect(faces.flatMap((f) => f.codes.map((c) => c.number))).toEqual(list.map((_, i) => i + 1));
          faces.forEach((f, i) => {
            expect(f.fontSize).toBeGreaterThanOrEqual(MIN_CODE_SIZE);
            expect(f.fontSize).toBeLessThanOrEqual(MAX_CODE_SIZE);
            expect(insideArea(f, i === 0 ? first : rest)).toBe(true);
            for (const c of f.codes) expect(c.lines.join("")).toBe(c.code);
          });
        },
      ),
      { numRuns: 150 },
    );
  });

  it("returns no faces for no codes", () => {
    expect(planCodes([], area)).toEqual([]);
  });
});

describe("groupSecret and sheetSlots", () => {
  it("groups a secret by 4 and loses nothing (property)", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z2-7]{1,120}$/), (s) => {
        const g = groupSecret(s);
        expect(g.join("")).toBe(s);
        expect(g.slice(0, -1).every((x) => x.length === 4)).toBe(true);
      }),
    );
  });

  it.each(["letter", "a4"] as const)(
    "puts three real-size cards inside a %s sheet with room for marks",
    (paper) => {
      const [w, h] = PAPER_SIZES[paper];
      const slots = sheetSlots(paper);
      expect(slots).toHaveLength(3);
      for (const s of slots) {
        expect(s.x).toBeGreaterThanOrEqual(36);
        expect(s.x + CARD_WIDTH).toBeLessThanOrEqual(w - 36);
        expect(s.y).toBeGreaterThanOrEqual(54);
        expect(s.y + CARD_HEIGHT).toBeLessThanOrEqual(h - 54);
      }
    },
  );
});

describe("renderCards (checked with pdfinfo, pdftotext, pdftoppm, zbarimg)", () => {
  let fonts: CardFonts;
  beforeAll(async () => {
    fonts = await loadCardFonts();
  });

  const unused = ["7xk2-9fqa", "q4mz-77ab", "plok-2211", "zz9z-zz9z"];
  const cards: CardData[] = [
    { name: "github/zoe", issuer: "GitHub", account: "Zoë Åström-Núñez", codes: unused },
    { name: "yandex/dmitry", issuer: "Яндекс", account: "Дмитрий Иванов", codes: ["ya11-ya22"] },
    { name: "greek/sokratis", issuer: "Ελληνικά", account: "Σωκράτης Παπαδόπουλος", codes: [] },
  ];
  const render = (c: CardData[], paper: "card" | "letter" | "a4" = "card", compress = true) =>
    renderCards(c, { paper, date: "2026-12-04", fonts, compress });

  itWith(["pdfinfo"])("sizes pages as 3x5 cards, letter and A4 sheets", async () => {
    expect(pageSizes(await render(cards))).toEqual(["360 x 216", "360 x 216", "360 x 216"]);
    expect(pageSizes(await render(cards, "letter"))).toEqual(["612 x 792"]);
    expect(pageSizes(await render(cards, "a4"))).toEqual(["595.28 x 841.89"]);
    const four = [...cards, { ...cards[0], name: "x/y" }];
    expect(pageSizes(await render(four, "letter"))).toEqual(["612 x 792", "612 x 792"]);
  });

  itWith(["pdfinfo"])("sets the title and the given date as metadata", async () => {
    const info = pdfInfo(await render(cards));
    expect(info.Title).toBe("sparekey recovery card");
    expect(info.CreationDate).toMatch(/2026/);
  });

  itWith(["pdftotext"])("prints names in any script, the date and every code", async () => {
    for (const paper of ["card", "letter", "a4"] as const) {
      const text = pdfText(await render(cards, paper));
      for (const s of ["GitHub", "Zoë Åström-Núñez", "Яндекс", "Дмитрий Иванов", "Σωκράτης Παπαδόπουλος"])
        expect(text).toContain(s);
      for (const c of [...unused, "ya11-ya22"]) expect(text).toContain(c);
      expect(text).toContain("2026-12-04");
      expect(text).toContain("sparekey recovery add greek/sokratis");
      expect(text).not.toContain("some characters");
    }
  });

  itWith(["pdftotext"])("says so on the card when the font lacks some characters of a name", async () => {
    const text = pdfText(
      await render([{ name: "bank/yamada", issuer: "Bank", account: "山田太郎", codes: [] }]),
    );
    expect(text).toContain("Bank");
    expect(text).toContain(
      "(some characters of this name are not in the card font: see sparekey show bank/yamada)",
    );
  });

  itWith(["pdftotext", "pdfinfo"])("continues many codes on a second card and loses none", async () => {
    const many = Array.from({ length: 70 }, (_, i) => `r${String(i).padStart(2, "0")}-${1000 + i * 7}`);
    const pdf = await render([{ name: "a/b", issuer: "A", account: "b", codes: many }]);
    expect(pageSizes(pdf).length).toBeGreaterThanOrEqual(2);
    const text = pdfText(pdf);
    for (const c of many) expect(text).toContain(c);
    expect(text).toContain("card 2 of");
  });

  itWith(["pdftotext", "pdfinfo"])("keeps the secret out of a card printed without it", async () => {
    for (const compress of [true, false]) {
      const pdf = await render(cards, "card", compress);
      const haystack = `${pdfText(pdf)}\n${rawAndInflated(pdf)}\n${JSON.stringify(pdfInfo(pdf))}`;
      for (const needle of [SECRET, "JBSW Y3DP", "otpauth", "secret="])
        expect(haystack).not.toContain(needle);
    }
  });

  itWith(["pdftotext", "pdftoppm", "zbarimg"])(
    "with the key: a QR code that scans back to the URI, the secret in groups, a warning",
    async () => {
      const withKey: CardData = { ...cards[0], key: { uri: URI, secret: SECRET } };
      for (const paper of ["card", "letter"] as const) {
        const pdf = await render([withKey, cards[1]], paper);
        expect(scanQr(pdf)).toEqual([URI]);
        const text = pdfText(pdf);
        expect(text).toContain(groupSecret(SECRET).slice(0, 4).join(" "));
        expect(text).toMatch(/as sensitive as the key itself/);
        for (const c of unused) expect(text).toContain(c);
      }
    },
  );

  itWith(["zbarimg", "pdftoppm"])("scans a long URI with a SHA512 key too", async () => {
    const secret = "A".repeat(103);
    const uri = `otpauth://totp/Some%20Long%20Issuer%20Name:someone.with.a.long.address%40example.com?secret=${secret}&issuer=Some%20Long%20Issuer%20Name&algorithm=SHA512&digits=8`;
    const pdf = await render([{ ...cards[0], codes: codes(16, 11), key: { uri, secret } }]);
    expect(scanQr(pdf)).toEqual([uri]);
  });
});
