import { readdirSync } from "node:fs";
import { join } from "node:path";
import { gcm } from "@noble/ciphers/aes.js";
import { pbkdf2 } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TWOFAS_REFERENCE, twofasExport, twofasImport } from "../../src/formats/twofas.js";
import { fromBase64 } from "../../src/formats/util.js";
import { EXPORTS, expectPlain, fixture, holdable, MORE, roundTrip, testRandom } from "./roundtrip-arb.js";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("2FAS backup", () => {
  it.each([
    ["2fas_authenticator.json", undefined, 6, "totp-sha1-6-30"],
    ["2fas_authenticator_plain.2fas", undefined, 4, "totp-kept-algo"],
    ["2fas_authenticator_encrypted.2fas", "test", 4, "totp-kept-algo"],
    ["2fas_authenticator_plain_v3.2fas", undefined, 6, "none"],
    ["2fas_authenticator_encrypted_v3.2fas", "test", 6, "none"],
    ["2fas_authenticator_plain_v4.2fas", undefined, 5, "none"],
    ["2fas_authenticator_encrypted_v4.2fas", "test", 5, "none"],
  ] as const)("reads %s", async (f, password, count, deviation) => {
    const bytes = fixture(join(EXPORTS, f));
    expect(twofasImport.detect(bytes, text(bytes), f)).toBe(true);
    expect(twofasImport.isEncrypted(bytes, text(bytes))).toBe(password !== undefined);
    expectPlain(await twofasImport.decode({ bytes, fileName: f, password }), count, () => deviation);
  });

  it("refuses a wrong password, checked against the reference", async () => {
    const bytes = fixture(join(EXPORTS, "2fas_authenticator_encrypted_v4.2fas"));
    await expect(twofasImport.decode({ bytes, fileName: "x", password: "nope" })).rejects.toThrow(
      /wrong password/,
    );
  });

  it("the reference constant is what real 2FAS files hold", () => {
    // Decrypt the reference of a real export by hand with the known password.
    const v = JSON.parse(text(fixture(join(MORE, "2fas/encrypted.2fas"))));
    const [ct, salt, iv] = (v.reference as string).split(":").map((p) => fromBase64(p, "x"));
    const key = pbkdf2(sha256, "test", salt, { c: 10000, dkLen: 32 });
    expect(text(gcm(key, iv).decrypt(ct))).toBe(TWOFAS_REFERENCE);
  });

  it("reads every file of the second test set; unsupported algorithms are skipped and named", async () => {
    const dir = join(MORE, "2fas");
    const got: Record<string, [number, string[]]> = {};
    for (const f of readdirSync(dir).filter((f) => f.endsWith(".2fas"))) {
      const d = await twofasImport.decode({ bytes: fixture(join(dir, f)), fileName: f, password: "test" });
      got[f] = [d.accounts.length, d.skipped.map((s) => `${s.what}: ${s.why}`)];
    }
    expect(got).toEqual({
      "decrypted.2fas": [2, []],
      "decrypted_ios.2fas": [2, []],
      "decrypted_with_hotp.2fas": [2, []],
      "decrypted_with_hotp_and_unsupported_algorithms.2fas": [
        1,
        ['Itemname (Optional info): unsupported algorithm "SHA384"'],
      ],
      "decrypted_with_hotp_missing_period.2fas": [4, []],
      "decrypted_with_manual_entries.2fas": [12, []],
      "decrypted_with_missing_fields.2fas": [1, []],
      "encrypted.2fas": [2, []],
    });
  });

  it("takes the shown name as issuer and the account from otp.account", async () => {
    const d = await twofasImport.decode({
      bytes: fixture(join(MORE, "2fas/decrypted_with_hotp.2fas")),
      fileName: "x",
    });
    expect(d.accounts.map((a) => [a.account.kind, a.account.issuer, a.account.account])).toEqual([
      ["totp", "Proton", "den den"],
      ["hotp", "Hotp", ""],
    ]);
  });

  it("writes schema 4 with servicesEncrypted and reference sharing one salt", async () => {
    const a = (
      await twofasImport.decode({
        bytes: fixture(join(EXPORTS, "2fas_authenticator_plain_v4.2fas")),
        fileName: "x",
      })
    ).accounts;
    const out = await twofasExport.encode(
      a.map((x, i) => ({ name: `n${i}`, account: x.account })),
      { password: "pw", randomBytes: testRandom(3), now: 1_700_000_000_000 },
    );
    const v = JSON.parse(text(out as Uint8Array));
    expect(v).toMatchObject({ schemaVersion: 4, services: [] });
    const [, salt1, iv1] = v.servicesEncrypted.split(":");
    const [, salt2, iv2] = v.reference.split(":");
    expect(salt1).toBe(salt2);
    expect(iv1).not.toBe(iv2);
    expect(fromBase64(salt1, "s")).toHaveLength(256);
  });

  it("round-trips every account, plain (property)", async () => {
    await fc.assert(
      fc.asyncProperty(holdable(twofasExport), (as) => roundTrip(twofasExport, twofasImport, as)),
      {
        numRuns: 100,
      },
    );
  });

  it("round-trips encrypted (property)", async () => {
    await fc.assert(
      fc.asyncProperty(holdable(twofasExport), fc.string({ minLength: 1, maxLength: 20 }), (as, pw) =>
        roundTrip(twofasExport, twofasImport, as, pw),
      ),
      { numRuns: 10 },
    );
  });
});
