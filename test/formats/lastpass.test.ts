import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { lastpassImport } from "../../src/formats/lastpass.js";
import { FIXTURES } from "../e2e/harness.js";
import { expectOnlyUserErrors } from "./mutate.js";

const DIR = join(FIXTURES, "more-exports/authenticator/lastpass");
const read = (f: string) => new Uint8Array(readFileSync(join(DIR, f)));
const enc = (s: string) => new TextEncoder().encode(s);

async function decode(file: string) {
  const bytes = read(file);
  expect(lastpassImport.detect(bytes, new TextDecoder().decode(bytes), file)).toBe(true);
  expect(lastpassImport.isEncrypted(bytes, null)).toBe(false);
  return lastpassImport.decode({ bytes, fileName: file });
}

describe("LastPass Authenticator JSON", () => {
  test("the Android export: names, algorithms, digits and periods", async () => {
    const { accounts, skipped } = await decode("lastpass.json");
    expect(skipped).toEqual([]);
    expect(accounts.map((a) => a.account)).toEqual([
      // Secrets whose length is not a multiple of 8 lose their trailing partial bits (FORMATS.md).
      expect.objectContaining({
        issuer: "issuer",
        account: "account name default",
        algorithm: "SHA1",
        digits: 6,
        period: 30,
      }),
      expect.objectContaining({ issuer: "other", account: "", algorithm: "SHA256", digits: 8, period: 20 }),
      expect.objectContaining({
        issuer: "",
        account: "sha512 name",
        algorithm: "SHA512",
        digits: 6,
        period: 30,
      }),
    ]);
    expect(accounts.every((a) => a.account.kind === "totp")).toBe(true);
  });

  test("the iOS export", async () => {
    const { accounts } = await decode("lastpass_ios_export.json");
    expect(accounts.map((a) => [a.account.issuer, a.account.account])).toEqual([
      ["code 1 lastpass", "snjxxndjbdbdb"],
      ["code2 lastpass", "ndjdbxxnbcb"],
    ]);
  });

  test("the missing-fields export takes what is valid", async () => {
    const { accounts } = await decode("lastpass_missing_fields.json");
    expect(accounts.map((a) => a.account.account)).toEqual(["sometest"]);
  });

  test("entries with no secret, a bad algorithm or bad digits are skipped and reported", async () => {
    const json = JSON.stringify({
      version: 3,
      folders: [],
      deviceName: "x",
      accounts: [
        { issuerName: "A", userName: "a", secret: "", timeStep: 30, digits: 6, algorithm: "SHA1" },
        { issuerName: "B", userName: "b", secret: "JBSWY3DP", timeStep: 30, digits: 6, algorithm: "MD5" },
        { issuerName: "C", userName: "c", secret: "JBSWY3DP", timeStep: 30, digits: 0, algorithm: "SHA1" },
        { issuerName: "D", userName: "d", secret: "JBSWY3D!", timeStep: 30, digits: 6, algorithm: "SHA1" },
        { issuerName: "", userName: "", originalIssuerName: "O", originalUserName: "o", secret: "JBSWY3DP" },
      ],
    });
    const { accounts, skipped } = await lastpassImport.decode({ bytes: enc(json), fileName: "l.json" });
    expect(skipped.map((s) => s.what)).toEqual(["A (a)", "B (b)", "C (c)", "D (d)"]);
    expect(accounts.map((a) => [a.account.issuer, a.account.account])).toEqual([["O", "o"]]);
  });

  test("mutated files only ever throw UserError", async () => {
    const base = read("lastpass.json");
    await expectOnlyUserErrors(base, (bytes) => lastpassImport.decode({ bytes, fileName: "l.json" }), 300);
  });
});
