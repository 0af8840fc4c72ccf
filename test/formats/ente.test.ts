import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseUri } from "../../src/core/uri.js";
import { enteExport, enteImport } from "../../src/formats/ente.js";
import { comparable, EXPORTS, expectPlain, fixture, holdable, MORE, roundTrip } from "./roundtrip-arb.js";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("Ente Auth", () => {
  it("reads the plain export: seven accounts, codeDisplay dropped", async () => {
    const bytes = fixture(join(EXPORTS, "ente_auth.txt"));
    expect(enteImport.detect(bytes, text(bytes), "ente_auth.txt")).toBe(true);
    const d = await enteImport.decode({ bytes, fileName: "ente_auth.txt" });
    expectPlain(d, 7);
    for (const a of d.accounts) expect(a.account.extra).toBeUndefined();
  });

  it("skips a trashed code and says so", async () => {
    const d = await enteImport.decode({
      bytes: fixture(join(MORE, "ente/plain_with_hotp.txt")),
      fileName: "x",
    });
    expect(d.accounts).toHaveLength(5);
    expect(d.skipped).toEqual([{ what: "line 3", why: "it is in Ente's trash" }]);
  });

  it.each([
    "plain.txt",
    "plain_20_entries.txt",
    "plain_with_missing_fields.txt",
    "plain_with_steam_and_hotp.txt",
  ])("reads %s", async (f) => {
    const d = await enteImport.decode({ bytes: fixture(join(MORE, "ente", f)), fileName: f });
    expect(d.accounts.length).toBeGreaterThan(0);
    expect(d.skipped).toEqual([]);
  });

  const want = readFileSync(join(MORE, "ente/encrypted_decrypted.txt"), "utf8")
    .split("\n")
    .filter((l) => l.startsWith("otpauth"))
    .map((l) => {
      const { extra: _e, ...a } = parseUri(l);
      return a;
    });
  const password = readFileSync(join(MORE, "ente/password"), "utf8").trim();

  it.each(["encrypted.nominalcomplexity.txt"])(
    "opens %s: the accounts of encrypted_decrypted.txt",
    async (f) => {
      const bytes = fixture(join(MORE, "ente", f));
      expect(enteImport.isEncrypted(bytes, text(bytes))).toBe(true);
      const d = await enteImport.decode({ bytes, fileName: f, password });
      expect(d.accounts.map((a) => comparable(a.account))).toEqual(want.map(comparable));
    },
    120_000,
  );

  it("opens the low-cost encrypted export and refuses a wrong password", async () => {
    const bytes = fixture(join(MORE, "ente/encrypted.lowcomplexity.txt"));
    const d = await enteImport.decode({ bytes, fileName: "x", password });
    expect(d.accounts.map((a) => a.account.kind)).toEqual(["hotp", "totp", "steam"]);
    await expect(enteImport.decode({ bytes, fileName: "x", password: "Password" })).rejects.toThrow(
      /wrong password/,
    );
  });

  it("round-trips every account (property)", async () => {
    await fc.assert(
      fc.asyncProperty(holdable(enteExport), (as) => roundTrip(enteExport, enteImport, as)),
      {
        numRuns: 100,
      },
    );
  });
});
