import { readdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { aegisExport, aegisImport } from "../../src/formats/aegis.js";
import { EXPORTS, expectPlain, fixture, holdable, MORE, roundTrip } from "./roundtrip-arb.js";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("Aegis vault", () => {
  it.each(["aegis_plain.json", "aegis_plain_grouped_v2.json"])("reads %s: the seven accounts", async (f) => {
    const bytes = fixture(join(EXPORTS, f));
    expect(aegisImport.detect(bytes, text(bytes), f)).toBe(true);
    expect(aegisImport.isEncrypted(bytes, text(bytes))).toBe(false);
    expectPlain(await aegisImport.decode({ bytes, fileName: f }), 7);
  });

  it("opens the encrypted vault with its password, and refuses a wrong one", async () => {
    const bytes = fixture(join(EXPORTS, "aegis_encrypted.json"));
    expect(aegisImport.isEncrypted(bytes, text(bytes))).toBe(true);
    expectPlain(await aegisImport.decode({ bytes, fileName: "v", password: "test" }), 7);
    await expect(aegisImport.decode({ bytes, fileName: "v", password: "tset" })).rejects.toThrow(
      /wrong password/,
    );
    await expect(aegisImport.decode({ bytes, fileName: "v" })).rejects.toThrow(/password is needed/);
  });

  it("reads every file of the second test set, skipping what is invalid", async () => {
    const dir = join(MORE, "aegis");
    const got: Record<string, [number, number]> = {};
    for (const f of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
      const bytes = fixture(join(dir, f));
      const d = await aegisImport.decode({ bytes, fileName: f, password: "test" });
      got[f] = [d.accounts.length, d.skipped.length];
    }
    expect(got).toEqual({
      "aegis-json-encrypted-test.json": [3, 0],
      "aegis-json-unencrypted-hotp.json": [2, 0],
      "aegis-json-unencrypted-with-bad-period-digits.json": [0, 2],
      "aegis-json-unencrypted-with-missing-fields.json": [3, 0],
      "aegis-json-unencrypted.json": [3, 0],
    });
  });

  it("names the bad field of a skipped entry", async () => {
    const d = await aegisImport.decode({
      bytes: fixture(join(MORE, "aegis/aegis-json-unencrypted-with-bad-period-digits.json")),
      fileName: "x",
    });
    expect(d.skipped.map((s) => s.why)).toEqual([
      "invalid number of digits (0)",
      "invalid period (0 seconds)",
    ]);
  });

  it("refuses damaged vaults with one line", async () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const cases: [string, RegExp][] = [
      ['{"version":1,"header":{"slots":null,"params":null},"db":{"version":3}}', /no entries/],
      ['{"version":1,"header":{"slots":[{"type":2}],"params":{}},"db":"AAAA"}', /no password slot/],
      ['{"version":1,"header":{"slots":null', /not valid JSON/],
    ];
    for (const [s, re] of cases) {
      await expect(aegisImport.decode({ bytes: enc(s), fileName: "x", password: "p" })).rejects.toThrow(re);
    }
    const good = JSON.parse(text(fixture(join(EXPORTS, "aegis_encrypted.json"))));
    good.db = `${good.db.slice(0, 40)}AAAA${good.db.slice(44)}`;
    await expect(
      aegisImport.decode({ bytes: enc(JSON.stringify(good)), fileName: "x", password: "test" }),
    ).rejects.toThrow(/do not decrypt/);
  });

  it("writes one password slot with Aegis's scrypt cost and a fresh nonce each time", async () => {
    const a = {
      name: "x",
      account: (
        await aegisImport.decode({ bytes: fixture(join(EXPORTS, "aegis_plain.json")), fileName: "x" })
      ).accounts[0].account,
    };
    let seed = 7;
    const rnd = (n: number) => Uint8Array.from({ length: n }, () => (seed = (seed * 31 + 17) % 251));
    const v1 = JSON.parse(
      text((await aegisExport.encode([a], { password: "pw", randomBytes: rnd, now: 0 })) as Uint8Array),
    );
    const v2 = JSON.parse(
      text((await aegisExport.encode([a], { password: "pw", randomBytes: rnd, now: 0 })) as Uint8Array),
    );
    expect(v1.header.slots).toHaveLength(1);
    expect(v1.header.slots[0]).toMatchObject({ type: 1, n: 32768, r: 8, p: 1 });
    expect(v1.header.params.nonce).not.toBe(v2.header.params.nonce);
    expect(v1.header.slots[0].key_params.nonce).not.toBe(v1.header.params.nonce);
  });

  it("round-trips every account, plain (property)", async () => {
    await fc.assert(
      fc.asyncProperty(holdable(aegisExport), (as) => roundTrip(aegisExport, aegisImport, as)),
      {
        numRuns: 100,
      },
    );
  });

  it("round-trips encrypted (property, few runs: scrypt is slow)", async () => {
    await fc.assert(
      fc.asyncProperty(holdable(aegisExport), fc.string({ minLength: 1, maxLength: 20 }), (as, pw) =>
        roundTrip(aegisExport, aegisImport, as, pw),
      ),
      { numRuns: 3 },
    );
  });
});
