import fc from "fast-check";
import { expect } from "vitest";
import { UserError } from "../../src/core/errors.js";

/**
 * Property: a real export cut short at any byte, or with any one byte flipped, decodes or throws
 * a UserError, never anything else.
 */
export async function expectOnlyUserErrors(
  base: Uint8Array,
  decode: (bytes: Uint8Array) => Promise<unknown>,
  numRuns: number,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 1, max: 255 }), fc.boolean()),
      async ([i, x, cut]) => {
        const b = cut ? base.slice(0, i) : base.slice();
        if (!cut) b[i] ^= x;
        try {
          await decode(b);
        } catch (e) {
          expect(e).toBeInstanceOf(UserError);
        }
      },
    ),
    { numRuns },
  );
}
