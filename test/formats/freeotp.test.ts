import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { Account } from "../../src/core/account.js";
import { UserError } from "../../src/core/errors.js";
import { parseUri } from "../../src/core/uri.js";
import { freeotpImport } from "../../src/formats/freeotp.js";
import { FIXTURES } from "../e2e/harness.js";
import { expectOnlyUserErrors } from "./mutate.js";

const DIR = join(FIXTURES, "authenticator-exports");
const read = (f: string) => new Uint8Array(readFileSync(join(DIR, f)));
const expected = new Map<string, Account>(
  readFileSync(join(DIR, "plain.txt"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => [parseUri(l).secret, parseUri(l)]),
);
const enc = (s: string) => new TextEncoder().encode(s);

describe("FreeOTP+ JSON", () => {
  test("the real export imports six accounts; HOTP counters are moved back up by one", async () => {
    const bytes = read("freeotp_plus.json");
    expect(freeotpImport.detect(bytes, new TextDecoder().decode(bytes), "freeotp_plus.json")).toBe(true);
    const { accounts, skipped } = await freeotpImport.decode({ bytes, fileName: "freeotp_plus.json" });
    expect(skipped).toEqual([]);
    expect(accounts).toHaveLength(6);
    for (const { account } of accounts) expect(account).toEqual(expected.get(account.secret));
  });

  test("Steam is marked by its issuer; bad tokens are skipped, not fatal", async () => {
    const json = JSON.stringify({
      tokenOrder: [],
      tokens: [
        {
          algo: "SHA1",
          digits: 5,
          issuerExt: "Steam",
          label: "gabe",
          period: 30,
          secret: [1, 2, 3, -1],
          type: "TOTP",
        },
        { algo: "MD5", digits: 6, issuerExt: "X", label: "y", period: 30, secret: [1, 2], type: "TOTP" },
        { algo: "SHA1", digits: 6, issuerExt: "X", label: "z", period: 30, secret: [999], type: "TOTP" },
        { algo: "SHA1", digits: 6, issuerExt: "X", label: "w", period: 30, secret: [], type: "TOTP" },
      ],
    });
    const { accounts, skipped } = await freeotpImport.decode({ bytes: enc(json), fileName: "f.json" });
    expect(accounts.map((a) => a.account)).toEqual([
      {
        kind: "steam",
        secret: "AEBAH7Y",
        issuer: "Steam",
        account: "gabe",
        algorithm: "SHA1",
        digits: 5,
        period: 30,
        counter: 0,
      },
    ]);
    expect(skipped.map((s) => s.what)).toEqual(["X (y)", "X (z)", "X (w)"]);
  });

  test("other JSON is not detected, and decoding it is a UserError", async () => {
    for (const t of ['{"tokens":5}', "[]", '{"services":[]}', "not json"]) {
      expect(freeotpImport.detect(enc(t), t, "x")).toBe(false);
      await expect(freeotpImport.decode({ bytes: enc(t), fileName: "x" })).rejects.toBeInstanceOf(UserError);
    }
  });

  test("mutated files only ever throw UserError", async () => {
    const base = read("freeotp_plus.json");
    await expectOnlyUserErrors(base, (bytes) => freeotpImport.decode({ bytes, fileName: "f.json" }), 300);
  });
});
