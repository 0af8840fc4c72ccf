import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalSecret, decodeBase32, encodeBase32, normalizeBase32 } from "../../src/core/base32.js";
import { UserError } from "../../src/core/errors.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** RFC 4648 section 10 vectors, padded as the RFC writes them. */
const RFC4648: [string, string][] = [
  ["f", "MY======"],
  ["fo", "MZXQ===="],
  ["foo", "MZXW6==="],
  ["foob", "MZXW6YQ="],
  ["fooba", "MZXW6YTB"],
  ["foobar", "MZXW6YTBOI======"],
];

describe("base32", () => {
  it.each(RFC4648)("RFC 4648: %s <-> %s", (plain, b32) => {
    expect(encodeBase32(new TextEncoder().encode(plain))).toBe(b32.replace(/=+$/, ""));
    expect(new TextDecoder().decode(decodeBase32(b32))).toBe(plain);
    expect(new TextDecoder().decode(decodeBase32(b32.replace(/=+$/, "").toLowerCase()))).toBe(plain);
  });

  it("round trip (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 80 }), (bytes) => {
        const s = encodeBase32(bytes);
        expect(s).toMatch(/^[A-Z2-7]+$/);
        expect(hex(decodeBase32(s))).toBe(hex(bytes));
      }),
    );
  });

  it("leniency (property): lowercase, spaces, dashes, padding all read the same", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 40 }),
        fc.array(fc.constantFrom(" ", "-", "\t", "  "), { minLength: 1, maxLength: 10 }),
        fc.boolean(),
        fc.boolean(),
        (bytes, seps, lower, pad) => {
          const s = encodeBase32(bytes);
          let messy = "";
          [...s].forEach((c, i) => {
            messy += c;
            if (i % 4 === 3 && i < s.length - 1) messy += seps[i % seps.length];
          });
          if (lower) messy = messy.toLowerCase();
          if (pad) messy += "=".repeat((8 - (s.length % 8)) % 8);
          expect(canonicalSecret(messy)).toBe(s);
          expect(normalizeBase32(messy)).toBe(s);
        },
      ),
    );
  });

  it("odd lengths (property): trailing partial bits are dropped", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z2-7]{2,60}$/), (s) => {
        const bytes = decodeBase32(s);
        expect(bytes.length).toBe(Math.floor((s.length * 5) / 8));
        // Re-encoding keeps every whole byte: the canonical form is a prefix-compatible spelling.
        expect(hex(decodeBase32(encodeBase32(bytes)))).toBe(hex(bytes));
      }),
    );
  });

  it.each([
    ["", /empty/],
    ["   ", /empty/],
    ["====", /empty/],
    ["JBSW1", /position 5/],
    ["JBSW8", /position 5/],
    ["JB!W", /position 3/],
    ["A", /too short/],
  ])("rejects %j with a message that holds no secret", (input, msg) => {
    expect(() => decodeBase32(input)).toThrow(UserError);
    expect(() => decodeBase32(input)).toThrow(msg);
  });
});
