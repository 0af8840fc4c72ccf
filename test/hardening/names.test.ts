// Names (issue 8): every place that takes a name — add, mv, names derived on import, init --path,
// the 2FA folder, and the queries of code/show/card/export — refuses path traversal, absolute
// paths, NUL and control characters, and names that would collide on a case-insensitive file
// system. Nothing is ever written outside the store.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isTypedError } from "../../src/core/errors.js";
import { deriveName, findCaseCollision, validateName } from "../../src/core/names.js";
import type { Run } from "../e2e/harness.js";
import { ageStore, ensureBuilt, filesUnder, type StoreHome } from "./stores.js";

const KEY = (n: number) =>
  `otpauth://totp/N:n${n}?secret=${"JBSWY3DPEHPK3PX".slice(0, 14)}${"ABCDEFGHIJKLMNOPQRSTUVWXYZ"[n % 26]}Q\n`;

/** Names that must never become paths. */
const BAD = [
  "../escape",
  "a/../../escape",
  "..",
  "a/..",
  "/etc/escape",
  "/",
  "a//b",
  "a/./b",
  "./a",
  "a/",
  ".git/hooks/x",
  "a/.gpg-id",
  ".age-recipients",
  "x\u0001y",
  "x\ny",
  "tab\there",
  "del\u007f",
  "esc\u001b[31m",
  "C:\\escape",
  "c:/escape",
  "a\\..\\b",
];

beforeAll(() => ensureBuilt(), 300_000);

describe("validateName and deriveName (every name passes through them)", () => {
  it("refuses each bad name with a typed error", () => {
    for (const n of [...BAD, "nul\u0000byte", ""])
      expect(() => validateName(n), JSON.stringify(n)).toThrow(/invalid name/);
  });
  it("a derived name is always valid and never climbs out, whatever the issuer and account (fuzz)", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 40 }),
        fc.string({ unit: "binary", maxLength: 40 }),
        (i, a) => {
          const n = deriveName(i, a);
          expect(validateName(n)).toBe(n);
          expect(n.split("/").length).toBeLessThanOrEqual(2);
        },
      ),
      { numRuns: 10_000 },
    );
  });
  it("a valid name never holds a segment that escapes (fuzz)", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(..."ab./\\\u0000\n:C"), maxLength: 12 }), (n) => {
        try {
          validateName(n);
        } catch (e) {
          expect(isTypedError(e)).toBe(true);
          return;
        }
        for (const seg of n.split("/")) {
          expect(seg).not.toBe("..");
          expect(seg.startsWith(".")).toBe(false);
          expect(seg).not.toBe("");
        }
        expect(/^\/|\\|\n/.test(n) || n.includes("\u0000")).toBe(false);
      }),
      { numRuns: 10_000 },
    );
  });
  it("case collisions are found on the whole name and on folders; free names follow existing folders", async () => {
    const { freeName } = await import("../../src/core/names.js");
    expect(freeName("Work/GitHub/x", ["work/github/y"])).toBe("work/github/x");
    expect(freeName("GitHub/alice", ["github/alice"])).toBe("github/alice-2");
    expect(findCaseCollision("GitHub/Alice", ["github/alice"])).toBe("github/alice");
    expect(findCaseCollision("GitHub/bob", ["github/alice"])).toBeDefined();
    expect(findCaseCollision("github/bob", ["github/alice"])).toBeUndefined();
    expect(findCaseCollision("github", ["GitHub/alice"])).toBeUndefined();
  });
});

describe("names through the CLI", () => {
  let s: StoreHome;
  let n = 0;
  /** Every file of the temp folder outside the store (the inputs this test writes aside). */
  const outside = () =>
    filesUnder(s.home.dir).filter((f) => !/^(home\/\.passage\/store\/|gnupg\/|hostile|out\/)/.test(f));
  const before: string[] = [];
  beforeAll(async () => {
    s = await ageStore();
    expect((await s.run(["add", "github/alice"], { input: KEY(n++) })).code).toBe(0);
    before.push(...outside());
  }, 60_000);
  afterAll(() => s.home.cleanup());

  /** Exit 1 or 2 with one line (two for usage errors), nothing new in the store or beside it. */
  async function refused(
    args: string[],
    input = "",
    why = /invalid name|not allowed|absolute|control|segment|backslash|differs only in case|no entry matches/,
  ) {
    const files = filesUnder(s.root);
    const r: Run = await s.run(args, { input });
    expect([1, 2], `${args.join(" ")}: ${r.stderr}`).toContain(r.code);
    expect(r.stderr.trimEnd().split("\n").length).toBeLessThanOrEqual(2);
    expect(r.stderr).toMatch(/^sparekey: /);
    expect(r.stderr, args.join(" ")).toMatch(why);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(filesUnder(s.root)).toEqual(files);
    expect(outside()).toEqual(before);
  }

  it("add NAME refuses every bad name", async () => {
    for (const bad of BAD) await refused(["add", bad], KEY(n++));
  });

  it("add refuses a name that differs only in case, for the entry and for its folder", async () => {
    await refused(["add", "GitHub/Alice"], KEY(n++));
    await refused(["add", "GITHUB/bob"], KEY(n++));
  });

  it("mv refuses bad new names and case collisions", async () => {
    expect((await s.run(["add", "gitlab/bob"], { input: KEY(n++) })).code).toBe(0);
    for (const bad of BAD.filter((b) => !b.endsWith("/"))) await refused(["mv", "gitlab/bob", bad]);
    await refused(["mv", "gitlab/bob", "GitHub/alice"]);
    await refused(["mv", "gitlab/bob", "GITHUB/carol"]);
    // A case-only rename of the entry itself is allowed.
    const r = await s.run(["mv", "gitlab/bob", "gitlab/Bob"]);
    expect(r.code, r.stderr).toBe(0);
  });

  it("names derived on import stay inside the store, valid, and free of case collisions", async () => {
    const hostile = [
      "otpauth://totp/..%2F..%2F..%2Fescape:x?secret=JBSWY3DPEHPK3PXA&issuer=..%2F..%2Fescape",
      "otpauth://totp/%2Fetc%2Fpasswd:root?secret=JBSWY3DPEHPK3PXB",
      "otpauth://totp/a%00b:c%0Ad?secret=JBSWY3DPEHPK3PXC&issuer=a%00b",
      "otpauth://totp/.git:hooks?secret=JBSWY3DPEHPK3PXD&issuer=.git",
      "otpauth://totp/GitHub:Alice?secret=JBSWY3DPEHPK3PXE&issuer=GitHub",
      "otpauth://totp/GITHUB:ALICE?secret=JBSWY3DPEHPK3PXF&issuer=GITHUB",
      "otpauth://totp/C%3A%5Cx:y?secret=JBSWY3DPEHPK3PXG&issuer=C%3A%5Cx",
      "otpauth://totp/%1B%5B31m:esc?secret=JBSWY3DPEHPK3PXH&issuer=%1B%5B31m",
    ];
    const file = join(s.home.dir, "hostile.txt");
    writeFileSync(file, hostile.join("\n"));
    // A JSON export whose own names are hostile too (2FAS groups, Aegis names go through the same path).
    const aegis = join(s.home.dir, "hostile-aegis.json");
    writeFileSync(
      aegis,
      JSON.stringify({
        version: 1,
        header: { slots: null, params: null },
        db: {
          version: 2,
          entries: [
            {
              type: "totp",
              uuid: "1",
              name: "../../escape2",
              issuer: "/abs",
              info: { secret: "JBSWY3DPEHPK3PXI", algo: "SHA1", digits: 6, period: 30 },
            },
            {
              type: "totp",
              uuid: "2",
              name: "x\u0000y",
              issuer: "a\u0007b",
              info: { secret: "JBSWY3DPEHPK3PXJ", algo: "SHA1", digits: 6, period: 30 },
            },
          ],
        },
      }),
    );
    const r = await s.run(["import", file, aegis, "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(outside()).toEqual(before);
    const names = filesUnder(s.root)
      .filter((f) => f.endsWith(".age"))
      .map((f) => f.slice(0, -4));
    for (const name of names) {
      expect(name.startsWith("2fa/"), name).toBe(true);
      expect(() => validateName(name)).not.toThrow();
    }
    const lower = names.map((x) => x.toLowerCase());
    expect(new Set(lower).size).toBe(lower.length);
    // Folders must not differ only in case either.
    const folders = new Map<string, string>();
    for (const name of names) {
      const parts = name.split("/");
      for (let i = 1; i < parts.length; i++) {
        const f = parts.slice(0, i).join("/");
        const seen = folders.get(f.toLowerCase());
        expect(seen === undefined || seen === f, `${f} vs ${seen}`).toBe(true);
        folders.set(f.toLowerCase(), f);
      }
    }
    // github/alice and gitlab/Bob, then every hostile key: none is lost to a name it cannot have.
    expect(names.length, names.join("\n")).toBe(2 + hostile.length + 2);
  });

  it("init --path refuses every bad folder", async () => {
    const recipient = (await import("node:fs"))
      .readFileSync(join(s.root, ".age-recipients"), "utf8")
      .split("\n")
      .find((l) => l.startsWith("age1"))!;
    for (const bad of ["../team", "/team", "a/../../team", ".git", "te\u0001am", "C:\\team"])
      await refused(
        ["init", "--age", recipient, "--path", bad],
        "",
        /invalid name|not allowed|absolute|control|segment|backslash/,
      );
  });

  it("SPAREKEY_PREFIX cannot point outside the store", async () => {
    // (A leading "/" is read as the store's root, "/2fa" as "2fa": that stays inside the store.)
    for (const bad of ["../x", "a/../../x", "x/..", "a\u0001b"]) {
      const r = await s.run(["list"], { env: { SPAREKEY_PREFIX: bad } });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^sparekey: SPAREKEY_PREFIX: invalid name/);
    }
  });

  it("queries (code, show, verify, recovery, card, export, rm) are names to match, never paths", async () => {
    mkdirSync(join(s.home.dir, "out"), { recursive: true });
    for (const q of ["../../etc/passwd", "/etc/passwd", "..", "x\u0001y"]) {
      for (const args of [
        ["code", q],
        ["show", q],
        ["verify", q, "123456"],
        ["recovery", "list", q],
        ["rm", "-f", q],
        ["card", q, "-o", join(s.home.dir, "out/c.pdf")],
        ["export", "--format", "uris", "-o", join(s.home.dir, "out/e.txt"), q],
      ])
        await refused(args, "", /no entry matches|invalid name/);
    }
    expect(filesUnder(join(s.home.dir, "out"))).toEqual([]);
  });

  it("an entry file whose name holds a control character is not listed", async () => {
    mkdirSync(join(s.root, "2fa/odd"), { recursive: true });
    writeFileSync(join(s.root, "2fa/odd/x\u0001y.age"), "junk");
    const r = await s.run(["list"]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("\u0001");
  });
});
