import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeAccount } from "../../src/core/account.js";
import { formatEntry, newEntry, parseEntry, unusedCodes } from "../../src/core/entry.js";
import { UserError } from "../../src/core/errors.js";
import { parseRecoveryCodes, useRecoveryCode } from "../../src/core/recovery.js";

const GITHUB = [
  "0d0a2-b1e94",
  "55fa1-8c3b0",
  "e1f2a-7b9cd",
  "33c0e-a4f21",
  "9ab7d-0e6f3",
  "b04c8-19d2e",
  "7e3f1-c5a80",
  "d2b96-4f0a7",
  "18e5c-6ab3d",
  "f7a02-3d9e1",
  "4c6b9-e0f85",
  "a93d7-25c1b",
  "6f0e4-b8a72",
  "c1d58-9e3f6",
  "2b7a0-d4c19",
  "eabcd-fdeca", // no digit at all: kept because it has the layout of the others
];

// As GitHub's "Download" writes github-recovery-codes.txt, and as its page copies.
const GITHUB_FILE = `${GITHUB.join("\n")}\n`;
const GITHUB_PAGE = `Recovery codes
Keep your recovery codes as safe as your password.

${GITHUB.slice(0, 8)
  .map((c, i) => `${c}\t${GITHUB[i + 8]}`)
  .join("\n")}

Download\tPrint\tCopy
`;

const GOOGLE_CODES = [
  "7041 0682",
  "5127 6359",
  "8351 8034",
  "9730 5427",
  "1186 2243",
  "4219 2350",
  "6602 9917",
  "3358 0471",
  "2075 6148",
  "8890 3312",
];

// Google's Backup-codes-USER.txt: two numbered codes per line, separated by several spaces.
const GOOGLE_FILE = `SAVE YOUR BACKUP CODES
Keep these backup codes somewhere safe but accessible.

1. 7041 0682     6. 4219 2350
2. 5127 6359     7. 6602 9917
3. 8351 8034     8. 3358 0471
4. 9730 5427     9. 2075 6148
5. 1186 2243     10. 8890 3312

(alice@gmail.com)

* You can only use each backup code once.
* Need more backup codes? Visit g.co/2sv
* Generated: Jan 01, 2024
`;
const GOOGLE_ORDER = [0, 5, 1, 6, 2, 7, 3, 8, 4, 9].map((i) => GOOGLE_CODES[i]);

const AWS_CODES = [
  "K7QX2M9PLR4TZB8WN3VD6HC5YJ1FGE0A",
  "R2D2C3POBB8Y4WINGXW1NGT1EF1GHTER",
  "Z9Y8X7W6V5U4T3S2R1Q0PONMLKJIHGFE",
];

describe("parseRecoveryCodes", () => {
  const table: [string, string, string[]][] = [
    ["GitHub codes file (16 codes)", GITHUB_FILE, GITHUB],
    [
      "GitHub page copy: header, tabs, buttons",
      GITHUB_PAGE,
      [...GITHUB.slice(0, 8).flatMap((c, i) => [c, GITHUB[i + 8]])],
    ],
    ["Google backup codes file", GOOGLE_FILE, GOOGLE_ORDER],
    ["Google codes one per line", `${GOOGLE_CODES.join("\n")}\n`, GOOGLE_CODES],
    ["Google codes with a no-break space", "7041\u00a00682\n5127 6359", ["7041 0682", "5127 6359"]],
    ["AWS long codes, CRLF", `${AWS_CODES.join("\r\n")}\r\n`, AWS_CODES],
    [
      "numbered list with dots",
      "1. abcd1234\n2. efgh5678\n10. ijkl9012",
      ["abcd1234", "efgh5678", "ijkl9012"],
    ],
    ["numbered list with parentheses", "1) abcd1234\n2)  efgh5678", ["abcd1234", "efgh5678"]],
    ["bulleted list", "- abcd1234\n* efgh5678\n\u2022 ijkl9012", ["abcd1234", "efgh5678", "ijkl9012"]],
    ["comma-separated", "abcd1234, efgh5678,ijkl9012 ,", ["abcd1234", "efgh5678", "ijkl9012"]],
    ["duplicates ignored", "abcd1234\nabcd1234\nefgh5678, abcd1234", ["abcd1234", "efgh5678"]],
    [
      "Microsoft-style grouped code",
      "Your recovery code:\nABCDE-FGH2J-KLMN3-PQRS4-TUVW5\n",
      ["ABCDE-FGH2J-KLMN3-PQRS4-TUVW5"],
    ],
    ["only prose", "Keep these safe.\nBackup codes\n\n", []],
    ["empty", "", []],
    ["blank lines and spaces", "\n   \n\t\n", []],
    ["short numbers are not codes", "1\n22\n333", []],
    [
      "letter-only codes with a common layout",
      "Codes\nabcdefgh\nijklmnop\nqrstuvwx",
      ["abcdefgh", "ijklmnop", "qrstuvwx"],
    ],
    ["a lone word is not a code", "Recovery\n", []],
  ];
  it.each(table)("%s", (_name, text, want) => {
    expect(parseRecoveryCodes(text)).toEqual(want);
  });

  const noise = fc.oneof(
    fc.string({ unit: fc.constantFrom(..."abcdef0123456789 -.,\t\n)*\u2022ABXYZ:"), maxLength: 200 }),
    fc.string({ maxLength: 200 }),
    fc
      .array(fc.oneof(fc.constantFrom(...GOOGLE_CODES, ...GITHUB, ...AWS_CODES, "Backup codes", "1.", "*")), {
        maxLength: 20,
      })
      .chain((codes) =>
        fc
          .array(fc.constantFrom("\n", ", ", "\t", "    ", "\n\n", "\n1. ", "\n- "), {
            minLength: codes.length,
            maxLength: codes.length,
          })
          .map((seps) => codes.map((c, i) => `${seps[i]}${c}`).join("")),
      ),
  );

  it("never throws, never returns empty or padded codes, no duplicates", () => {
    fc.assert(
      fc.property(noise, (text) => {
        const codes = parseRecoveryCodes(text);
        for (const c of codes) {
          expect(c.length).toBeGreaterThan(0);
          expect(c).toBe(c.trim());
          expect(c).not.toMatch(/\n/);
        }
        expect(new Set(codes).size).toBe(codes.length);
      }),
      { numRuns: 500 },
    );
  });

  it("is idempotent on its own output", () => {
    fc.assert(
      fc.property(noise, (text) => {
        const once = parseRecoveryCodes(text);
        expect(parseRecoveryCodes(once.join("\n"))).toEqual(once);
      }),
      { numRuns: 500 },
    );
  });

  it("survives the round trip through the entry format", () => {
    fc.assert(
      fc.property(noise, (text) => {
        const codes = parseRecoveryCodes(text);
        const entry = {
          ...newEntry(makeAccount({ secret: "JBSWY3DPEHPK3PXP" })),
          recovery: codes.map((code) => ({ code })),
        };
        expect(parseEntry(formatEntry(entry)).recovery.map((r) => r.code)).toEqual(codes);
      }),
      { numRuns: 300 },
    );
  });
});

describe("useRecoveryCode", () => {
  const entry = parseEntry(
    "otpauth://totp/X:y?secret=JBSWY3DPEHPK3PXP&issuer=X\nrecovery: 7041 0682\nrecovery: abcd-1234 used 2026-01-02\nrecovery: efgh-5678\n",
  );

  it("marks the first unused code when none is given", () => {
    const { entry: e, used } = useRecoveryCode(entry, undefined, "2026-12-04");
    expect(used).toEqual({ code: "7041 0682", used: "2026-12-04" });
    expect(unusedCodes(e).length).toBe(1);
    expect(formatEntry(e)).toContain("recovery: 7041 0682 used 2026-12-04\n");
  });

  it("matches a typed code regardless of case, spaces and dashes", () => {
    expect(useRecoveryCode(entry, "70410682", "2026-12-04").used.code).toBe("7041 0682");
    expect(useRecoveryCode(entry, "EFGH5678", "2026-12-04").used.code).toBe("efgh-5678");
  });

  it("refuses unknown and used codes without repeating them", () => {
    expect(() => useRecoveryCode(entry, "zzzz-9999", "2026-12-04")).toThrow(UserError);
    expect(() => useRecoveryCode(entry, "zzzz-9999", "2026-12-04")).not.toThrow(/zzzz/);
    expect(() => useRecoveryCode(entry, "abcd-1234", "2026-12-04")).toThrow(/already used on 2026-01-02/);
  });

  it("says when none is left", () => {
    const e = useRecoveryCode(useRecoveryCode(entry, undefined, "d").entry, undefined, "d").entry;
    expect(() => useRecoveryCode(e, undefined, "d")).toThrow(/no unused/);
  });
});
