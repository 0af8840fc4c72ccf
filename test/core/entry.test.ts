import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeAccount } from "../../src/core/account.js";
import {
  addRecoveryCodes,
  formatEntry,
  newEntry,
  parseEntry,
  unusedCodes,
  withAccount,
  withMeta,
} from "../../src/core/entry.js";
import { UserError } from "../../src/core/errors.js";

const KEY = "otpauth://totp/GitHub:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=GitHub";
const HOTP = "otpauth://hotp/Bank:me?secret=JBSWY3DPEHPK3PXP&issuer=Bank&counter=6";

describe("parseEntry", () => {
  it("reads the DESIGN.md example", () => {
    const e = parseEntry(
      `${KEY}\nrecovery: 7xk2-9fqa\nrecovery: m3pd-81zc used 2026-12-04\nverified: 2026-12-04T19:02:11Z\nprinted: 2026-12-04\n`,
    );
    expect(e.account?.issuer).toBe("GitHub");
    expect(e.recovery).toEqual([{ code: "7xk2-9fqa" }, { code: "m3pd-81zc", used: "2026-12-04" }]);
    expect(unusedCodes(e)).toEqual([{ code: "7xk2-9fqa" }]);
    expect(e.meta).toEqual({ verified: "2026-12-04T19:02:11Z", printed: "2026-12-04" });
  });
  it("takes the first otpauth:// line as the key (pass-otp's rule)", () => {
    const e = parseEntry(`hunter2\nnote\n${KEY}\n${HOTP}\n`);
    expect(e.keyIndex).toBe(2);
    expect(e.account?.kind).toBe("totp");
  });
  it("an entry with no key parses with account null", () => {
    expect(parseEntry("just a password\n").account).toBeNull();
    expect(parseEntry("").account).toBeNull();
  });
  it("a broken key line is a one-line UserError without the secret", () => {
    expect(() => parseEntry("otpauth://totp/x?secret=JBSW!!!\n")).toThrow(UserError);
    expect(() => parseEntry("otpauth://totp/x?secret=JBSW!!!\n")).toThrow(/^corrupt entry: invalid base32/);
  });
  it("reads the torn counter of Debian's pass-otp as the last number and repairs it on rewrite", () => {
    const text = `pw\n${HOTP.replace("counter=6", "counter=6counter=7")}\nlogin: me\n`;
    const e = parseEntry(text);
    expect(e.account?.counter).toBe(7);
    const out = formatEntry(e);
    expect(out).toBe(`pw\n${HOTP.replace("counter=6", "counter=7")}\nlogin: me\n`);
    // Advancing it writes one clean counter.
    const next = formatEntry(withAccount(e, { ...e.account!, counter: 8 }));
    expect(next).toBe(`pw\n${HOTP.replace("counter=6", "counter=8")}\nlogin: me\n`);
  });
});

describe("formatEntry", () => {
  it("writes a new entry: key first, then sparekey's lines", () => {
    let e = newEntry(
      makeAccount({ secret: "JBSWY3DPEHPK3PXP", issuer: "GitHub", account: "alice@example.com" }),
    );
    e = addRecoveryCodes(e, ["a1", "b2", "a1"]).entry;
    e = withMeta(e, "verified", "2026-12-04T19:02:11Z");
    expect(formatEntry(e)).toBe(`${KEY}\nrecovery: a1\nrecovery: b2\nverified: 2026-12-04T19:02:11Z\n`);
  });
  it("keeps a pass entry's password on line 1 and its other lines in place", () => {
    const text = `hunter2\nlogin: alice\n${KEY}\nurl: https://github.com\n\n  indented note  \n`;
    const e = parseEntry(text);
    expect(formatEntry(e)).toBe(text);
    const more = addRecoveryCodes(e, ["x-1"]).entry;
    expect(formatEntry(more)).toBe(
      `hunter2\nlogin: alice\n${KEY}\nrecovery: x-1\nurl: https://github.com\n\n  indented note  \n`,
    );
  });
  it("keeps a key line that says the same thing exactly as it was written", () => {
    const odd = "otpauth://totp/ACME%3A%20john?secret=jbsw-y3dp-ehpk-3pxp&issuer=ACME&algorithm=sha1&image=x";
    expect(formatEntry(parseEntry(`${odd}\n`))).toBe(`${odd}\n`);
  });
  it("keeps the lack of a final newline", () => {
    expect(formatEntry(parseEntry(`pw\n${KEY}`))).toBe(`pw\n${KEY}`);
  });
  it("removing a meta value removes its line", () => {
    const e = parseEntry(`${KEY}\nverified: 2026-12-04T19:02:11Z\nnote\n`);
    expect(formatEntry(withMeta(e, "verified", undefined))).toBe(`${KEY}\nnote\n`);
  });
});

/** A line that sparekey does not own: anything but a key line or a `recovery:/verified:/printed:` line. */
const foreignLine = fc
  .string({ unit: "grapheme", maxLength: 40 })
  .map((s) => s.replace(/\n/g, ""))
  .filter((s) => !s.startsWith("otpauth://") && !/^(recovery|verified|printed):/.test(s));

const ownBlock = fc.record({
  codes: fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{4}-[a-z0-9]{4}$/), { maxLength: 4 }),
  verified: fc.option(fc.constant("2026-12-04T19:02:11Z"), { nil: undefined }),
});

describe("foreign lines survive every rewrite byte for byte (property)", () => {
  it("parse then format, with and without changes", () => {
    fc.assert(
      fc.property(
        fc.array(foreignLine, { maxLength: 6 }),
        fc.array(foreignLine, { maxLength: 6 }),
        fc.constantFrom(KEY, HOTP, `${KEY}\r`, HOTP.replace("counter=6", "counter=6counter=7")),
        ownBlock,
        fc.boolean(),
        fc.boolean(),
        (before, after, key, own, finalNewline, withCrlf) => {
          const ownLines = [
            ...own.codes.map((c) => `recovery: ${c}`),
            ...(own.verified ? [`verified: ${own.verified}`] : []),
          ];
          const foreign = [...before, ...after].map((l) => (withCrlf ? `${l}\r` : l));
          const lines = [
            ...foreign.slice(0, before.length),
            key,
            ...ownLines,
            ...foreign.slice(before.length),
          ];
          const text = lines.join("\n") + (finalNewline ? "\n" : "");
          const e = parseEntry(text);
          const torn = key.includes("counter=6counter=7");
          if (!torn) expect(formatEntry(e)).toBe(text);
          // Change everything sparekey owns; the foreign lines must come back unchanged, in order.
          let changed = withAccount(e, { ...e.account!, counter: e.account!.counter + 1, issuer: "Changed" });
          changed = addRecoveryCodes(changed, ["zzzz-9999"]).entry;
          changed = withMeta(changed, "printed", "2026-12-05");
          const out = formatEntry(changed);
          const outLines = out.split("\n");
          const kept = outLines.filter(
            (l) => !l.startsWith("otpauth://") && !/^(recovery|verified|printed):/.test(l),
          );
          // A trailing empty line and the final newline are the same thing once split.
          const norm = (xs: string[]) => {
            const c = [...xs];
            while (c.length > 0 && c[c.length - 1] === "") c.pop();
            return c;
          };
          expect(norm(kept)).toEqual(norm(foreign));
          const reparsed = parseEntry(out);
          expect(reparsed.account?.issuer).toBe("Changed");
          expect(reparsed.recovery.map((r) => r.code)).toContain("zzzz-9999");
          expect(reparsed.meta.printed).toBe("2026-12-05");
          // The password (or whatever was on line 1) stays on line 1.
          if (before.length > 0) expect(outLines[0]).toBe(foreign[0]);
        },
      ),
      { numRuns: 400 },
    );
  });
});
