import { createCipheriv, pbkdf2Sync } from "node:crypto";
import { describe, expect, test } from "vitest";
import { makeAccount } from "../../src/core/account.js";
import { authyImport } from "../../src/formats/authy.js";
import { expectOnlyUserErrors } from "./mutate.js";

/**
 * There is no real Authy file to test with, so these vectors follow FORMATS.md with an encryption
 * independent of the product code (node:crypto): PBKDF2-HMAC-SHA1 over the salt string, then
 * AES-256-CBC with PKCS#7 padding, IV = unique_iv or sixteen zero bytes.
 */
function seal(secret: string, password: string, salt: string, iterations: number, iv: Buffer | null): string {
  const key = pbkdf2Sync(password, salt, iterations, 32, "sha1");
  const c = createCipheriv("aes-256-cbc", key, iv ?? Buffer.alloc(16));
  return Buffer.concat([c.update(secret, "utf8"), c.final()]).toString("base64");
}

const PASSWORD = "correct horse";
function token(over: Record<string, unknown>, secret: string, password = PASSWORD) {
  const salt = (over.salt as string) ?? "mZ1b9tVf0FcO3q1kqJ3vQ2x3";
  // Tokens from before 2019 have no count: Authy used 1000 for them.
  const iterations =
    over.key_derivation_iterations === null
      ? 1000
      : ((over.key_derivation_iterations as number | undefined) ?? 100000);
  const ivHex = (over.unique_iv as string | null | undefined) ?? null;
  return {
    account_type: "authenticator",
    digits: 6,
    issuer: null,
    logo: null,
    name: "x",
    original_name: "x",
    password_timestamp: 1700000000,
    unique_id: "1",
    ...over,
    salt,
    key_derivation_iterations: over.key_derivation_iterations === null ? null : iterations,
    unique_iv: ivHex,
    encrypted_seed: seal(secret, password, salt, iterations, ivHex ? Buffer.from(ivHex, "hex") : null),
  };
}

const response = {
  authenticator_tokens: [
    token({ name: "GitHub: alice", original_name: "GitHub:alice", issuer: "GitHub" }, "JBSWY3DPEHPK3PXP"),
    token(
      {
        name: "bob@example.com",
        original_name: "Example:bob@example.com",
        digits: 7,
        unique_iv: "000102030405060708090a0b0c0d0e0f",
        salt: "other-salt",
      },
      "gezdgnbvgy3tqojq",
    ),
    token(
      { name: "Old one", original_name: "Old one", key_derivation_iterations: null, salt: "s3" },
      "MFRGGZDFMZTWQ2LK",
    ),
    token(
      {
        name: "Before password change",
        original_name: "Stale:carol",
        salt: "s4",
        key_derivation_iterations: 1000,
      },
      "ONSWG4TFOQ",
      "old password",
    ),
  ],
  deleted: [],
  message: "success",
  success: true,
};
const bytes = new TextEncoder().encode(JSON.stringify(response));

describe("Authy captured tokens", () => {
  test("detected, encrypted, and decrypted with the backup password", async () => {
    const text = new TextDecoder().decode(bytes);
    expect(authyImport.detect(bytes, text, "authenticator_tokens.json")).toBe(true);
    expect(authyImport.isEncrypted(bytes, text)).toBe(true);
    const { accounts, skipped } = await authyImport.decode({ bytes, fileName: "a.json", password: PASSWORD });
    expect(accounts.map((a) => a.account)).toEqual([
      makeAccount({ secret: "JBSWY3DPEHPK3PXP", issuer: "GitHub", account: "alice" }),
      makeAccount({ secret: "GEZDGNBVGY3TQOJQ", issuer: "Example", account: "bob@example.com", digits: 7 }),
      makeAccount({ secret: "MFRGGZDFMZTWQ2LK", issuer: "", account: "Old one" }),
    ]);
    expect(skipped).toEqual([
      {
        what: "Stale (carol)",
        why: "the backup password does not decrypt it (set before a password change?)",
      },
    ]);
  });

  test("a wrong password is a UserError; so is a missing one", async () => {
    await expect(authyImport.decode({ bytes, fileName: "a.json", password: "nope" })).rejects.toThrow(
      /wrong password/,
    );
    await expect(authyImport.decode({ bytes, fileName: "a.json" })).rejects.toThrow(/password is needed/);
  });

  test("the output of the community decrypt scripts needs no password", async () => {
    const plain = {
      decrypted_authenticator_tokens: [
        { name: "Ex", original_name: "Ex:me", digits: 8, decrypted_seed: "JBSWY3DP" },
      ],
    };
    const b = new TextEncoder().encode(JSON.stringify(plain));
    expect(authyImport.isEncrypted(b, JSON.stringify(plain))).toBe(false);
    const { accounts } = await authyImport.decode({ bytes: b, fileName: "d.json" });
    expect(accounts[0].account).toEqual(
      makeAccount({ secret: "JBSWY3DP", issuer: "Ex", account: "me", digits: 8 }),
    );
  });

  test("damaged tokens are skipped and reported; other JSON is not detected", async () => {
    const bad = {
      authenticator_tokens: [
        { ...response.authenticator_tokens[0], encrypted_seed: "@@@" },
        { ...response.authenticator_tokens[0], key_derivation_iterations: 1e12 },
        { ...response.authenticator_tokens[0], unique_iv: "abcd" },
        response.authenticator_tokens[1],
      ],
    };
    const b = new TextEncoder().encode(JSON.stringify(bad));
    const { accounts, skipped } = await authyImport.decode({
      bytes: b,
      fileName: "a.json",
      password: PASSWORD,
    });
    expect(accounts).toHaveLength(1);
    expect(skipped.map((s) => s.why)).toEqual([
      "encrypted_seed is not base64",
      "its key_derivation_iterations is not a sensible number",
      "its unique_iv is not 16 bytes",
    ]);
    for (const t of ['{"tokens":[]}', "[]", '{"authenticator_tokens":5}']) {
      expect(authyImport.detect(new TextEncoder().encode(t), t, "x")).toBe(false);
    }
  });

  test("mutated files only ever throw UserError", async () => {
    const small = new TextEncoder().encode(
      JSON.stringify({ authenticator_tokens: [response.authenticator_tokens[3]] }),
    );
    await expectOnlyUserErrors(
      small,
      (bytes) => authyImport.decode({ bytes, fileName: "a.json", password: "old password" }),
      200,
    );
  });
});
