import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { makeAccount } from "../../src/core/account.js";
import { generateCode } from "../../src/core/otp.js";
import { steamImport } from "../../src/formats/steam.js";
import { FIXTURES } from "../e2e/harness.js";
import { expectOnlyUserErrors } from "./mutate.js";

const DIR = join(FIXTURES, "authenticator-exports");
const read = (f: string) => new Uint8Array(readFileSync(join(DIR, f)));
const enc = (s: string) => new TextEncoder().encode(s);

describe("Steam maFile", () => {
  test.each(["steam.json", "steam_old.json"])("%s imports Sophia's Steam key, issuer Steam", async (file) => {
    const bytes = read(file);
    expect(steamImport.detect(bytes, new TextDecoder().decode(bytes), file)).toBe(true);
    const { accounts, skipped } = await steamImport.decode({ bytes, fileName: file });
    expect(skipped).toEqual([]);
    expect(accounts).toEqual([
      {
        account: makeAccount({
          kind: "steam",
          secret: "JRZCL47CMXVOQMNPZR2F7J4RGI",
          issuer: "Steam",
          account: "Sophia",
        }),
        recovery: ["R1234"],
      },
    ]);
  });

  test("the FORMATS.md Steam vector through a maFile", async () => {
    // HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ as base64.
    const json = JSON.stringify({ shared_secret: "PcbKpIJKbSiHZ7IzHiC0MWbLhdk=", account_name: "x" });
    const { accounts } = await steamImport.decode({ bytes: enc(json), fileName: "x.maFile" });
    expect(accounts[0].account.secret).toBe("HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ");
    expect(generateCode(accounts[0].account, 1672531200_000)).toBe("7W6CJ");
  });

  test("a bad shared_secret skips that account; non-maFiles are not detected", async () => {
    const json = JSON.stringify({
      accounts: {
        a: { shared_secret: "!!", account_name: "bad" },
        b: { shared_secret: "AAAA", account_name: "ok" },
      },
    });
    const { accounts, skipped } = await steamImport.decode({ bytes: enc(json), fileName: "x" });
    expect(accounts.map((a) => a.account.account)).toEqual(["ok"]);
    expect(skipped).toEqual([{ what: "Steam (bad)", why: "its shared_secret is not base64" }]);
    for (const t of ['{"accounts":[]}', '{"shared_secret":1}', "[]"])
      expect(steamImport.detect(enc(t), t, "x")).toBe(false);
  });

  test("mutated files only ever throw UserError", async () => {
    const base = read("steam.json");
    await expectOnlyUserErrors(base, (bytes) => steamImport.decode({ bytes, fileName: "s.json" }), 300);
  });
});
