// The import and export commands over an in-memory store, with a scripted terminal.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as exportCmd from "../../src/cli/commands/export.js";
import * as importCmd from "../../src/cli/commands/import.js";
import type { Args, Ctx } from "../../src/cli/context.js";
import { parseCommandArgs } from "../../src/cli/main.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { EXPORTS, testRandom } from "../formats/roundtrip-arb.js";

function fakeCtx(store: MemoryStore, answers: string[], tty: boolean) {
  const err: string[] = [];
  const asked: string[] = [];
  let out = "";
  const ctx: Ctx = {
    env: {},
    cwd: EXPORTS,
    stdout: (t) => {
      out += t;
    },
    stderr: (l) => {
      err.push(l);
    },
    readStdin: async () => "",
    stdinIsTTY: tty,
    stdoutIsTTY: false,
    now: () => 1_700_000_000_000,
    randomBytes: testRandom(4),
    openStore: async () => store,
    prompt: async (q) => {
      asked.push(q);
      return answers.shift() ?? null;
    },
  };
  return { ctx, err, asked, out: () => out };
}

const args = (mod: typeof importCmd | typeof exportCmd, argv: string[]): Args =>
  parseCommandArgs(mod as unknown as Parameters<typeof parseCommandArgs>[0], argv);

describe("import command", () => {
  it("on a terminal: asks the password again after a wrong one, then confirms, then writes one commit", async () => {
    const store = new MemoryStore();
    const t = fakeCtx(store, ["nope", "test", "y"], true);
    const code = await importCmd.run(t.ctx, args(importCmd, ["aegis_encrypted.json"]));
    expect(code).toBe(0);
    expect(t.asked).toEqual([
      "Password for aegis_encrypted.json: ",
      "Password for aegis_encrypted.json: ",
      "Import 7 accounts? [Y/n] ",
    ]);
    expect(t.err).toContain("Wrong password; try again.");
    expect(store.entries.size).toBe(7);
    expect(store.commits).toEqual(["Import 7 2FA keys from aegis_encrypted.json."]);
  });

  it("on a terminal: 'n' cancels and writes nothing", async () => {
    const store = new MemoryStore();
    const t = fakeCtx(store, ["n"], true);
    expect(await importCmd.run(t.ctx, args(importCmd, ["plain.txt"]))).toBe(1);
    expect(store.entries.size).toBe(0);
    expect(store.commits).toEqual([]);
  });

  it("without a terminal: no question, and a second import of the same keys writes nothing", async () => {
    const store = new MemoryStore();
    const t = fakeCtx(store, [], false);
    expect(await importCmd.run(t.ctx, args(importCmd, ["plain.txt"]))).toBe(0);
    expect(t.asked).toEqual([]);
    expect(await importCmd.run(t.ctx, args(importCmd, ["aegis_plain.json"]))).toBe(0);
    expect(store.commits).toHaveLength(1);
    expect(t.err.at(-1)).toBe("Nothing to import (7 skipped).");
  });

  it("entries carry the key line pass-otp reads", async () => {
    const store = new MemoryStore();
    const t = fakeCtx(store, [], false);
    await importCmd.run(t.ctx, args(importCmd, ["plain.txt"]));
    expect(store.entries.get("deno/mason")).toBe(
      "otpauth://totp/Deno:Mason?secret=4SJHB4GSD43FZBAI7C2HLRJGPQ&issuer=Deno\n",
    );
  });
});

describe("export command", () => {
  it("asks for the password twice on a terminal and refuses different ones", async () => {
    const store = new MemoryStore();
    await importCmd.run(fakeCtx(store, [], false).ctx, args(importCmd, ["plain.txt"]));
    const t = fakeCtx(store, ["a", "b"], true);
    await expect(
      exportCmd.run(t.ctx, args(exportCmd, ["--format", "aegis", "-o", join("/nonexistent", "x.json")])),
    ).rejects.toThrow(/passwords differ/);
  });

  it("writes URIs to stdout", async () => {
    const store = new MemoryStore();
    await importCmd.run(fakeCtx(store, [], false).ctx, args(importCmd, ["plain.txt"]));
    const t = fakeCtx(store, [], false);
    expect(await exportCmd.run(t.ctx, args(exportCmd, ["--format", "uris", "deno"]))).toBe(0);
    expect(t.out()).toBe("otpauth://totp/Deno:Mason?secret=4SJHB4GSD43FZBAI7C2HLRJGPQ&issuer=Deno\n");
  });
});
