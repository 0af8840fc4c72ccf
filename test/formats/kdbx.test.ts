import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, test } from "vitest";
import { type Account, makeAccount } from "../../src/core/account.js";
import { encodeBase32 } from "../../src/core/base32.js";
import { UserError } from "../../src/core/errors.js";
import { generateCode } from "../../src/core/otp.js";
import { kdbxImport, makeKdbxExport } from "../../src/formats/kdbx.js";
import { hasTool } from "../e2e/harness.js";

const TOOL = hasTool("keepassxc-cli");
/** Locally a missing keepassxc-cli skips; in CI the tests run and fail. */
const withTool = TOOL || process.env.CI === "true" ? test : test.skip;
const PW = "pw-Ünïcode 1";
const dir = mkdtempSync(join(tmpdir(), "sk-kdbx-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs keepassxc-cli with the database password (and any other answers) on stdin, never in argv. */
function kx(args: string[], input = `${PW}\n`) {
  const r = spawnSync("keepassxc-cli", args, { input, encoding: "utf8", timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** Cheap Argon2id for tests only; the default (64 MiB, 3 passes) is tested once below. */
const cheap = makeKdbxExport({ memoryKiB: 1024, iterations: 1, parallelism: 1 });
const opts = (password = PW) => ({
  password,
  randomBytes: (n: number) => new Uint8Array(randomBytes(n)),
  now: 0,
});

// ---------------------------------------------------------------- databases made by KeePassXC

const X = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
const str = (k: string, v: string, prot = false) =>
  `<String><Key>${X(k)}</Key><Value${prot ? ' ProtectInMemory="True"' : ""}>${X(v)}</Value></String>`;
let uuidN = 0;
const uuid = () => Buffer.from(`sparekey-test-${String(++uuidN).padStart(2, "0")}`).toString("base64");
const entry = (fields: [string, string][], customData = false) =>
  `<Entry><UUID>${uuid()}</UUID>${
    customData ? "<CustomData><Item><Key>x</Key><Value>1</Value></Item></CustomData>" : ""
  }${fields.map(([k, v]) => str(k, v, k === "otp" || k.includes("Secret") || k === "TOTP Seed")).join("")}</Entry>`;
const BIN = Buffer.from("recycle-bin-0001").toString("base64");

const KEYS = {
  github: "JBSWY3DPEHPK3PXP",
  steam: "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ",
  timeotp: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
  hex: "JBSWY3DPEHP354VPXXXQ",
  hotp: "MFRGGZDFMZTWQ2LKNNWG23TPOA",
  legacy: "ONSWG4TFOQ2A",
  legacySteam: "NBSWY3DPEB3W64TMMQ",
  keeotp: "KRUGKIDROVUWG2ZAMJZG653O",
};

/** A KeePass XML database with every way of storing a key that FORMATS.md lists, plus non-keys. */
function xml(customData: boolean): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<KeePassFile><Meta><Generator>test</Generator><RecycleBinEnabled>True</RecycleBinEnabled><RecycleBinUUID>${BIN}</RecycleBinUUID></Meta>
<Root><Group><UUID>${uuid()}</UUID><Name>Passwords</Name>
${entry(
  [
    ["Title", "GitHub"],
    ["UserName", "alice"],
    [
      "otp",
      `otpauth://totp/GitHub:alice?secret=${KEYS.github}&period=60&digits=8&issuer=GitHub&algorithm=SHA256`,
    ],
  ],
  customData,
)}
${entry([
  ["Title", "KeePass TOTP"],
  ["UserName", "kp"],
  ["TimeOtp-Secret-Base32", KEYS.timeotp],
  ["TimeOtp-Algorithm", "HMAC-SHA-512"],
  ["TimeOtp-Length", "7"],
  ["TimeOtp-Period", "45"],
])}
${entry([
  ["Title", "Hex"],
  ["TimeOtp-Secret-Hex", "48656c6c6f21deadbeef"],
])}
${entry([
  ["Title", "Counter"],
  ["UserName", "c"],
  ["HmacOtp-Secret-Base32", KEYS.hotp],
  ["HmacOtp-Counter", "5"],
])}
${entry([
  ["Title", "Legacy"],
  ["UserName", "old"],
  ["TOTP Seed", KEYS.legacy],
  ["TOTP Settings", "45;8"],
])}
${entry([
  ["Title", "KeeOtp"],
  ["otp", `key=${KEYS.keeotp}&size=8&step=60`],
])}
${entry([
  ["Title", "Just a password"],
  ["Password", "hunter2"],
])}
${entry([
  ["Title", "Broken"],
  ["otp", "otpauth://totp/Broken?digits=6"],
])}
<Group><UUID>${uuid()}</UUID><Name>Games</Name>
${entry([
  ["Title", "Steam"],
  ["UserName", "gabe"],
  ["otp", `otpauth://totp/Steam:gabe?secret=${KEYS.steam}&period=30&digits=5&issuer=Steam&encoder=steam`],
])}
${entry([
  ["Title", "Steam legacy"],
  ["TOTP Seed", KEYS.legacySteam],
  ["TOTP Settings", "30;S"],
])}
</Group>
<Group><UUID>${BIN}</UUID><Name>Recycle Bin</Name>
${entry([
  ["Title", "Deleted"],
  ["otp", `otpauth://totp/Deleted?secret=${KEYS.github}`],
])}
</Group>
</Group></Root></KeePassFile>`;
}

const EXPECTED: Account[] = [
  makeAccount({
    secret: KEYS.github,
    issuer: "GitHub",
    account: "alice",
    algorithm: "SHA256",
    digits: 8,
    period: 60,
  }),
  makeAccount({
    secret: KEYS.timeotp,
    issuer: "KeePass TOTP",
    account: "kp",
    algorithm: "SHA512",
    digits: 7,
    period: 45,
  }),
  // 48656c6c6f21deadbeef is "Hello!\xde\xad\xbe\xef", the classic JBSWY3DPEHPK3PXP.
  makeAccount({ secret: "JBSWY3DPEHPK3PXP", issuer: "Hex" }),
  makeAccount({ kind: "hotp", secret: KEYS.hotp, issuer: "Counter", account: "c", counter: 5 }),
  makeAccount({ secret: KEYS.legacy, issuer: "Legacy", account: "old", digits: 8, period: 45 }),
  makeAccount({ secret: KEYS.keeotp, issuer: "KeeOtp", digits: 8, period: 60 }),
  makeAccount({ kind: "steam", secret: KEYS.steam, issuer: "Steam", account: "gabe" }),
  makeAccount({ kind: "steam", secret: KEYS.legacySteam, issuer: "Steam legacy" }),
];

/** `keepassxc-cli import` writes KDBX 3.1 (AES-KDF), or KDBX 4 when an entry has custom data. */
function keepassxcDatabase(name: string, customData: boolean): Uint8Array {
  const x = join(dir, `${name}.xml`);
  const db = join(dir, `${name}.kdbx`);
  writeFileSync(x, xml(customData));
  const r = kx(["import", "-q", "-p", x, db], `${PW}\n${PW}\n`);
  expect(r.code, r.stderr).toBe(0);
  rmSync(x);
  return new Uint8Array(readFileSync(db));
}

async function checkKeePassXCDatabase(bytes: Uint8Array, version: number) {
  expect(bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (bytes[11] << 24)).toBe(
    version === 4 ? 0x40000 : 0x30001,
  );
  expect(kdbxImport.detect(bytes, null, "x.kdbx")).toBe(true);
  expect(kdbxImport.isEncrypted(bytes, null)).toBe(true);
  const { accounts, skipped } = await kdbxImport.decode({ bytes, fileName: "x.kdbx", password: PW });
  expect(accounts.map((a) => a.account)).toEqual(EXPECTED);
  expect(accounts.every((a) => a.name === undefined && a.recovery === undefined)).toBe(true);
  expect(skipped).toEqual([
    { what: "Broken", why: "it has no secret" },
    { what: "Recycle Bin/Deleted", why: "it is in the recycle bin" },
  ]);
}

describe("KDBX made by keepassxc-cli", () => {
  withTool("KDBX 3.1 with AES-KDF (keepassxc-cli import) reads every kind of OTP field", async () => {
    await checkKeePassXCDatabase(keepassxcDatabase("v3", false), 3);
  });

  withTool("KDBX 4 (keepassxc-cli writes it when an entry has custom data) reads the same", async () => {
    await checkKeePassXCDatabase(keepassxcDatabase("v4", true), 4);
  });

  withTool(
    "a database from `keepassxc-cli db-create`, with the entries merged in by keepassxc-cli",
    async () => {
      keepassxcDatabase("src", false);
      const db = join(dir, "created.kdbx");
      expect(kx(["db-create", "-q", "-p", db], `${PW}\n${PW}\n`).code).toBe(0);
      expect(kx(["add", "-q", "-u", "someone", db, "Unrelated"]).code).toBe(0);
      const m = kx(["merge", "-q", "-s", db, join(dir, "src.kdbx")]);
      expect(m.code, m.stderr).toBe(0);
      const { accounts } = await kdbxImport.decode({
        bytes: new Uint8Array(readFileSync(db)),
        fileName: "c",
        password: PW,
      });
      // The merged-in "Recycle Bin" group is not this database's recycle bin, so its entry counts.
      expect(accounts.map((a) => a.account)).toEqual([
        ...EXPECTED,
        makeAccount({ secret: KEYS.github, issuer: "Deleted", account: "Deleted" }),
      ]);
    },
  );

  withTool("our reading of each entry gives the code keepassxc-cli (or oathtool) shows", async () => {
    const bytes = keepassxcDatabase("codes", false);
    const { accounts } = await kdbxImport.decode({ bytes, fileName: "c", password: PW });
    const paths: [string, number][] = [
      ["GitHub", 0],
      ["Legacy", 4],
      ["KeeOtp", 5],
      ["Games/Steam", 6],
      ["Games/Steam legacy", 7],
    ];
    for (const [path, i] of paths) expectSameCode(join(dir, "codes.kdbx"), path, accounts[i].account);
    // keepassxc-cli 2.7.4 does not read KeePass's TimeOtp-* or HmacOtp-* fields: oathtool checks those.
    const oath = (args: string[], key: string) =>
      spawnSync("oathtool", [...args, "-b", "-"], { input: `${key}\n`, encoding: "utf8" }).stdout.trim();
    const [kp, hex, hotp] = [accounts[1].account, accounts[2].account, accounts[3].account];
    const now = Date.now();
    const at = ["--now", new Date(now).toISOString().replace("T", " ").replace(/\..*$/, " UTC")];
    expect(oath(["--totp=sha512", "-d", "7", "-s", "45", ...at], KEYS.timeotp)).toBe(generateCode(kp, now));
    expect(oath(["--totp", ...at], KEYS.github)).toBe(generateCode(hex, now));
    expect(oath(["--hotp", "-c", "5"], KEYS.hotp)).toBe(generateCode(hotp, now));
  });

  /** Sets a UInt64 of the KDBX 4 header's KDF dictionary (type 5, one-letter key), as a hostile file would. */
  function patchKdf(bytes: Uint8Array, key: string, value: bigint): Uint8Array {
    const out = bytes.slice();
    const pat = [0x05, 1, 0, 0, 0, key.charCodeAt(0), 8, 0, 0, 0];
    const at = out.findIndex((_, i) => pat.every((b, j) => out[i + j] === b));
    expect(at).toBeGreaterThan(0);
    const dv = new DataView(out.buffer);
    dv.setBigUint64(at + pat.length, value, true);
    // Fix the header's SHA-256 too (no key is needed for it), so that only the cost is wrong.
    let p = 12;
    while (out[p] !== 0) p += 5 + dv.getUint32(p + 1, true);
    p += 5 + dv.getUint32(p + 1, true);
    out.set(createHash("sha256").update(out.subarray(0, p)).digest(), p);
    return out;
  }

  withTool("a header asking for absurd key-derivation work is refused at once", async () => {
    const aes = patchKdf(keepassxcDatabase("cost", true), "R", 1n << 40n);
    const argon = patchKdf((await cheap.encode([], opts())) as Uint8Array, "M", 8n << 30n);
    const t0 = performance.now();
    await expect(kdbxImport.decode({ bytes: aes, fileName: "a", password: PW })).rejects.toThrow(
      /more key-derivation work/,
    );
    await expect(kdbxImport.decode({ bytes: argon, fileName: "a", password: PW })).rejects.toThrow(
      /more Argon2 work/,
    );
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  test("a wrong password, a KeePass 1 file and damaged files are UserErrors", async () => {
    const bytes = (await cheap.encode([{ name: "a", account: EXPECTED[0] }], opts())) as Uint8Array;
    await expect(kdbxImport.decode({ bytes, fileName: "a", password: "nope" })).rejects.toThrow(
      /wrong password/,
    );
    await expect(kdbxImport.decode({ bytes, fileName: "a" })).rejects.toThrow(/password is needed/);
    const kdb = Uint8Array.from([0x03, 0xd9, 0xa2, 0x9a, 0x65, 0xfb, 0x4b, 0xb5, 0, 0, 0, 0]);
    await expect(kdbxImport.decode({ bytes: kdb, fileName: "a.kdb", password: PW })).rejects.toThrow(
      /KeePass 1/,
    );
  });
});

// ---------------------------------------------------------------- files we write

/** Compares keepassxc-cli's current code with ours at the same moment; retries once across a step. */
function expectSameCode(db: string, path: string, a: Account) {
  for (let attempt = 0; ; attempt++) {
    const before = Date.now();
    const r = kx(["show", "-q", "-t", db, path]);
    const after = Date.now();
    expect(r.code, r.stderr).toBe(0);
    const ours = generateCode(a, before);
    if (generateCode(a, after) !== ours && attempt === 0) continue;
    expect(r.stdout.trim(), path).toBe(ours);
    return;
  }
}

const written: { name: string; account: Account; recovery?: string[] }[] = [
  { name: "github/alice", account: makeAccount({ secret: KEYS.github, issuer: "GitHub", account: "alice" }) },
  {
    name: "work/aws",
    account: makeAccount({
      secret: KEYS.timeotp,
      issuer: "AWS & Co",
      account: "ops@example.com",
      algorithm: "SHA512",
      digits: 8,
      period: 60,
    }),
    recovery: ["1111-2222", "3333-4444"],
  },
  {
    name: "steam",
    account: makeAccount({ kind: "steam", secret: KEYS.steam, issuer: "Steam", account: "gabe" }),
  },
  {
    name: "bank",
    account: makeAccount({ kind: "hotp", secret: KEYS.hotp, issuer: "Bank", account: "me", counter: 7 }),
  },
  {
    name: "odd",
    account: makeAccount({
      kind: "hotp",
      secret: KEYS.legacy,
      issuer: "Odd",
      algorithm: "SHA256",
      digits: 8,
      counter: 2,
    }),
  },
];

describe("KDBX that sparekey writes", () => {
  withTool("KeePassXC opens it (default KDF: KDBX 4, Argon2id 64 MiB) and shows the same codes", async () => {
    const t0 = performance.now();
    const { kdbxExport } = await import("../../src/formats/kdbx.js");
    const bytes = (await kdbxExport.encode(written, opts())) as Uint8Array;
    const ms = performance.now() - t0;
    const file = join(dir, "ours.kdbx");
    writeFileSync(file, bytes);
    const info = kx(["db-info", "-q", file]);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/KDF: Argon2id \(3 rounds, 65536 KB\)/);
    expectSameCode(file, "github/GitHub", written[0].account);
    expectSameCode(file, "work/AWS & Co", written[1].account);
    expectSameCode(file, "Steam", written[2].account);
    const otp = kx(["show", "-q", "-s", "-a", "otp", file, "Steam"]);
    expect(otp.stdout.trim()).toBe(
      `otpauth://totp/Steam:gabe?secret=${KEYS.steam}&issuer=Steam&digits=5&encoder=steam`,
    );
    const hotp = kx([
      "show",
      "-q",
      "-s",
      "-a",
      "HmacOtp-Secret-Base32",
      "-a",
      "HmacOtp-Counter",
      file,
      "Bank",
    ]);
    expect(hotp.stdout.trim().split("\n")).toEqual([KEYS.hotp, "7"]);
    const notes = kx(["show", "-q", "-a", "Notes", file, "work/AWS & Co"]);
    expect(notes.stdout.trim()).toBe("Recovery codes (sparekey):\n1111-2222\n3333-4444");
    console.log(`kdbx export with the default Argon2id: ${Math.round(ms)} ms`);
  });

  withTool("after keepassxc-cli edits and saves it (KDBX 4, Argon2id), it still imports", async () => {
    const file = join(dir, "edited.kdbx");
    writeFileSync(file, (await cheap.encode(written, opts())) as Uint8Array);
    expect(kx(["edit", "-q", "-u", "alice2", file, "github/GitHub"]).code).toBe(0);
    const { accounts } = await kdbxImport.decode({
      bytes: new Uint8Array(readFileSync(file)),
      fileName: "e",
      password: PW,
    });
    expect(accounts.map((a) => a.name).sort()).toEqual(written.map((w) => w.name).sort());
    // The otp URI, not the entry's UserName, holds the account name.
    expect(accounts.find((a) => a.name === "github/alice")?.account.account).toBe("alice");
  });

  test("HOTP is a limitation (degrade); TOTP and Steam are not", () => {
    expect(cheap.limitation(written[0].account)).toBeNull();
    expect(cheap.limitation(written[2].account)).toBeNull();
    expect(cheap.limitation(written[3].account)).toMatchObject({
      effect: "degrade",
      why: expect.stringMatching(/KeePassXC has no HOTP/),
    });
    expect(cheap.limitation(written[4].account)?.why).toMatch(/SHA-1 and 6 digits only, not SHA256 with 8/);
  });

  test("no password, no file", async () => {
    await expect(cheap.encode(written, { ...opts(), password: undefined })).rejects.toBeInstanceOf(UserError);
  });

  test("the injected randomness is what the file uses (same bytes in, same file out)", async () => {
    const fixed = { password: PW, now: 0, randomBytes: (n: number) => new Uint8Array(n).fill(7) };
    const a = (await cheap.encode(written.slice(0, 1), fixed)) as Uint8Array;
    const b = (await cheap.encode(written.slice(0, 1), fixed)) as Uint8Array;
    // The XML carries save times from kdbxweb's own clock, so compare the outer header only.
    expect(Buffer.from(a.subarray(0, 200)).equals(Buffer.from(b.subarray(0, 200)))).toBe(true);
  });
});

// ---------------------------------------------------------------- properties

/** Accounts as apps produce them (as in test/core/uri.test.ts: a colon only with an issuer). */
const text = fc.string({ maxLength: 20 }).map((s) => s.trim());
const arbAccount = fc
  .record({
    kind: fc.constantFrom("totp" as const, "hotp" as const, "steam" as const),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }),
    issuer: text,
    account: text,
    algorithm: fc.constantFrom("SHA1" as const, "SHA256" as const, "SHA512" as const),
    digits: fc.integer({ min: 1, max: 10 }),
    period: fc.integer({ min: 1, max: 86400 }),
    counter: fc.nat(),
  })
  .filter((r) => !(r.issuer === "" && r.account.includes(":")))
  .map(({ bytes, ...f }) => makeAccount({ ...f, secret: encodeBase32(bytes) }));

describe("KDBX properties", () => {
  test("encode then decode gives the same accounts, names and recovery codes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(
          fc.record({
            name: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,8}(\/[a-z0-9][a-z0-9-]{0,8}){0,2}$/),
            account: arbAccount,
            recovery: fc.array(fc.stringMatching(/^[A-Za-z0-9-]{4,12}$/), { maxLength: 3 }),
          }),
          { maxLength: 5, selector: (r) => r.name },
        ),
        async (items) => {
          const bytes = (await cheap.encode(items, opts())) as Uint8Array;
          const { accounts, skipped } = await kdbxImport.decode({ bytes, fileName: "p", password: PW });
          expect(skipped).toEqual([]);
          const byName = (x: { name?: string }, y: { name?: string }) => (x.name! < y.name! ? -1 : 1);
          expect(accounts.sort(byName)).toEqual(
            items
              .map((i) => ({
                account: i.account,
                name: i.name,
                ...(i.recovery.length > 0 ? { recovery: i.recovery } : {}),
              }))
              .sort(byName),
          );
        },
      ),
      { numRuns: 12 },
    );
  });

  test("truncated or flipped files only ever throw UserError", async () => {
    const base = (await cheap.encode(written, opts())) as Uint8Array;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.nat({ max: base.length - 1 }).map((n) => base.slice(0, n)),
          fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
            const b = base.slice();
            b[i] ^= x;
            return b;
          }),
        ),
        async (bytes) => {
          try {
            await kdbxImport.decode({ bytes, fileName: "m", password: PW });
          } catch (e) {
            expect(e).toBeInstanceOf(UserError);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
