import { createCipheriv } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { argon2id } from "@noble/hashes/argon2.js";
import { strToU8, zipSync } from "fflate";
import { describe, expect, test } from "vitest";
import type { Account } from "../../src/core/account.js";
import { UserError } from "../../src/core/errors.js";
import { parseUri } from "../../src/core/uri.js";
import { protonAuthenticatorImport, protonPassImport, ZIP_LIMITS } from "../../src/formats/proton.js";
import { FIXTURES } from "../e2e/harness.js";
import { expectOnlyUserErrors } from "./mutate.js";

const DIR = join(FIXTURES, "authenticator-exports");
const PASS_ZIP = join(FIXTURES, "more-exports/authenticator/pass/PassExport.zip");
const expected = new Map<string, Account>(
  readFileSync(join(DIR, "plain.txt"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => [parseUri(l).secret, parseUri(l)]),
);
const enc = (s: string) => new TextEncoder().encode(s);

/** Proton's encrypted export written independently: noble's Argon2id (not hash-wasm) and node:crypto GCM. */
function encryptExport(plain: string, password: string, salt: Uint8Array, nonce: Uint8Array): string {
  const key = argon2id(enc(password), salt, { t: 2, m: 19456, p: 1, dkLen: 32 });
  const c = createCipheriv("aes-256-gcm", key, nonce);
  c.setAAD(Buffer.from("proton.authenticator.export.v1"));
  const ct = Buffer.concat([c.update(plain, "utf8"), c.final(), c.getAuthTag()]);
  return JSON.stringify({
    version: 1,
    salt: Buffer.from(salt).toString("base64"),
    content: Buffer.concat([nonce, ct]).toString("base64"),
  });
}

describe("Proton Authenticator", () => {
  const plainFile = new Uint8Array(readFileSync(join(DIR, "proton_authenticator.json")));

  test("the real export imports its three accounts exactly", async () => {
    const text = new TextDecoder().decode(plainFile);
    expect(protonAuthenticatorImport.detect(plainFile, text, "p.json")).toBe(true);
    expect(protonAuthenticatorImport.isEncrypted(plainFile, text)).toBe(false);
    const { accounts, skipped } = await protonAuthenticatorImport.decode({
      bytes: plainFile,
      fileName: "p.json",
    });
    expect(skipped).toEqual([]);
    expect(accounts).toHaveLength(3);
    for (const { account } of accounts) expect(account).toEqual(expected.get(account.secret));
  });

  test("an encrypted export (independent Argon2id + AES-GCM) decrypts; a wrong password is a UserError", async () => {
    const inner = JSON.stringify({
      version: 1,
      entries: [
        ...JSON.parse(new TextDecoder().decode(plainFile)).entries,
        {
          id: "s",
          content: { uri: "steam://JRZCL47CMXVOQMNPZR2F7J4RGI", entry_type: "Steam", name: "Sophia" },
          note: null,
        },
        {
          id: "b",
          content: { uri: "otpauth://totp/x?digits=6", entry_type: "Totp", name: "broken" },
          note: null,
        },
      ],
    });
    const text = encryptExport(inner, "hunter2", new Uint8Array(16).fill(3), new Uint8Array(12).fill(5));
    const bytes = enc(text);
    expect(protonAuthenticatorImport.detect(bytes, text, "p.json")).toBe(true);
    expect(protonAuthenticatorImport.isEncrypted(bytes, text)).toBe(true);
    const { accounts, skipped } = await protonAuthenticatorImport.decode({
      bytes,
      fileName: "p.json",
      password: "hunter2",
    });
    expect(accounts).toHaveLength(4);
    expect(accounts[3].account).toMatchObject({
      kind: "steam",
      issuer: "Steam",
      account: "Sophia",
      digits: 5,
    });
    expect(skipped).toEqual([{ what: "broken", why: "it has no secret" }]);
    await expect(
      protonAuthenticatorImport.decode({ bytes, fileName: "p.json", password: "x" }),
    ).rejects.toThrow(/wrong password/);
    await expect(protonAuthenticatorImport.decode({ bytes, fileName: "p.json" })).rejects.toBeInstanceOf(
      UserError,
    );
  });

  test("mutated plain files only ever throw UserError", async () => {
    await expectOnlyUserErrors(
      plainFile,
      (bytes) => protonAuthenticatorImport.decode({ bytes, fileName: "p.json", password: "x" }),
      300,
    );
  });
});

describe("Proton Pass zip", () => {
  const zip = new Uint8Array(readFileSync(PASS_ZIP));

  test("the real export: seven keys from totpUri and totp extra fields, the malformed one skipped", async () => {
    expect(protonPassImport.detect(zip, null, "PassExport.zip")).toBe(true);
    const { accounts, skipped } = await protonPassImport.decode({ bytes: zip, fileName: "PassExport.zip" });
    expect(accounts.map((a) => [a.account.secret, a.account.issuer, a.account.account])).toEqual([
      ["K5UHSIDBOJSSA6LPOUQHAZLFNNUW4ZY", "Main TOTP (only secret)", "ausername"],
      ["JV4VGZLDOJSXIMJSGM2DKNQ", "MYISSUER", "MYLABEL"],
      ["IN2XG5DPNVDGSZLMMQYQ", "Only custom fields", ""],
      ["IN2XG5DPNVDGSZLMMQZA", "Only custom fields", ""],
      ["JVQWS3SUJ5KFA", "Main TOTP and custom fields", ""],
      ["IN2XG5DPNVDGSZLMMQYQ", "Main TOTP and custom fields", ""],
      ["IN2XG5DPNVDGSZLMMQZA", "Main TOTP and custom fields", ""],
    ]);
    expect(accounts[1].account).toMatchObject({ algorithm: "SHA256", digits: 8, period: 15 });
    expect(skipped).toEqual([
      { what: "Main TOTP and custom fields – Malformed totp", why: "it has no secret" },
    ]);
  });

  const passJson = (items: unknown[]) =>
    JSON.stringify({ version: "1.0", vaults: { v: { name: "Personal", items } } });
  const item = (name: string, totpUri: string, state = 1) => ({
    state,
    data: { metadata: { name }, type: "login", extraFields: [], content: { totpUri, itemUsername: "me" } },
  });

  test("trashed items are skipped and reported; bare secrets are TOTP keys", async () => {
    const bytes = zipSync({
      "Proton Pass/data.json": strToU8(passJson([item("Bin", "JBSWY3DP", 2), item("Bare", "jbsw y3dp")])),
    });
    const { accounts, skipped } = await protonPassImport.decode({ bytes, fileName: "p.zip" });
    expect(accounts.map((a) => [a.account.secret, a.account.issuer, a.account.account])).toEqual([
      ["JBSWY3DP", "Bare", "me"],
    ]);
    expect(skipped).toEqual([{ what: "Bin", why: "it is in the trash" }]);
  });

  test("a zip bomb stops at the size limit, quickly", async () => {
    const bomb = zipSync(
      { "Proton Pass/data.json": new Uint8Array(ZIP_LIMITS.bytes + 1024 * 1024) },
      { level: 9 },
    );
    const t0 = performance.now();
    await expect(protonPassImport.decode({ bytes: bomb, fileName: "b.zip" })).rejects.toThrow(
      /larger than 64 MiB/,
    );
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  test("too many entries, a PGP export and a zip without data.json are UserErrors", async () => {
    const many: Record<string, Uint8Array> = {};
    for (let i = 0; i <= ZIP_LIMITS.entries; i++) many[`f${i}`] = new Uint8Array(0);
    await expect(protonPassImport.decode({ bytes: zipSync(many), fileName: "m.zip" })).rejects.toThrow(
      /more than/,
    );
    const pgp = zipSync({ "Proton Pass/data.pgp": strToU8("-----BEGIN PGP MESSAGE-----") });
    expect(protonPassImport.detect(pgp, null, "x.zip")).toBe(true);
    await expect(protonPassImport.decode({ bytes: pgp, fileName: "x.zip" })).rejects.toThrow(/PGP/);
    const other = zipSync({ "a.txt": strToU8("hi") });
    expect(protonPassImport.detect(other, null, "x.zip")).toBe(false);
    await expect(protonPassImport.decode({ bytes: other, fileName: "x.zip" })).rejects.toBeInstanceOf(
      UserError,
    );
  });

  test("mutated zips only ever throw UserError", async () => {
    await expectOnlyUserErrors(zip, (bytes) => protonPassImport.decode({ bytes, fileName: "p.zip" }), 400);
  });
});
