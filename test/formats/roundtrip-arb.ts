// Shared by the format tests: the accounts of the Aegis test set, and fast-check accounts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { expect } from "vitest";
import { type Account, makeAccount } from "../../src/core/account.js";
import { encodeBase32 } from "../../src/core/base32.js";
import { parseUri } from "../../src/core/uri.js";
import type { Decoded, ExportFormat, ImportFormat } from "../../src/formats/types.js";
import { FIXTURES } from "../e2e/harness.js";

export const EXPORTS = join(FIXTURES, "authenticator-exports");
export const MORE = join(FIXTURES, "more-exports/authenticator");
export const QR = join(FIXTURES, "more-exports/qr");

/** The bytes of a fixture file. */
export function fixture(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

/** The seven accounts of plain.txt, by secret. */
export function plainAccounts(): Map<string, Account> {
  const lines = readFileSync(join(EXPORTS, "plain.txt"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
  return new Map(lines.map((l) => [parseUri(l).secret, parseUri(l)]));
}

/** What an app's deviation (MANIFEST.md) still lets us check of an account. */
export type Deviation = "none" | "totp-sha1-6-30" | "totp-kept-algo" | "secret-only";

/** The fields compared: the whole key, with the deviation applied to the expected account. */
export function comparable(a: Account): Omit<Account, "extra"> {
  const { extra: _e, ...rest } = a;
  return rest;
}

/** Checks every decoded account against plain.txt by secret, and that the expected count came out. */
export function expectPlain(
  decoded: Decoded,
  count: number,
  deviation: (a: Account) => Deviation = () => "none",
) {
  const want = plainAccounts();
  expect(decoded.accounts).toHaveLength(count);
  for (const { account } of decoded.accounts) {
    const w = want.get(account.secret);
    expect(w, `unexpected secret for ${account.issuer}`).toBeDefined();
    const d = deviation(w!);
    if (d === "secret-only") continue;
    let e: Account = w!;
    if (d === "totp-sha1-6-30")
      e = makeAccount({ ...w!, kind: "totp", algorithm: "SHA1", digits: 6, period: 30 });
    if (d === "totp-kept-algo")
      e = makeAccount({ ...w!, kind: "totp", period: w!.kind === "hotp" ? 30 : w!.period });
    expect(comparable(account)).toEqual(comparable(e));
  }
}

/** Free text as apps store it: trimmed, no colon (a colon in a label is ambiguous in otpauth URIs). */
const text = fc
  .string({ unit: fc.constantFrom(..."abcXYZ019 _-.@+%&/é漢"), maxLength: 12 })
  .map((s) => s.trim());

/** Any account sparekey can hold, with an issuer or an account name (or both). */
export const anyAccount: fc.Arbitrary<Account> = fc
  .record({
    kind: fc.constantFrom("totp", "hotp", "steam" as const),
    secret: fc.uint8Array({ minLength: 10, maxLength: 40 }).map(encodeBase32),
    issuer: text,
    account: text,
    algorithm: fc.constantFrom("SHA1", "SHA256", "SHA512" as const),
    digits: fc.integer({ min: 5, max: 10 }),
    period: fc.constantFrom(15, 30, 60, 90),
    counter: fc.integer({ min: 0, max: 2 ** 40 }),
  })
  .filter((r) => r.issuer !== "" || r.account !== "")
  // Steam codes are always 30 seconds.
  .map((r) =>
    makeAccount({ ...r, period: r.kind === "steam" ? 30 : r.period } as Partial<Account> & {
      secret: string;
    }),
  );

/** Accounts that the export format can hold (it drops none of them). */
export function holdable(fmt: ExportFormat): fc.Arbitrary<Account[]> {
  return fc
    .array(anyAccount, { minLength: 1, maxLength: 25 })
    .map((as) => as.filter((a) => fmt.limitation(a)?.effect !== "drop"));
}

/** Deterministic randomness for encoders in tests. */
export function testRandom(seed = 1): (n: number) => Uint8Array {
  let x = seed;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      out[i] = x >>> 24;
    }
    return out;
  };
}

/** Encodes with `exp`, decodes with `imp`, and checks the same accounts come back in order. */
export async function roundTrip(
  exp: ExportFormat,
  imp: ImportFormat,
  accounts: Account[],
  password?: string,
): Promise<void> {
  const items = accounts.map((account, i) => ({ name: `entry-${i}`, account }));
  const out = await exp.encode(items, {
    password,
    randomBytes: testRandom(accounts.length),
    now: 1_700_000_000_000,
  });
  const bytes = out instanceof Uint8Array ? out : out.files[0].bytes;
  const textOf = (() => {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      return null;
    }
  })();
  expect(imp.detect(bytes, textOf, "x")).toBe(true);
  expect(imp.isEncrypted(bytes, textOf)).toBe(password !== undefined);
  const back = await imp.decode({ bytes, fileName: "x", password });
  expect(back.skipped).toEqual([]);
  expect(back.accounts.map((a) => comparable(a.account))).toEqual(accounts.map(comparable));
}
