import { readdirSync } from "node:fs";
import { join } from "node:path";
import { cbc } from "@noble/ciphers/aes.js";
import { expand } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { pbkdf2 } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";
import fc from "fast-check";
import { argon2id } from "hash-wasm";
import { describe, expect, it } from "vitest";
import { makeAccount } from "../../src/core/account.js";
import { bitwardenExport, bitwardenImport } from "../../src/formats/bitwarden.js";
import { toBase64 } from "../../src/formats/util.js";
import { EXPORTS, expectPlain, fixture, holdable, MORE, roundTrip, testRandom } from "./roundtrip-arb.js";

const enc = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A password-protected export built the way Bitwarden's clients build one (key, HKDF, 2.iv|ct|mac). */
async function protect(plain: string, password: string, kdf: "pbkdf2" | "argon2id"): Promise<string> {
  const salt = "c2FsdHNhbHRzYWx0";
  const key =
    kdf === "pbkdf2"
      ? pbkdf2(sha256, password, salt, { c: 5000, dkLen: 32 })
      : await argon2id({
          password,
          salt: sha256(enc(salt)),
          iterations: 2,
          memorySize: 16 * 1024,
          parallelism: 2,
          hashLength: 32,
          outputType: "binary",
        });
  const encKey = expand(sha256, key, enc("enc"), 32);
  const macKey = expand(sha256, key, enc("mac"), 32);
  const rnd = testRandom(5);
  const encString = (s: string) => {
    const iv = rnd(16);
    const ct = cbc(encKey, iv).encrypt(enc(s));
    const mac = hmac(sha256, macKey, new Uint8Array([...iv, ...ct]));
    return `2.${toBase64(iv)}|${toBase64(ct)}|${toBase64(mac)}`;
  };
  return JSON.stringify({
    encrypted: true,
    passwordProtected: true,
    salt,
    kdfType: kdf === "pbkdf2" ? 0 : 1,
    kdfIterations: kdf === "pbkdf2" ? 5000 : 2,
    kdfMemory: kdf === "pbkdf2" ? null : 16,
    kdfParallelism: kdf === "pbkdf2" ? null : 2,
    encKeyValidation_DO_NOT_EDIT: encString("2f8b1f5e-0000-4000-8000-000000000000"),
    data: encString(plain),
  });
}

describe("Bitwarden", () => {
  const steamOnlySecret = (a: { kind: string }) => (a.kind === "steam" ? "secret-only" : "none");
  it.each(["bitwarden.json", "bitwarden.csv"])("reads %s (the Steam entry: only its secret)", async (f) => {
    const bytes = fixture(join(EXPORTS, f));
    expect(bitwardenImport.detect(bytes, text(bytes), f)).toBe(true);
    const d = await bitwardenImport.decode({ bytes, fileName: f });
    expectPlain(d, 4, steamOnlySecret);
    expect(d.accounts.find((a) => a.account.kind === "steam")).toBeDefined();
  });

  it("reads every file of the second test set", async () => {
    const dir = join(MORE, "bitwarden");
    const got: Record<string, string[]> = {};
    for (const f of readdirSync(dir)) {
      const d = await bitwardenImport.decode({ bytes: fixture(join(dir, f)), fileName: f });
      got[f] = d.accounts.map((a) => `${a.account.kind} ${a.account.issuer}|${a.account.account}`);
    }
    expect(got).toEqual({
      "bitwarden.csv": [
        "totp ISSUER|LABEL_256_8_15",
        "totp ISSUER_DEFAULT|LABEL_DEFAULT",
        "steam SteamName|",
        "totp SevenDigits|Seven digit username",
      ],
      "bitwarden.json": [
        "totp ISSUER|LABEL_256_8_15",
        "totp ISSUER_DEFAULT|LABEL_DEFAULT",
        "steam SteamName|",
        "totp SevenDigits|Seven digit username",
      ],
      "bitwarden_app.json": ["totp ItemWithTOTP|myusername"],
      "bitwarden_sample.csv": ["totp Code 2|", "totp Code 3|", "totp Code1|"],
    });
  });

  it.each(["pbkdf2", "argon2id"] as const)("opens a password-protected export (%s)", async (kdf) => {
    const inner = JSON.stringify({
      encrypted: false,
      items: [{ type: 1, name: "GitHub", login: { username: "alice", totp: "JBSWY3DPEHPK3PXP" } }],
    });
    const file = enc(await protect(inner, "hunter2", kdf));
    expect(bitwardenImport.isEncrypted(file, text(file))).toBe(true);
    const d = await bitwardenImport.decode({ bytes: file, fileName: "x", password: "hunter2" });
    expect(d.accounts.map((a) => [a.account.issuer, a.account.account, a.account.secret])).toEqual([
      ["GitHub", "alice", "JBSWY3DPEHPK3PXP"],
    ]);
    await expect(bitwardenImport.decode({ bytes: file, fileName: "x", password: "hunter3" })).rejects.toThrow(
      /wrong password/,
    );
  });

  it("refuses an export encrypted with the account key, saying what to do", async () => {
    const s = '{"encrypted":true,"encKeyValidation_DO_NOT_EDIT":"2.a|b|c","folders":[],"items":[]}';
    await expect(bitwardenImport.decode({ bytes: enc(s), fileName: "x" })).rejects.toThrow(/account key/);
  });

  it("skips a TOTP field that is not a key, and counts the logins without one", async () => {
    const s = JSON.stringify({
      encrypted: false,
      items: [
        { type: 1, name: "A", login: { totp: "not a key!" } },
        { type: 1, name: "B", login: { totp: null } },
        { type: 2, name: "note" },
      ],
    });
    const d = await bitwardenImport.decode({ bytes: enc(s), fileName: "x" });
    expect(d.accounts).toEqual([]);
    expect(d.skipped).toEqual([
      { what: "A", why: "its TOTP field is neither a URI nor a base32 secret" },
      { what: "2 items", why: "no 2FA key (TOTP field empty)" },
    ]);
  });

  it("drops HOTP on export, with the reason", () => {
    expect(
      bitwardenExport.limitation(makeAccount({ secret: "JBSWY3DPEHPK3PXP", kind: "hotp" })),
    ).toMatchObject({
      effect: "drop",
      why: /HOTP/,
    });
  });

  it("carries the unused recovery codes in the item's notes, both ways", async () => {
    const account = makeAccount({ secret: "JBSWY3DPEHPK3PXP", issuer: "GitHub", account: "alice" });
    const out = await bitwardenExport.encode(
      [{ name: "github/alice", account, recovery: ["7xk2-9fqa", "m3pd-81zc"] }],
      {
        randomBytes: testRandom(1),
        now: 0,
      },
    );
    expect(JSON.parse(text(out as Uint8Array)).items[0].notes).toBe(
      "Recovery codes (sparekey):\n7xk2-9fqa\nm3pd-81zc",
    );
    const back = await bitwardenImport.decode({ bytes: out as Uint8Array, fileName: "x" });
    expect(back.accounts[0].recovery).toEqual(["7xk2-9fqa", "m3pd-81zc"]);
  });

  it("round-trips every account it can hold (property)", async () => {
    await fc.assert(
      fc.asyncProperty(holdable(bitwardenExport), (as) => roundTrip(bitwardenExport, bitwardenImport, as)),
      {
        numRuns: 100,
      },
    );
  });
});
