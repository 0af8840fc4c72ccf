import { execFileSync, spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Algorithm, makeAccount } from "../../src/core/account.js";
import { encodeBase32 } from "../../src/core/base32.js";
import {
  codeAtCounter,
  equalCodes,
  generateCode,
  secondsLeft,
  timeStep,
  verifyCode,
} from "../../src/core/otp.js";
import rfc4226 from "../vectors/rfc4226.json" with { type: "json" };
import rfc6238 from "../vectors/rfc6238.json" with { type: "json" };
import steam from "../vectors/steam.json" with { type: "json" };

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("RFC 4226 Appendix D (HOTP)", () => {
  const account = makeAccount({ kind: "hotp", secret: encodeBase32(ascii(rfc4226.secretAscii)) });
  it.each(rfc4226.cases)("counter $counter gives $code", ({ counter, code }) => {
    expect(codeAtCounter(account, counter)).toBe(code);
    expect(generateCode({ ...account, counter }, 0)).toBe(code);
  });
});

describe("RFC 6238 Appendix B (TOTP)", () => {
  it.each(rfc6238.cases)("$algorithm at $time gives $code", ({ time, algorithm, code }) => {
    const a = makeAccount({
      secret: encodeBase32(ascii(rfc6238.seeds[algorithm as Algorithm])),
      algorithm: algorithm as Algorithm,
      digits: rfc6238.digits,
      period: rfc6238.period,
    });
    expect(generateCode(a, time * 1000)).toBe(code);
    expect(verifyCode(a, code, time * 1000)).toBe(0);
  });
});

describe("Steam Guard", () => {
  it.each(steam.cases)("$secret at $time gives $code", ({ secret, time, code }) => {
    const a = makeAccount({ kind: "steam", secret });
    expect(a.digits).toBe(5);
    expect(generateCode(a, time * 1000)).toBe(code);
  });
  it("uses only Steam's alphabet", () => {
    const a = makeAccount({ kind: "steam", secret: "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ" });
    for (let t = 0; t < 50; t++)
      expect(generateCode(a, t * 30_000)).toMatch(/^[23456789BCDFGHJKMNPQRTVWXY]{5}$/);
  });
});

describe("time helpers and verification", () => {
  const a = makeAccount({ secret: "JBSWY3DPEHPK3PXP", period: 30 });
  it("timeStep and secondsLeft", () => {
    expect(timeStep(a, 59_000)).toBe(1);
    expect(secondsLeft(a, 59_000)).toBe(1);
    expect(secondsLeft(a, 60_000)).toBe(30);
  });
  it("verifyCode accepts one step either side and reports the offset", () => {
    const t = 1_000_000_000_000;
    expect(verifyCode(a, generateCode(a, t - 30_000), t)).toBe(-1);
    expect(verifyCode(a, generateCode(a, t + 30_000), t)).toBe(1);
    expect(verifyCode(a, generateCode(a, t + 90_000), t)).toBeNull();
    expect(verifyCode(a, `${generateCode(a, t).slice(0, 3)} ${generateCode(a, t).slice(3)}`, t)).toBe(0);
  });
  it("equalCodes", () => {
    expect(equalCodes("7w6cj", "7W6CJ")).toBe(true);
    expect(equalCodes("123456", "123457")).toBe(false);
    expect(equalCodes("12345", "123456")).toBe(false);
  });
});

const hasOathtool = spawnSync("sh", ["-c", "command -v oathtool"]).status === 0;

describe.skipIf(!hasOathtool && !process.env.CI)("codes equal oathtool's (property)", () => {
  const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
  it("TOTP: random secrets, algorithms, digits, periods and times", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 10, maxLength: 64 }),
        fc.constantFrom<Algorithm>("SHA1", "SHA256", "SHA512"),
        fc.integer({ min: 6, max: 8 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 0, max: 4_000_000_000 }),
        (bytes, algorithm, digits, period, time) => {
          const a = makeAccount({ secret: encodeBase32(bytes), algorithm, digits, period });
          const want = execFileSync(
            "oathtool",
            [
              `--totp=${algorithm.toLowerCase()}`,
              `--digits=${digits}`,
              `--time-step-size=${period}s`,
              `--now=@${time}`,
              hex(bytes),
            ],
            { encoding: "utf8" },
          ).trim();
          expect(generateCode(a, time * 1000)).toBe(want);
        },
      ),
      { numRuns: 80 },
    );
  });
  it("HOTP: random secrets, digits and counters", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 10, maxLength: 40 }),
        fc.integer({ min: 6, max: 8 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (bytes, digits, counter) => {
          const a = makeAccount({ kind: "hotp", secret: encodeBase32(bytes), digits, counter });
          const want = execFileSync(
            "oathtool",
            ["--hotp", `--digits=${digits}`, `--counter=${counter}`, hex(bytes)],
            {
              encoding: "utf8",
            },
          ).trim();
          expect(codeAtCounter(a, counter)).toBe(want);
        },
      ),
      { numRuns: 40 },
    );
  });
});
