import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { urisExport, urisImport } from "../../src/formats/uris.js";
import { EXPORTS, expectPlain, fixture, holdable, MORE, roundTrip } from "./roundtrip-arb.js";

const enc = (s: string) => new TextEncoder().encode(s);

describe("otpauth URI list", () => {
  it("reads plain.txt: all seven accounts as they are", async () => {
    const bytes = fixture(join(EXPORTS, "plain.txt"));
    expect(urisImport.detect(bytes, new TextDecoder().decode(bytes), "plain.txt")).toBe(true);
    expectPlain(await urisImport.decode({ bytes, fileName: "plain.txt" }), 7);
  });

  it("reads Aegis's text export", async () => {
    const d = await urisImport.decode({ bytes: fixture(join(MORE, "aegis/aegis-txt.txt")), fileName: "x" });
    expect(d.accounts.map((a) => a.account.kind)).toEqual(["totp", "totp", "steam"]);
  });

  it.each([
    ["a blank line and a comment", "# mine\n\notpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP\n", 1, 0],
    [
      "a broken line among good ones",
      "otpauth://totp/A?secret=JBSWY3DPEHPK3PXP\notpauth://totp/B?secret=1!!\n",
      1,
      1,
    ],
    [
      "steam:// and CRLF",
      "steam://JBSWY3DPEHPK3PXP\r\notpauth://hotp/X?secret=JBSWY3DPEHPK3PXP&counter=3\r\n",
      2,
      0,
    ],
  ])("handles %s", async (_what, text, accounts, skipped) => {
    const d = await urisImport.decode({ bytes: enc(text), fileName: "x" });
    expect(d.accounts).toHaveLength(accounts);
    expect(d.skipped).toHaveLength(skipped);
    for (const s of d.skipped) expect(s.what).toMatch(/^line \d+$/);
  });

  it("refuses a file with no URI, and a binary file", async () => {
    await expect(urisImport.decode({ bytes: enc("hello\n"), fileName: "x" })).rejects.toThrow(/no otpauth/);
    await expect(
      urisImport.decode({ bytes: new Uint8Array([0xff, 0xfe, 0]), fileName: "x" }),
    ).rejects.toThrow(/UTF-8/);
    expect(urisImport.detect(enc("hello"), "hello", "x")).toBe(false);
  });

  it("round-trips every account (property)", async () => {
    await fc.assert(
      fc.asyncProperty(holdable(urisExport), (as) => roundTrip(urisExport, urisImport, as)),
      {
        numRuns: 100,
      },
    );
  });
});
