import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Account, makeAccount } from "../../src/core/account.js";
import { encodeBase32 } from "../../src/core/base32.js";
import { UserError } from "../../src/core/errors.js";
import { formatUri, parseUri } from "../../src/core/uri.js";

const S = "JBSWY3DPEHPK3PXP";

/** Every deviation FORMATS.md lists, and what sparekey must read from it. */
const DEVIATIONS: { what: string; uri: string; want: Partial<Account> }[] = [
  { what: "lowercase secret", uri: "otpauth://totp/A:b?secret=jbswy3dpehpk3pxp", want: { secret: S } },
  {
    what: "spaces in the secret (%20)",
    uri: "otpauth://totp/A:b?secret=JBSW%20Y3DP%20EHPK%203PXP",
    want: { secret: S },
  },
  {
    what: "spaces in the secret (+)",
    uri: "otpauth://totp/A:b?secret=JBSW+Y3DP+EHPK+3PXP",
    want: { secret: S },
  },
  { what: "dashes in the secret", uri: "otpauth://totp/A:b?secret=JBSW-Y3DP-EHPK-3PXP", want: { secret: S } },
  { what: "= padding", uri: "otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP%3D%3D%3D%3D", want: { secret: S } },
  { what: "= padding, raw", uri: "otpauth://totp/A:b?secret=GEZDGNBV==", want: { secret: "GEZDGNBV" } },
  // 15 characters = 75 bits: 9 whole bytes; the 3 trailing bits are dropped.
  {
    what: "odd length",
    uri: "otpauth://totp/A:b?secret=JBSWY3DPEHPK3PX",
    want: { secret: encodeBase32(new Uint8Array([0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x21, 0xde, 0xad, 0xbe])) },
  },
  {
    what: "no label (Apple)",
    uri: `otpauth://totp?secret=${S}&issuer=Apple`,
    want: { issuer: "Apple", account: "" },
  },
  { what: "no label, no issuer", uri: `otpauth://totp?secret=${S}`, want: { issuer: "", account: "" } },
  { what: "empty path", uri: `otpauth://totp/?secret=${S}`, want: { issuer: "", account: "" } },
  {
    what: "issuer only in the label",
    uri: `otpauth://totp/GitHub:alice?secret=${S}`,
    want: { issuer: "GitHub", account: "alice" },
  },
  {
    what: "issuer only as a parameter",
    uri: `otpauth://totp/alice?secret=${S}&issuer=GitHub`,
    want: { issuer: "GitHub", account: "alice" },
  },
  {
    what: "issuer in both",
    uri: `otpauth://totp/GitHub:alice?secret=${S}&issuer=GitHub`,
    want: { issuer: "GitHub", account: "alice" },
  },
  {
    what: "parameter issuer wins over the label",
    uri: `otpauth://totp/Old:alice?secret=${S}&issuer=New`,
    want: { issuer: "New", account: "alice" },
  },
  {
    what: "%3A with a space after it",
    uri: `otpauth://totp/ACME%20Co%3A%20john%40example.com?secret=${S}`,
    want: { issuer: "ACME Co", account: "john@example.com" },
  },
  {
    what: "%3A without a space",
    uri: `otpauth://totp/ACME%3Ajohn?secret=${S}`,
    want: { issuer: "ACME", account: "john" },
  },
  {
    what: "more than one colon (Aegis: whole label is the account)",
    uri: `otpauth://totp/a:b:c?secret=${S}`,
    want: { issuer: "", account: "a:b:c" },
  },
  {
    what: "more than one colon, issuer parameter",
    uri: `otpauth://totp/a:b:c?secret=${S}&issuer=X`,
    want: { issuer: "X", account: "a:b:c" },
  },
  {
    what: "+ for a space in the query",
    uri: `otpauth://totp/x?secret=${S}&issuer=Big+Bank`,
    want: { issuer: "Big Bank" },
  },
  {
    what: "%20 in the path",
    uri: `otpauth://totp/Big%20Bank:my%20name?secret=${S}`,
    want: { issuer: "Big Bank", account: "my name" },
  },
  {
    what: "+ in the path stays a plus",
    uri: `otpauth://totp/x:a+b%40c.d?secret=${S}`,
    want: { account: "a+b@c.d" },
  },
  {
    what: "lowercase algorithm",
    uri: `otpauth://totp/x?secret=${S}&algorithm=sha256`,
    want: { algorithm: "SHA256" },
  },
  {
    what: "algorithm sha512",
    uri: `otpauth://totp/x?secret=${S}&algorithm=SHA512`,
    want: { algorithm: "SHA512" },
  },
  {
    what: "trailing space in an issuer",
    uri: `otpauth://totp/x?secret=${S}&issuer=GitHub%20`,
    want: { issuer: "GitHub" },
  },
  {
    what: "trailing space in the label issuer",
    uri: `otpauth://totp/GitHub%20:alice?secret=${S}`,
    want: { issuer: "GitHub", account: "alice" },
  },
  {
    what: "otpauth://steam/",
    uri: `otpauth://steam/Steam:gaben?secret=${S}&issuer=Steam`,
    want: { kind: "steam", digits: 5, algorithm: "SHA1", issuer: "Steam", account: "gaben" },
  },
  {
    what: "steam://BASE32 (Bitwarden, Proton)",
    uri: `steam://${S}`,
    want: { kind: "steam", secret: S, digits: 5 },
  },
  {
    what: "encoder=steam (KeePassXC)",
    uri: `otpauth://totp/Steam:gaben?secret=${S}&period=30&digits=5&issuer=Steam&encoder=steam`,
    want: { kind: "steam", digits: 5 },
  },
  {
    what: "extra parameters kept",
    uri: `otpauth://totp/x?secret=${S}&image=https%3A%2F%2Fe.x%2Fi.png&codeDisplay=%7B%22pinned%22%3Afalse%7D`,
    want: {
      extra: [
        ["image", "https%3A%2F%2Fe.x%2Fi.png"],
        ["codeDisplay", "%7B%22pinned%22%3Afalse%7D"],
      ],
    },
  },
  {
    what: "torn counter (Debian pass-otp)",
    uri: `otpauth://hotp/x?secret=${S}&counter=6counter=7`,
    want: { kind: "hotp", counter: 7 },
  },
  {
    what: "torn counter, several times",
    uri: `otpauth://hotp/x?secret=${S}&counter=6counter=7counter=8`,
    want: { kind: "hotp", counter: 8 },
  },
  { what: "hotp without a counter", uri: `otpauth://hotp/x?secret=${S}`, want: { kind: "hotp", counter: 0 } },
  {
    what: "uppercase scheme and type",
    uri: `OTPAUTH://TOTP/x?secret=${S}`,
    want: { kind: "totp", account: "x" },
  },
  {
    what: "digits and period",
    uri: `otpauth://totp/x?secret=${S}&digits=8&period=60`,
    want: { digits: 8, period: 60 },
  },
  { what: "surrounding whitespace", uri: `  otpauth://totp/x?secret=${S}\n`, want: { secret: S } },
  { what: "a fragment", uri: `otpauth://totp/x?secret=${S}#frag`, want: { secret: S } },
  {
    what: "unicode in the label",
    uri: `otpauth://totp/B%C3%BCcher:j%C3%B6rg?secret=${S}`,
    want: { issuer: "Bücher", account: "jörg" },
  },
];

describe("parseUri reads every deviation of FORMATS.md", () => {
  it.each(DEVIATIONS)("$what", ({ uri, want }) => {
    const a = parseUri(uri);
    expect(a).toMatchObject(want);
    // And what it writes back reads the same.
    expect(parseUri(formatUri(a))).toEqual(a);
  });
});

describe("parseUri errors name the problem, never the secret", () => {
  const BAD: [string, RegExp][] = [
    ["https://example.com/?secret=JBSWY3DPEHPK3PXP", /must look like otpauth:/],
    ["otpauth://totp/x", /no secret/],
    ["otpauth://totp/x?secret=", /no secret/],
    ["otpauth://totp/x?secret=JBSW!3DPEHPK3PXP", /bad character at position 5/],
    ["otpauth://totp/x?secret=JBSWY3DPEHPK3PX1", /bad character/],
    ["otpauth://motp/x?secret=JBSWY3DPEHPK3PXP", /unknown type/],
    ["otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5", /algorithm/],
    ["otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=abc", /digits/],
    ["otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=0", /period/],
    ["otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP&counter=-1", /counter/],
    ["otpauth://totp/x?secret=A", /too short/],
  ];
  it.each(BAD)("%s", (uri, msg) => {
    let err: unknown;
    try {
      parseUri(uri);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(msg);
    expect((err as Error).message).not.toMatch(/JBSW/);
    expect((err as Error).message).not.toContain("\n");
  });
});

describe("formatUri writes the canonical form", () => {
  it("defaults left out, issuer in label and parameter, space as %20", () => {
    const a = makeAccount({ secret: S, issuer: "Big Bank", account: "me@x.org" });
    expect(formatUri(a)).toBe(`otpauth://totp/Big%20Bank:me%40x.org?secret=${S}&issuer=Big%20Bank`);
  });
  it("non-defaults written, HOTP always carries its counter", () => {
    expect(
      formatUri(makeAccount({ secret: S, account: "a", algorithm: "SHA256", digits: 8, period: 60 })),
    ).toBe(`otpauth://totp/a?secret=${S}&algorithm=SHA256&digits=8&period=60`);
    expect(formatUri(makeAccount({ kind: "hotp", secret: S, account: "a" }))).toBe(
      `otpauth://hotp/a?secret=${S}&counter=0`,
    );
  });
  it("the torn counter is written whole", () => {
    expect(formatUri(parseUri(`otpauth://hotp/x?secret=${S}&counter=6counter=7`))).toBe(
      `otpauth://hotp/x?secret=${S}&counter=7`,
    );
  });
});

/** Accounts as apps produce them: any text in the label (a colon only in an issuer-less account). */
const arbAccount: fc.Arbitrary<Account> = fc
  .record({
    kind: fc.constantFrom("totp", "hotp", "steam") as fc.Arbitrary<Account["kind"]>,
    bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
    issuer: fc.string({ maxLength: 20 }).map((s) => s.trim()),
    account: fc.string({ maxLength: 30 }).map((s) => s.trim()),
    algorithm: fc.constantFrom("SHA1", "SHA256", "SHA512") as fc.Arbitrary<Account["algorithm"]>,
    digits: fc.integer({ min: 6, max: 10 }),
    period: fc.integer({ min: 1, max: 86400 }),
    counter: fc.nat(),
    extra: fc.array(
      fc.tuple(
        fc
          .stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,10}$/)
          .filter((k) => !/^(secret|issuer|algorithm|digits|period|counter|encoder)$/i.test(k)),
        fc.string({ maxLength: 10 }).map(encodeURIComponent),
      ),
      { maxLength: 2 },
    ),
  })
  // An account with a colon but no issuer is read back Aegis-style; only with an issuer it splits.
  .filter((r) => !(r.issuer === "" && r.account.includes(":")))
  .map((r) =>
    makeAccount({
      kind: r.kind,
      secret: encodeBase32(r.bytes),
      issuer: r.issuer,
      account: r.account,
      algorithm: r.algorithm,
      digits: r.digits,
      period: r.period,
      counter: r.counter,
      extra: r.extra,
    }),
  );

describe("round trip (property)", () => {
  it("parseUri(formatUri(a)) equals a", () => {
    fc.assert(
      fc.property(arbAccount, (a) => {
        expect(parseUri(formatUri(a))).toEqual(a);
      }),
      { numRuns: 500 },
    );
  });
  it("formatUri is a fixed point: format(parse(format(a))) == format(a)", () => {
    fc.assert(
      fc.property(arbAccount, (a) => {
        const u = formatUri(a);
        expect(formatUri(parseUri(u))).toBe(u);
      }),
      { numRuns: 300 },
    );
  });
  it("parseUri never throws anything but a UserError", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 40 }), (path, query) => {
        try {
          parseUri(`otpauth://totp/${path}?${query}`);
        } catch (e) {
          expect(e).toBeInstanceOf(UserError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
