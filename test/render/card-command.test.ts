import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { printCards } from "../../src/cli/commands/card.js";
import type { Ctx } from "../../src/cli/context.js";
import { main } from "../../src/cli/main.js";
import { parseEntry } from "../../src/core/entry.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { itWith, pageSizes, pdfText, rawAndInflated, scanQr } from "./card-pdf.js";

const SECRET = "JBSWY3DPEHPK3PXP";
const ZOE = `otpauth://totp/GitHub:Zo%C3%AB%20%C3%85str%C3%B6m-N%C3%BA%C3%B1ez?secret=${SECRET}&issuer=GitHub`;
const NOW = Date.UTC(2026, 11, 4, 19, 2, 11);

function seed(): MemoryStore {
  return new MemoryStore({
    "github/zoe": `hunter2\n${ZOE}\nrecovery: 7xk2-9fqa\nrecovery: m3pd-81zc used 2026-11-01\nrecovery: q4mz-77ab\nlogin: zoe\n`,
    "yandex/dmitry": `otpauth://totp/%D0%AF%D0%BD%D0%B4%D0%B5%D0%BA%D1%81:%D0%94%D0%BC%D0%B8%D1%82%D1%80%D0%B8%D0%B9?secret=GEZDGNBVGY3TQOJQ&issuer=%D0%AF%D0%BD%D0%B4%D0%B5%D0%BA%D1%81\nrecovery: ya11-ya22\n`,
  });
}

function fakeCtx(store: MemoryStore, cwd: string): { ctx: Ctx; err: string[] } {
  const err: string[] = [];
  const ctx: Ctx = {
    env: {},
    cwd,
    stdout: () => {},
    stderr: (l) => {
      err.push(l);
    },
    readStdin: async () => "",
    stdinIsTTY: false,
    stdoutIsTTY: false,
    now: () => NOW,
    randomBytes: (n) => new Uint8Array(n),
    openStore: async () => store,
    prompt: async () => null,
  };
  return { ctx, err };
}

describe("sparekey card (command, over a memory store)", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "sk-cardcmd-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const cli = async (store: MemoryStore, argv: string[]) => {
    const { ctx, err } = fakeCtx(store, dir);
    const code = await main(argv, () => ctx);
    return { code, err: err.join("\n") };
  };

  itWith(["pdftotext", "pdfinfo"])(
    "prints every account, leaves used codes off, records printed:",
    async () => {
      const store = seed();
      const before = store.entries.get("github/zoe")!;
      const r = await cli(store, ["card", "-o", "cards.pdf"]);
      expect(r.code).toBe(0);
      const pdf = new Uint8Array(readFileSync(join(dir, "cards.pdf")));
      expect(statSync(join(dir, "cards.pdf")).mode & 0o777).toBe(0o600);
      expect(pageSizes(pdf)).toEqual(["360 x 216", "360 x 216"]);
      const text = pdfText(pdf);
      for (const s of ["Zoë Åström-Núñez", "Яндекс", "Дмитрий", "7xk2-9fqa", "q4mz-77ab", "ya11-ya22"])
        expect(text).toContain(s);
      expect(text).not.toContain("m3pd-81zc");
      for (const s of [SECRET, "JBSW Y3DP", "hunter2"]) {
        expect(text).not.toContain(s);
        expect(rawAndInflated(pdf)).not.toContain(s);
      }
      // printed: is added; every other line stays where it was.
      const after = store.entries.get("github/zoe")!;
      // printed: also records a fingerprint of the codes, so the audit can tell when they change (card-stale).
      const printed = parseEntry(after).meta.printed!;
      expect(printed).toMatch(/^2026-12-04 #[0-9a-f]{8}$/);
      expect(after).toBe(`${before.replace("login: zoe\n", `printed: ${printed}\nlogin: zoe\n`)}`);
      expect(parseEntry(store.entries.get("yandex/dmitry")!).meta.printed).toMatch(/^2026-12-04 #/);
      expect(store.commits).toEqual(["Print recovery cards for 2 accounts."]);
      expect(readdirSync(dir)).toEqual(["cards.pdf"]);
    },
  );

  itWith(["pdftoppm", "zbarimg", "pdfinfo"])(
    "--with-secret adds the scannable key; --paper picks the sheet",
    async () => {
      const store = seed();
      const r = await cli(store, ["card", "zoe", "-o", "z.pdf", "--with-secret", "--paper", "a4"]);
      expect(r.code).toBe(0);
      expect(r.err).toMatch(/holds the 2FA keys/);
      const pdf = new Uint8Array(readFileSync(join(dir, "z.pdf")));
      expect(pageSizes(pdf)).toEqual(["595.28 x 841.89"]);
      expect(scanQr(pdf)).toEqual([ZOE]);
      expect(store.commits).toEqual(["Print recovery cards for 1 account."]);
    },
  );

  it("a QUERY that matches nothing exits 1 and writes nothing", async () => {
    const store = seed();
    const before = new Map(store.entries);
    const r = await cli(store, ["card", "github", "nosuch", "-o", "x.pdf"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no entry matches "nosuch"/);
    expect(existsSync(join(dir, "x.pdf"))).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
    expect(store.entries).toEqual(before);
    expect(store.commits).toEqual([]);
  });

  it("refuses a missing -o and an unknown paper (usage, exit 2)", async () => {
    expect((await cli(seed(), ["card"])).code).toBe(2);
    expect((await cli(seed(), ["card", "-o", "x.pdf", "--paper", "legal"])).code).toBe(2);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("writes nothing and changes nothing when an entry is corrupt", async () => {
    const store = seed();
    store.entries.set("broken/one", "otpauth://totp/x?secret=@@@\n");
    const r = await cli(store, ["card", "-o", "x.pdf"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/broken\/one/);
    expect(readdirSync(dir)).toEqual([]);
    expect(store.commits).toEqual([]);
  });

  it("fails cleanly when the file cannot be written, leaving the store unchanged", async () => {
    const store = seed();
    const r = await cli(store, ["card", "-o", "no/such/dir/x.pdf"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot write/);
    expect(store.commits).toEqual([]);
    expect(parseEntry(store.entries.get("github/zoe")!).meta.printed).toBeUndefined();
  });

  it("printCards serves the guided add: exact names, an open store, a date", async () => {
    const store = seed();
    const { ctx } = fakeCtx(store, dir);
    const r = await printCards(ctx, ["github/zoe"], { output: "one.pdf", store, at: Date.UTC(2027, 0, 2) });
    expect(r).toMatchObject({ accounts: 1, pages: 1, date: "2027-01-02", file: join(dir, "one.pdf") });
    expect(parseEntry(store.entries.get("github/zoe")!).meta.printed).toMatch(/^2027-01-02 #/);
    expect(parseEntry(store.entries.get("yandex/dmitry")!).meta.printed).toBeUndefined();
  });
});
