import { createCipheriv, pbkdf2Sync } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import type { Account } from "../../src/core/account.js";
import { UserError } from "../../src/core/errors.js";
import { parseUri } from "../../src/core/uri.js";
import { andotpImport } from "../../src/formats/andotp.js";
import { FIXTURES } from "../e2e/harness.js";
import { expectOnlyUserErrors } from "./mutate.js";

const DIR = join(FIXTURES, "authenticator-exports");
const read = (f: string) => new Uint8Array(readFileSync(join(DIR, f)));
const expected = new Map<string, Account>(
  readFileSync(join(DIR, "plain.txt"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const a = parseUri(l);
      return [a.secret, a];
    }),
);

async function decodeFile(file: string, password?: string) {
  const bytes = read(file);
  const text = new TextDecoder().decode(bytes);
  const isText = !/\uFFFD/.test(text);
  expect(andotpImport.detect(bytes, isText ? text : null, file)).toBe(true);
  expect(andotpImport.isEncrypted(bytes, isText ? text : null)).toBe(password !== undefined);
  return andotpImport.decode({ bytes, fileName: file, password });
}

describe("andOTP fixtures", () => {
  test.each([
    ["andotp_plain.json", undefined],
    ["andotp_encrypted.bin", "test"],
  ])("%s imports all seven accounts exactly", async (file, password) => {
    const { accounts, skipped } = await decodeFile(file, password);
    expect(skipped).toEqual([]);
    expect(accounts).toHaveLength(7);
    for (const { account } of accounts) expect(account).toEqual(expected.get(account.secret));
  });

  test("the old encrypted layout (SHA-256 key) imports; 'Issuer - Issuer:name' labels are split", async () => {
    // The old app had no Steam type, so that file holds six accounts.
    const { accounts, skipped } = await decodeFile("andotp_encrypted_old.bin", "test");
    expect(skipped).toEqual([]);
    expect(accounts).toHaveLength(6);
    for (const { account } of accounts) expect(account).toEqual(expected.get(account.secret));
  });

  test("a wrong password is a UserError", async () => {
    for (const f of ["andotp_encrypted.bin", "andotp_encrypted_old.bin"]) {
      await expect(andotpImport.decode({ bytes: read(f), fileName: f, password: "nope" })).rejects.toThrow(
        /wrong password/,
      );
    }
  });
});

/** An andOTP encryption written independently with node:crypto, as the app does (Java AES/GCM/NoPadding). */
function encryptNew(
  json: string,
  password: string,
  iterations: number,
  salt: Buffer,
  nonce: Buffer,
): Uint8Array {
  const key = pbkdf2Sync(password, salt, iterations, 32, "sha1");
  const c = createCipheriv("aes-256-gcm", key, nonce);
  const ct = Buffer.concat([c.update(json, "utf8"), c.final()]);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(iterations);
  return new Uint8Array(Buffer.concat([head, salt, nonce, ct, c.getAuthTag()]));
}

describe("andOTP vectors", () => {
  test("an old backup without issuer splits 'Issuer - Account'", async () => {
    const json = JSON.stringify([
      {
        secret: "JBSWY3DPEHPK3PXP",
        label: "GitHub - alice",
        digits: 6,
        type: "TOTP",
        algorithm: "SHA1",
        period: 30,
      },
      { secret: "GEZDGNBVGY3TQOJQ", label: "plain", digits: 6, type: "MOTP", algorithm: "SHA1", period: 30 },
    ]);
    const bytes = new TextEncoder().encode(json);
    const { accounts, skipped } = await andotpImport.decode({ bytes, fileName: "x.json" });
    expect(accounts.map((a) => [a.account.issuer, a.account.account])).toEqual([["GitHub", "alice"]]);
    expect(skipped).toEqual([{ what: "plain", why: "unsupported type MOTP" }]);
  });

  test("a file written by an independent encryption decrypts", async () => {
    const json = JSON.stringify([
      {
        secret: "JBSWY3DPEHPK3PXP",
        issuer: "Ex",
        label: "bob",
        digits: 8,
        type: "HOTP",
        algorithm: "SHA256",
        counter: 4,
      },
    ]);
    const bytes = encryptNew(json, "pässword", 150000, Buffer.alloc(12, 7), Buffer.alloc(12, 9));
    expect(andotpImport.detect(bytes, null, "otp_accounts.json.aes")).toBe(true);
    const { accounts } = await andotpImport.decode({ bytes, fileName: "x.json.aes", password: "pässword" });
    expect(accounts[0].account).toMatchObject({ kind: "hotp", digits: 8, algorithm: "SHA256", counter: 4 });
  });

  test("mutated encrypted files only ever throw UserError", async () => {
    const base = read("andotp_encrypted_old.bin");
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.nat({ max: base.length - 1 }).map((n) => base.slice(0, n)),
          fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
            const b = base.slice();
            b[i] ^= x;
            return b;
          }),
        ),
        async (bytes) => {
          try {
            await andotpImport.decode({ bytes, fileName: "a.bin", password: "test" });
          } catch (e) {
            expect(e).toBeInstanceOf(UserError);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  test("mutated plain files only ever throw UserError or skip entries", async () => {
    const base = read("andotp_plain.json");
    await expectOnlyUserErrors(
      base,
      (bytes) => andotpImport.decode({ bytes, fileName: "a.json", password: "test" }),
      200,
    );
  });
});

describe("registry detection (every part-B fixture)", () => {
  const MINE = [
    "kdbx",
    "proton-pass",
    "proton-authenticator",
    "andotp",
    "freeotp",
    "lastpass",
    "steam",
    "authy",
  ];
  const CASES: [string, string][] = [
    ["authenticator-exports/andotp_plain.json", "andotp"],
    ["authenticator-exports/andotp_encrypted.bin", "andotp"],
    ["authenticator-exports/andotp_encrypted_old.bin", "andotp"],
    ["authenticator-exports/freeotp_plus.json", "freeotp"],
    ["authenticator-exports/proton_authenticator.json", "proton-authenticator"],
    ["authenticator-exports/steam.json", "steam"],
    ["authenticator-exports/steam_old.json", "steam"],
    ["more-exports/authenticator/lastpass/lastpass.json", "lastpass"],
    ["more-exports/authenticator/lastpass/lastpass_ios_export.json", "lastpass"],
    ["more-exports/authenticator/lastpass/lastpass_missing_fields.json", "lastpass"],
    ["more-exports/authenticator/pass/PassExport.zip", "proton-pass"],
  ];

  test("exactly its own codec detects each file, and part B's codecs claim no other fixture", async () => {
    const { IMPORT_FORMATS } = await import("../../src/formats/registry.js");
    const { textOf } = await import("../../src/formats/util.js");
    const codecs = await Promise.all(
      Object.entries(IMPORT_FORMATS).map(async ([id, load]) => [id, await load()] as const),
    );
    const detecting = (path: string) => {
      const bytes = new Uint8Array(readFileSync(join(FIXTURES, path)));
      const name = path.split("/").pop()!;
      return codecs.filter(([, c]) => c.detect(bytes, textOf(bytes), name)).map(([id]) => id);
    };
    for (const [path, id] of CASES) expect(detecting(path), path).toEqual([id]);
    const others = [
      "authenticator-exports",
      "more-exports/authenticator/2fas",
      "more-exports/authenticator/aegis",
    ]
      .concat(["more-exports/authenticator/bitwarden", "more-exports/authenticator/ente"])
      .flatMap((d) => readdirSync(join(FIXTURES, d)).map((f) => `${d}/${f}`))
      .filter((p) => !CASES.some(([c]) => c === p));
    for (const p of others)
      expect(
        detecting(p).filter((id) => MINE.includes(id)),
        p,
      ).toEqual([]);
  });
});
