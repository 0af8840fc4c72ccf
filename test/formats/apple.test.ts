import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeAccount } from "../../src/core/account.js";
import { appleExport, appleImport } from "../../src/formats/apple.js";
import { holdable, roundTrip } from "./roundtrip-arb.js";

const enc = (s: string) => new TextEncoder().encode(s);

describe("Apple Passwords / 1Password CSV", () => {
  it("takes the issuer from Title (or the URL) and the account from Username when the URI has no label", async () => {
    const csv = [
      "Title,URL,Username,Password,Notes,OTPAuth",
      'GitHub,https://github.com/,alice,pw,"a note\nover two lines",otpauth://totp?secret=JBSWY3DPEHPK3PXP&algorithm=SHA1&digits=6&period=30',
      ",https://www.example.org/login,bob,pw,,otpauth://totp/?secret=KRSXG5CTMVRXEZLU",
      "Labelled,,carol,,,otpauth://totp/ACME:carol%40acme.test?secret=MFRGGZDFMZTWQ2LK&issuer=ACME",
      "No key,https://x.test,dave,pw,,",
    ].join("\r\n");
    expect(appleImport.detect(enc(csv), csv, "x.csv")).toBe(true);
    const d = await appleImport.decode({ bytes: enc(csv), fileName: "x.csv" });
    expect(d.accounts.map((a) => [a.account.issuer, a.account.account])).toEqual([
      ["GitHub", "alice"],
      ["example.org", "bob"],
      ["ACME", "carol@acme.test"],
    ]);
    expect(d.skipped).toEqual([{ what: "1 password", why: "no 2FA key (OTPAuth empty)" }]);
  });

  it("reads 1Password's column order", async () => {
    const csv =
      "Title,Url,Username,Password,OTPAuth,Favorite,Archived,Tags,Notes\nMail,https://mail.test,me,pw,otpauth://totp/Mail:me?secret=JBSWY3DPEHPK3PXP,false,false,,\n";
    const d = await appleImport.decode({ bytes: enc(csv), fileName: "x.csv" });
    expect(d.accounts.map((a) => [a.account.issuer, a.account.account])).toEqual([["Mail", "me"]]);
  });

  it("is not mistaken for Bitwarden's CSV, nor the other way round", () => {
    const bw = "folder,favorite,type,name,notes,fields,login_uri,login_username,login_password,login_totp\n";
    expect(appleImport.detect(enc(bw), bw, "x")).toBe(false);
  });

  it("carries the unused recovery codes in the Notes column, both ways", async () => {
    const account = makeAccount({ secret: "JBSWY3DPEHPK3PXP", issuer: "GitHub", account: "alice" });
    const out = (await appleExport.encode([{ name: "g", account, recovery: ["one", "two"] }], {
      randomBytes: () => new Uint8Array(),
      now: 0,
    })) as Uint8Array;
    const back = await appleImport.decode({ bytes: out, fileName: "x.csv" });
    expect(back.accounts[0].recovery).toEqual(["one", "two"]);
  });

  it("exports only time-based codes", () => {
    expect(appleExport.limitation(makeAccount({ secret: "JBSWY3DPEHPK3PXP", kind: "hotp" }))?.effect).toBe(
      "drop",
    );
    expect(appleExport.limitation(makeAccount({ secret: "JBSWY3DPEHPK3PXP", kind: "steam" }))?.effect).toBe(
      "drop",
    );
    expect(appleExport.limitation(makeAccount({ secret: "JBSWY3DPEHPK3PXP" }))).toBeNull();
  });

  it("round-trips every account it can hold, quoting commas and quotes (property)", async () => {
    await fc.assert(
      fc.asyncProperty(holdable(appleExport), (as) => roundTrip(appleExport, appleImport, as)),
      {
        numRuns: 100,
      },
    );
    await roundTrip(appleExport, appleImport, [
      makeAccount({ secret: "JBSWY3DPEHPK3PXP", issuer: 'a,"b"', account: "x\ny" }),
    ]);
  });
});
