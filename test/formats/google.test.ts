import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeAccount } from "../../src/core/account.js";
import { encodeBase32 } from "../../src/core/base32.js";
import {
  decodeMigration,
  googleExport,
  googleImport,
  migrationUri,
  qrImageImport,
  writePayload,
} from "../../src/formats/google.js";
import { toBase64 } from "../../src/formats/util.js";
import { readQrCodes } from "../../src/io/qrimage.js";
import { hasTool } from "../e2e/harness.js";
import { comparable, fixture, holdable, QR, testRandom } from "./roundtrip-arb.js";

const enc = (s: string) => new TextEncoder().encode(s);
const expected = new Map(
  readFileSync(join(QR, "expected-text.tsv"), "utf8")
    .split("\n")
    .filter((l) => l.includes("\t"))
    .map((l) => l.split("\t") as [string, string]),
);
const SCREENSHOTS = [...expected.keys()].filter((f) => f.startsWith("Google"));

/** One OtpParameters with an extra unknown field, to check that readers skip it. */
function payloadWithUnknown(): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).fork();
  w.tag(1, WireType.LengthDelimited).bytes(new Uint8Array([0xfb, 0xff, 0xfe, 1, 2, 3, 4, 5, 6, 7]));
  w.tag(2, WireType.LengthDelimited).string("GitHub:alice");
  w.tag(99, WireType.LengthDelimited).string("future");
  w.tag(8, WireType.Varint).int32(5);
  w.join();
  w.tag(42, WireType.Varint).int32(1);
  w.tag(3, WireType.Varint).int32(1);
  return w.finish();
}

describe("Google Authenticator migration", () => {
  it.each(SCREENSHOTS)("reads the real screenshot %s: the accounts encoded inside", async (f) => {
    const bytes = fixture(join(QR, f));
    expect(qrImageImport.detect(bytes, null, f)).toBe(true);
    const texts = await readQrCodes(bytes);
    expect(texts).toContain(expected.get(f));
    const got = await qrImageImport.decode({ bytes, fileName: f, readQr: readQrCodes });
    const want = decodeMigration(expected.get(f)!);
    expect(want.accounts.length).toBeGreaterThan(0);
    expect(got.accounts.map((a) => comparable(a.account))).toEqual(
      want.accounts.map((a) => comparable(a.account)),
    );
    expect(got.batches).toEqual(want.batches);
  });

  it("gets issuer, kind and counter right from a real code", () => {
    const d = decodeMigration(expected.get("GoogleAuthenticator_ScreenshotBigQR.jpeg")!);
    expect(
      d.accounts.map((a) => [a.account.kind, a.account.issuer, a.account.account, a.account.counter]),
    ).toEqual([
      ["totp", "", "code 1 google auth", 0],
      ["totp", "TestApp", "Google4 code", 0],
      ["totp", "TestApp", "user@example.com", 0],
      ["totp", "TestApp", "user@example.com", 0],
      ["totp", "TestApp", "user@example.com", 0],
      ["hotp", "", "hotpitem", 2],
      ["hotp", "", "hotpitem2", 2],
    ]);
    expect(d.accounts[1].account.algorithm).toBe("SHA256");
  });

  it("reports where a code sits in its batch", () => {
    expect(decodeMigration(expected.get("GoogleAuthenticatorExport_1.png")!).batches).toEqual([
      { id: 0, index: 1, size: 3 },
    ]);
    expect(decodeMigration(expected.get("GoogleAuthenticatorExport_3.png")!).batches).toEqual([
      { id: 0, index: 0, size: 4 },
    ]);
  });

  it("keeps a raw + in the data as base64, and reads the text form", async () => {
    // Find a payload whose base64 holds '+', then write it unescaped, as some scanners hand it over.
    let uri = "";
    let secret = "";
    for (let i = 0; !uri.includes("+") && i < 1000; i++) {
      secret = encodeBase32(new Uint8Array(10).fill(i));
      const p = writePayload([makeAccount({ secret, issuer: "I", account: "a" })], {
        id: 1,
        index: 0,
        size: 1,
      });
      uri = `otpauth-migration://offline?data=${toBase64(p)}`;
    }
    expect(uri).toContain("+");
    const d = decodeMigration(uri);
    expect(d.accounts[0].account.secret).toBe(secret);
    const text = `${uri}\n${migrationUri(payloadWithUnknown())}\n`;
    expect(googleImport.detect(enc(text), text, "x")).toBe(true);
    const both = await googleImport.decode({ bytes: enc(text), fileName: "x" });
    expect(both.accounts).toHaveLength(2);
  });

  it("skips unknown fields and splits Issuer:account in the name", () => {
    const d = decodeMigration(migrationUri(payloadWithUnknown()));
    expect(d.accounts.map((a) => [a.account.issuer, a.account.account])).toEqual([["GitHub", "alice"]]);
  });

  it("skips MD5 codes and refuses a damaged payload", () => {
    const w = new BinaryWriter();
    w.tag(1, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).bytes(new Uint8Array(10).fill(7));
    w.tag(2, WireType.LengthDelimited).string("old");
    w.tag(4, WireType.Varint).int32(4);
    w.join();
    const d = decodeMigration(migrationUri(w.finish()));
    expect(d.skipped).toEqual([{ what: "old", why: "MD5 codes are not supported" }]);
    expect(() => decodeMigration("otpauth-migration://offline?data=CjcKFGoYhiGoahqG")).toThrow(
      /damaged migration/,
    );
    expect(() => decodeMigration("otpauth-migration://offline?x=1")).toThrow(/no data/);
  });

  it("refuses an image without a key, with one line", async () => {
    const bytes = fixture(join(QR, "example.png"));
    await expect(
      qrImageImport.decode({ bytes, fileName: "example.png", readQr: readQrCodes }),
    ).rejects.toThrow(/holds no 2FA key/);
  });

  it("lists what the app cannot hold", () => {
    const lim = (f: Parameters<typeof makeAccount>[0]) => googleExport.limitation(makeAccount(f));
    expect(lim({ secret: "AAAAAAAAAAAAAAAA", kind: "steam" })?.effect).toBe("drop");
    expect(lim({ secret: "AAAAAAAAAAAAAAAA", period: 60 })?.effect).toBe("drop");
    expect(lim({ secret: "AAAAAAAAAAAAAAAA", digits: 7 })?.effect).toBe("drop");
    expect(lim({ secret: "AAAAAAAAAAAAAAAA", algorithm: "SHA256" })).toMatchObject({
      effect: "degrade",
      why: /SHA256/,
    });
    expect(lim({ secret: "AAAAAAAAAAAAAAAA", kind: "hotp", period: 60 })).toBeNull();
    expect(lim({ secret: "AAAAAAAAAAAAAAAA" })).toBeNull();
  });

  it("writes ten accounts a code; zbarimg and zxing read the PNGs back", async () => {
    if (!hasTool("zbarimg")) {
      if (process.env.CI) throw new Error("zbarimg is missing");
      return;
    }
    const accounts = Array.from({ length: 23 }, (_, i) =>
      makeAccount({
        secret: `JBSWY3DPEHPK3P${"ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i]}Q`,
        issuer: `Site ${i}`,
        account: `user${i}@example.com`,
        kind: i % 5 === 0 ? "hotp" : "totp",
        counter: i,
      }),
    );
    const out = await googleExport.encode(
      accounts.map((account, i) => ({ name: `n${i}`, account })),
      { randomBytes: testRandom(9), now: 0 },
    );
    if (out instanceof Uint8Array) throw new Error("expected files");
    expect(out.files.map((f) => f.name)).toEqual([
      "google-1-of-3.png",
      "google-2-of-3.png",
      "google-3-of-3.png",
    ]);
    const dir = mkdtempSync(join(tmpdir(), "sk-google-"));
    try {
      const back = [];
      for (const f of out.files) {
        const path = join(dir, f.name);
        writeFileSync(path, f.bytes);
        const z = spawnSync("zbarimg", ["-q", "--raw", path], { encoding: "utf8" });
        expect(z.stdout.trim()).toBe(f.text);
        expect(await readQrCodes(f.bytes)).toEqual([f.text]);
        back.push(decodeMigration(z.stdout.trim()));
      }
      expect(back.map((b) => b.batches[0].index)).toEqual([0, 1, 2]);
      expect(new Set(back.map((b) => b.batches[0].id)).size).toBe(1);
      expect(back.flatMap((b) => b.accounts.map((a) => comparable(a.account)))).toEqual(
        accounts.map(comparable),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("round-trips every account it can hold (property, through the code texts)", async () => {
    await fc.assert(
      fc.asyncProperty(holdable(googleExport), async (accounts) => {
        const out = await googleExport.encode(
          accounts.map((account, i) => ({ name: `n${i}`, account })),
          { randomBytes: testRandom(accounts.length), now: 0 },
        );
        if (out instanceof Uint8Array) throw new Error("expected files");
        const text = out.files.map((f) => f.text).join("\n");
        const back = await googleImport.decode({ bytes: enc(text), fileName: "x" });
        expect(back.skipped).toEqual([]);
        expect(back.accounts.map((a) => comparable(a.account))).toEqual(accounts.map(comparable));
      }),
      { numRuns: 60 },
    );
  });
});
