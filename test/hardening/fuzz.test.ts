// Fuzzes every parser of input sparekey did not write (issue 8): otpauth URIs, the entry format,
// base32, every import format's decode, and recovery-code pastes. Each gets >= 10,000 cases
// (SPAREKEY_FUZZ_RUNS overrides; FUZZ_SEED replays). Only typed errors may come out, no case may
// take long, and no message may repeat the secret it was given.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Account } from "../../src/core/account.js";
import { canonicalSecret, decodeBase32, encodeBase32, normalizeBase32 } from "../../src/core/base32.js";
import { formatEntry, parseEntry } from "../../src/core/entry.js";
import { isTypedError } from "../../src/core/errors.js";
import { parseRecoveryCodes, useRecoveryCode } from "../../src/core/recovery.js";
import { formatUri, parseUri } from "../../src/core/uri.js";
import { IMPORT_FORMATS } from "../../src/formats/registry.js";
import type { Decoded, ImportFormat } from "../../src/formats/types.js";
import { concat, loadFixtures, mutantArb, mutantOf, randomBytesArb } from "./mutators.js";

/** Cases per parser; the issue asks for at least 10,000 in CI. */
const RUNS = Number(process.env.SPAREKEY_FUZZ_RUNS ?? 10_000);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
/** A case that takes longer than this is a hang in the making (catastrophic regex, huge loop). */
const CASE_MS = 5_000;
const params = { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) };

/** Counts of what the fuzzers saw, for the report. */
const tally: Record<string, { ok: number; typed: number; maxMs: number; totalMs?: number }> = {};
function count(what: string, ok: boolean, ms = 0) {
  const key = what.replace(/\(.*\)$/, "(fixtures)");
  tally[key] ??= { ok: 0, typed: 0, maxMs: 0 };
  tally[key][ok ? "ok" : "typed"]++;
  tally[key].maxMs = Math.max(tally[key].maxMs, Math.round(ms));
  tally[key].totalMs = Math.round((tally[key].totalMs ?? 0) + ms);
}

/** Fails unless `msg` holds no 10-character run of any of the secrets. */
function assertNoSecret(msg: string, secrets: readonly string[], what: string) {
  const hay = msg.toUpperCase().replace(/[\s-]/g, "");
  for (const s of secrets) {
    const S = s.toUpperCase();
    if (S.length < 10) continue;
    for (let i = 0; i + 10 <= S.length; i++) {
      if (hay.includes(S.slice(i, i + 10)))
        throw new Error(`${what}: the message repeats the secret: ${JSON.stringify(msg)}`);
    }
  }
}

/**
 * Runs one case: it must return, or throw a typed error, within CASE_MS. Returns the value, or
 * undefined after a typed error (whose message is checked for the secrets).
 */
async function typedOnly<T>(
  what: string,
  secrets: readonly string[],
  run: () => T | Promise<T>,
): Promise<T | undefined> {
  const t0 = performance.now();
  let out: T | undefined;
  try {
    out = await run();
    count(what, true, performance.now() - t0);
  } catch (e) {
    if (!isTypedError(e)) {
      const err = e as Error;
      throw new Error(`${what}: untyped ${err?.name}: ${err?.message}\n${err?.stack ?? ""}`);
    }
    if (/\n/.test(e.message)) throw new Error(`${what}: a message of more than one line: ${e.message}`);
    assertNoSecret(e.message, secrets, what);
    count(what, false, performance.now() - t0);
  }
  const ms = performance.now() - t0;
  if (ms > CASE_MS) throw new Error(`${what}: one case took ${Math.round(ms)} ms`);
  return out;
}

/** Throws when a condition fails (cheaper than expect() in loops of many thousand cases). */
function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

const KINDS = new Set(["totp", "hotp", "steam"]);
const ALGORITHMS = new Set(["SHA1", "SHA256", "SHA512"]);
const FIELDS = ["kind", "secret", "algorithm", "digits", "period", "counter", "issuer", "account"] as const;

/** What every account a parser returns must satisfy: sane fields that survive a URI round trip. */
function checkAccount(a: Account, what: string) {
  check(/^[A-Z2-7]+$/.test(a.secret) && decodeBase32(a.secret).length > 0, `${what}: secret not canonical`);
  check(KINDS.has(a.kind) && ALGORITHMS.has(a.algorithm), `${what}: kind or algorithm`);
  check(Number.isInteger(a.digits) && a.digits >= 1 && a.digits <= 10, `${what}: digits ${a.digits}`);
  check(Number.isInteger(a.period) && a.period >= 1 && a.period <= 86400, `${what}: period ${a.period}`);
  check(Number.isSafeInteger(a.counter) && a.counter >= 0, `${what}: counter ${a.counter}`);
  const uri = formatUri(a);
  const back = parseUri(uri);
  // An account with a colon and no issuer reads back split at the colon (the Key URI format
  // allows an encoded colon as the separator): compare the label as a whole then.
  if (a.issuer === "" && a.account.includes(":")) {
    check(
      `${back.issuer}:${back.account}` === a.account || back.account === a.account,
      `${what}: label ${uri}`,
    );
    back.issuer = a.issuer;
    back.account = a.account;
  }
  for (const k of FIELDS)
    check(
      back[k] === a[k],
      `${what}: ${k} changes in a URI round trip: ${JSON.stringify(a[k])} -> ${JSON.stringify(back[k])} (${uri})`,
    );
}

function checkDecoded(d: Decoded, secrets: readonly string[], what: string) {
  check(Array.isArray(d.accounts) && Array.isArray(d.skipped), `${what}: not a Decoded`);
  for (const x of d.accounts) checkAccount(x.account, what);
  for (const s of d.skipped) {
    check(typeof s.what === "string" && typeof s.why === "string", `${what}: bad skipped record`);
    assertNoSecret(s.why, secrets, `${what} (skip reason)`);
  }
}

const base32Char = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
/** A secret as an app shows it: 16-52 base32 characters. */
const secretArb = fc.string({ unit: base32Char, minLength: 16, maxLength: 52 });
const noise = fc.string({
  unit: fc.constantFrom(..."%&=?#:/+ -_.~\u00e9\u0000\n\tAz09@!*'()"),
  maxLength: 12,
});
const anyText = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: "binary", maxLength: 300 }));

/** An otpauth URI built from parts, each of which may be damaged; the secret is tracked. */
const uriCase = fc
  .record({
    scheme: fc.constantFrom("otpauth://", "OTPAUTH://", "otpauth:/", "steam://", "otpauth://"),
    type: fc.constantFrom("totp", "hotp", "TOTP", "steam", "yubi", "", "totp/"),
    label: fc.oneof(
      fc.constant(""),
      fc.string({ unit: fc.constantFrom(..."abcxyz:%20@. é/"), maxLength: 20 }),
      noise,
    ),
    secret: secretArb,
    secretDamage: fc.constantFrom("none", "lower", "spaces", "pad", "bad-char", "cut", "empty", "percent"),
    extra: fc.array(
      fc.tuple(
        fc.constantFrom(
          "issuer",
          "algorithm",
          "digits",
          "period",
          "counter",
          "encoder",
          "image",
          "x",
          "secret",
        ),
        fc.oneof(
          noise,
          fc.constantFrom(
            "SHA1",
            "sha256",
            "SHA-512",
            "MD5",
            "6",
            "0",
            "11",
            "99999999999999999999",
            "-1",
            "steam",
          ),
        ),
      ),
      { maxLength: 6 },
    ),
    order: fc.nat(),
    tail: fc.oneof(fc.constant(""), noise),
  })
  .map((c) => {
    let s = c.secret;
    if (c.secretDamage === "lower") s = s.toLowerCase();
    else if (c.secretDamage === "spaces") s = s.replace(/(.{4})/g, "$1%20");
    else if (c.secretDamage === "pad") s = `${s}%3D%3D`;
    else if (c.secretDamage === "bad-char") s = `${s.slice(0, 5)}1${s.slice(5)}`;
    else if (c.secretDamage === "cut") s = s.slice(0, 1);
    else if (c.secretDamage === "empty") s = "";
    else if (c.secretDamage === "percent") s = `${s}%`;
    const q = [`secret=${s}`, ...c.extra.map(([k, v]) => `${k}=${v}`)];
    const at = c.order % q.length;
    [q[0], q[at]] = [q[at], q[0]];
    const uri = c.scheme.startsWith("steam")
      ? `${c.scheme}${s}${c.tail}`
      : `${c.scheme}${c.type}/${c.label}?${q.join("&")}${c.tail}`;
    return { uri, secrets: [c.secret] };
  });

describe("fuzz: otpauth URIs (parseUri)", { timeout: 180_000 }, () => {
  it(`structured, damaged URIs: ${RUNS} cases`, async () => {
    await fc.assert(
      fc.asyncProperty(uriCase, async ({ uri, secrets }) => {
        const a = await typedOnly("parseUri", secrets, () => parseUri(uri));
        if (a) checkAccount(a, uri);
      }),
      params,
    );
  });
  it(`any text: ${RUNS} cases`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          anyText,
          anyText.map((t) => `otpauth://totp/${t}`),
        ),
        async (t) => {
          const a = await typedOnly("parseUri", [], () => parseUri(t));
          if (a) checkAccount(a, t);
        },
      ),
      params,
    );
  });
});

describe("fuzz: base32", { timeout: 180_000 }, () => {
  it(`any text: ${RUNS} cases; canonical form is stable`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          anyText,
          secretArb.map((s) => s.toLowerCase()),
          fc.string({ unit: fc.constantFrom(..."AB2 -=1!") }),
        ),
        async (t) => {
          await typedOnly("normalizeBase32", [], () => normalizeBase32(t));
          const c = await typedOnly("canonicalSecret", [], () => canonicalSecret(t));
          if (c !== undefined) expect(canonicalSecret(c)).toBe(c);
        },
      ),
      params,
    );
  });
  it(`bytes round trip: ${RUNS} cases`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (b) => {
        expect(decodeBase32(encodeBase32(b))).toEqual(b);
      }),
      params,
    );
  });
});

/** Entry lines: keys (good and bad), sparekey's own lines, and foreign lines such as a password. */
const entryLine = fc.oneof(
  uriCase.map((c) => c.uri),
  fc.constantFrom(
    "recovery: 7xk2-9fqa",
    "recovery: m3pd-81zc used 2026-12-04",
    "recovery:",
    "recovery:   used 2026-12-04",
    "verified: 2026-12-04T19:02:11Z",
    "printed: 2026-12-04",
    "printed:",
    "login: alice",
    "hunter2",
    "",
    "otpauth://",
    "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&counter=5counter=6",
  ),
  fc
    .tuple(fc.constantFrom("recovery", "verified", "printed", "note", "url"), noise)
    .map(([k, v]) => `${k}: ${v}`),
  anyText.map((t) => t.replace(/\n/g, " ")),
);

describe("fuzz: the entry format (parseEntry/formatEntry)", { timeout: 180_000 }, () => {
  it(`${RUNS} entries: typed errors only; formatting is stable and keeps foreign lines`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entryLine, { maxLength: 12 }), fc.boolean(), async (lines, nl) => {
        const text = lines.join("\n") + (nl ? "\n" : "");
        const secrets = (text.match(/secret=([A-Z2-7]{16,})/g) ?? []).map((s) => s.slice(7));
        const e = await typedOnly("parseEntry", secrets, () => parseEntry(text));
        if (!e) return;
        if (e.account) checkAccount(e.account, text);
        const once = formatEntry(e);
        const again = parseEntry(once);
        expect(again.account).toEqual(e.account);
        expect(again.recovery).toEqual(e.recovery);
        expect(formatEntry(again)).toBe(once);
        // Lines sparekey does not own survive, in order.
        const own = /^(recovery|verified|printed):/;
        const foreign = e.lines.filter((l, i) => i !== e.keyIndex && !own.test(l));
        const outLines = once.split("\n");
        if (e.finalNewline && outLines.at(-1) === "") outLines.pop();
        const outForeign = outLines.filter(
          (l, i, all) => i !== all.findIndex((x) => x.startsWith("otpauth://")) && !own.test(l),
        );
        if (foreign.length > 0) expect(outForeign).toEqual(foreign);
      }),
      params,
    );
  });
});

const hex5 = fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 5, maxLength: 5 });
/** A recovery-code paste: codes in the layouts sites use, numbering, headers, prose and junk. */
const codeArb = fc.oneof(
  fc.string({ unit: fc.constantFrom(..."abcdefghjkmnpqrstuvwxyz23456789"), minLength: 4, maxLength: 10 }),
  fc
    .tuple(fc.integer({ min: 1000, max: 9999 }), fc.integer({ min: 1000, max: 9999 }))
    .map(([a, b]) => `${a} ${b}`),
  fc.tuple(hex5, hex5).map(([a, b]) => `${a}-${b}`),
);
const pasteLine = fc.oneof(
  fc
    .array(codeArb, { minLength: 1, maxLength: 4 })
    .chain((codes) =>
      fc
        .tuple(fc.constantFrom(", ", "\t", "    ", ","), fc.constantFrom("", "1. ", "- ", "• ", "10) "))
        .map(([sep, num]) => num + codes.join(sep)),
    ),
  fc.constantFrom(
    "Backup codes",
    "Generated: Jan 01, 2024",
    "",
    "  ",
    "Keep these safe!",
    "\u00a0",
    "1.",
    "-",
  ),
  anyText.map((t) => t.slice(0, 80)),
);

describe("fuzz: recovery-code pastes", { timeout: 180_000 }, () => {
  it(`${RUNS} pastes: no throw; every code found is in the paste`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(pasteLine, { maxLength: 20 }),
        fc.constantFrom("\n", "\r\n", "\r"),
        async (lines, eol) => {
          const text = lines.join(eol);
          const codes = await typedOnly("parseRecoveryCodes", [], () => parseRecoveryCodes(text));
          if (!codes) return;
          const flat = text.replace(/\u00a0/g, " ");
          for (const c of codes) {
            expect(flat.includes(c), `${JSON.stringify(c)} from ${JSON.stringify(text)}`).toBe(true);
            expect(c).not.toMatch(/[\r\n\t,]/);
          }
          expect(new Set(codes).size).toBe(codes.length);
        },
      ),
      params,
    );
  });
  it(`${RUNS} uses of a code: messages never repeat the code typed`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(codeArb, { maxLength: 6 }),
        fc.option(fc.oneof(codeArb, anyText), { freq: 5 }),
        fc.array(fc.boolean(), { maxLength: 6 }),
        async (codes, typed, used) => {
          const text = [
            "otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP",
            ...codes.map((c, i) => `recovery: ${c}${used[i] ? " used 2026-01-02" : ""}`),
          ].join("\n");
          const entry = parseEntry(text);
          const secrets = typed && typed.length >= 10 ? [typed] : [];
          const r = await typedOnly(
            "useRecoveryCode",
            [...secrets, ...codes.filter((c) => c.length >= 10)],
            () => useRecoveryCode(entry, typed ?? undefined, "2026-12-04"),
          );
          if (r) expect(r.entry.recovery.filter((x) => x.used === "2026-12-04").length).toBeGreaterThan(0);
        },
      ),
      params,
    );
  });
});

// ---------------------------------------------------------------- import formats

const fixtures = loadFixtures();
const MAGIC = [
  "",
  "{",
  "[",
  '{"version":1,',
  '{"db":',
  "PK\u0003\u0004",
  '<?xml version="1.0" encoding="utf-8"?><map>',
  "otpauth://totp/",
  "otpauth-migration://offline?data=",
  "\u0089PNG\r\n\u001a\n",
  "\u00ff\u00d8\u00ff",
  "SQLite format 3\u0000",
  "\u0003\u00d9\u00a2\u009a\u0067\u00fb\u004b\u00b5",
  "name,url,username,password,totp\n",
  "folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,login_password,login_totp\n",
];
const MAGIC_BYTES = MAGIC.map((m) => new Uint8Array(Buffer.from(m, "latin1")));
const randomFile = fc
  .tuple(fc.constantFrom(...MAGIC_BYTES), randomBytesArb(1500))
  .map(([m, b]) => concat(m, b));

/** Texts a QR reader might hand over: migration codes with random payloads, URIs, garbage. */
const qrTexts = fc.array(
  fc.oneof(
    randomBytesArb(600).map(
      (b) => `otpauth-migration://offline?data=${encodeURIComponent(Buffer.from(b).toString("base64"))}`,
    ),
    randomBytesArb(600).map((b) => `otpauth-migration://offline?data=${Buffer.from(b).toString("base64")}`),
    uriCase.map((c) => c.uri),
    anyText,
  ),
  { maxLength: 4 },
);

const formatIds = Object.keys(IMPORT_FORMATS);

describe("fuzz: every import format's decode", { timeout: 180_000 }, () => {
  for (const id of formatIds) {
    it(`${id}: ${RUNS} random files, then ${RUNS} mutated real exports`, async () => {
      const codec: ImportFormat = await IMPORT_FORMATS[id]();
      // Only the image format asks the QR reader; the others get no texts, which is cheaper.
      const readerTexts = id === "qr" ? qrTexts : fc.constant([] as string[]);
      // Random bytes (behind the magic numbers of the formats), with or without a password.
      await fc.assert(
        fc.asyncProperty(
          randomFile,
          fc.option(fc.constantFrom("test", ""), { freq: 8 }),
          readerTexts,
          async (bytes, pw, texts) => {
            const text = new TextDecoder().decode(bytes);
            await typedOnly(`${id}.detect`, [], () => {
              try {
                codec.detect(bytes, text, "fuzz.bin");
                codec.isEncrypted(bytes, text);
              } catch {
                // A detector may throw: import.ts treats that as "not mine". Only time counts here.
              }
            });
            const d = await typedOnly(`${id}.decode`, [], () =>
              codec.decode({
                bytes,
                fileName: "fuzz.bin",
                password: pw ?? undefined,
                readQr: async () => texts,
              }),
            );
            if (d) checkDecoded(d, [], id);
          },
        ),
        params,
      );
      // Mutated real exports: the ones this codec claims, else all of them. No password: the
      // KDFs would cost seconds per case (encrypted files are mutated with passwords in the CLI test).
      const mine = fixtures.filter((f) => {
        try {
          return codec.detect(f.bytes, new TextDecoder().decode(f.bytes), f.rel);
        } catch {
          return false;
        }
      });
      const pool = (mine.length > 0 ? mine : fixtures).filter((f) => f.bytes.length < 64 * 1024);
      await fc.assert(
        fc.asyncProperty(mutantArb(pool), readerTexts, async ({ f, seed }, texts) => {
          const { bytes } = mutantOf(f, seed);
          const d = await typedOnly(`${id}.decode(${f.rel})`, f.secrets, () =>
            codec.decode({ bytes, fileName: f.rel, readQr: async () => texts }),
          );
          if (d) checkDecoded(d, f.secrets, `${id}.decode(${f.rel})`);
        }),
        params,
      );
    });
  }

  it("saw both outcomes in every parser (the generators reach past the first check)", () => {
    const thin = Object.entries(tally).filter(
      ([k, v]) => !k.includes(".detect") && !k.includes("(") && (v.ok === 0 || v.typed === 0),
    );
    // Parsers that cannot fail (recovery pastes) or cannot succeed on random bytes are fine; log the rest.
    console.log("fuzz tally:", JSON.stringify(tally));
    expect(
      thin.map(([k]) => k).filter((k) => ["parseUri", "parseEntry", "canonicalSecret"].includes(k)),
    ).toEqual([]);
  });
});
