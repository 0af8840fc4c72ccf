// The clipboard adapter with fake tools: which tool is picked, the text travels on stdin, and the
// clearer empties the clipboard only while it still holds the code.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type ClipboardTool,
  clearScript,
  clipSeconds,
  copyToClipboard,
  findClipboardTool,
  scheduleClear,
} from "../../src/io/clipboard.js";

const tmp = mkdtempSync(join(tmpdir(), "sk-clip-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A fake clipboard program: copies stdin to a file, pastes it back with -o, logs its argv. */
function fakeTool(dir: string, names: string[]): { clip: string; log: string } {
  mkdirSync(dir, { recursive: true });
  const clip = join(dir, "clipboard");
  const log = join(dir, "argv.log");
  writeFileSync(clip, "");
  for (const n of names) {
    writeFileSync(
      join(dir, n),
      `#!/bin/sh\necho "${n} $*" >> '${log}'\ncase "$*" in *-o*|*--output*|*-n*) cat '${clip}'; exit 0;; esac\ncat > '${clip}'\n`,
    );
    chmodSync(join(dir, n), 0o755);
  }
  return { clip, log };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("findClipboardTool", () => {
  const dir = join(tmp, "all");
  fakeTool(dir, ["wl-copy", "wl-paste", "xclip", "xsel"]);
  it.each([
    [{ WAYLAND_DISPLAY: "wayland-0", DISPLAY: ":0" }, "wl-copy"],
    [{ DISPLAY: ":0" }, "xclip"],
    [{}, undefined],
  ])("%j -> %s", (env, want) => {
    expect(findClipboardTool({ PATH: dir, ...env })?.name).toBe(want);
  });
  it("xsel when xclip is missing; nothing when no tool is installed", () => {
    const only = join(tmp, "xsel-only");
    fakeTool(only, ["xsel"]);
    expect(findClipboardTool({ PATH: only, DISPLAY: ":0" })?.name).toBe("xsel");
    expect(
      findClipboardTool({ PATH: join(tmp, "none"), DISPLAY: ":0", WAYLAND_DISPLAY: "w" }),
    ).toBeUndefined();
  });
});

describe("clipSeconds", () => {
  it.each([
    [undefined, 45],
    ["10", 10],
    ["0", 0],
    ["soon", 45],
    ["-3", 45],
  ])("PASSWORD_STORE_CLIP_TIME=%s -> %i", (v, want) => {
    expect(clipSeconds({ PASSWORD_STORE_CLIP_TIME: v })).toBe(want);
  });
});

describe("copy and clear", () => {
  const dir = join(tmp, "x");
  const { clip, log } = fakeTool(dir, ["xclip"]);
  const tool: ClipboardTool = {
    name: "xclip",
    copy: [join(dir, "xclip"), "-selection", "clipboard"],
    paste: [join(dir, "xclip"), "-selection", "clipboard", "-o"],
  };
  const env = { PATH: `${dir}:/usr/bin:/bin` };

  it("the text goes over stdin, never argv; the script holds no text either", async () => {
    await copyToClipboard(tool, "123456", env);
    expect(readFileSync(clip, "utf8")).toBe("123456");
    expect(readFileSync(log, "utf8")).not.toContain("123456");
    expect(clearScript(tool, 45)).not.toContain("123456");
  });
  it("clears after the time when the clipboard still holds the code", async () => {
    await copyToClipboard(tool, "222222", env);
    scheduleClear(tool, "222222", 1, env);
    await sleep(2000);
    expect(readFileSync(clip, "utf8")).toBe("");
  });
  it("leaves the clipboard alone when something else was copied since", async () => {
    await copyToClipboard(tool, "333333", env);
    scheduleClear(tool, "333333", 1, env);
    writeFileSync(clip, "a password copied later");
    await sleep(2000);
    expect(readFileSync(clip, "utf8")).toBe("a password copied later");
  });
});
