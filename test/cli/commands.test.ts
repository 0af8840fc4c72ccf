import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Ctx } from "../../src/cli/context.js";
import { main } from "../../src/cli/main.js";
import { codeAtCounter, generateCode } from "../../src/core/otp.js";
import { parseUri } from "../../src/core/uri.js";
import { MemoryStore } from "../../src/stores/memory.js";

const URI = "otpauth://totp/GitHub:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=GitHub";
const NOW = 1_111_111_111_000;
const tmp = mkdtempSync(join(tmpdir(), "sk-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI over a MemoryStore with a scripted stdin, TTY flags and prompt answers. */
async function run(
  store: MemoryStore,
  argv: string[],
  opts: {
    stdin?: string;
    tty?: boolean;
    outTty?: boolean;
    answers?: string[];
    env?: Record<string, string>;
  } = {},
): Promise<Out> {
  const out: Out = { code: 0, stdout: "", stderr: "" };
  const answers = [...(opts.answers ?? [])];
  const ctx: Ctx = {
    env: { PATH: process.env.PATH, ...opts.env },
    cwd: tmp,
    stdout: (t) => {
      out.stdout += t;
    },
    stderr: (l) => {
      out.stderr += `${l}\n`;
    },
    readStdin: async () => opts.stdin ?? "",
    stdinIsTTY: opts.tty ?? false,
    stdoutIsTTY: opts.outTty ?? opts.tty ?? false,
    now: () => NOW,
    randomBytes: (n) => new Uint8Array(n),
    openStore: async () => store,
    prompt: async (q) => {
      out.stderr += q;
      return answers.shift() ?? null;
    },
  };
  out.code = await main(argv, () => ctx);
  return out;
}

const totpCode = (uri: string, ms = NOW): string => generateCode(parseUri(uri), ms);

describe("add", () => {
  it("reads a URI from stdin, derives the name, commits, and says where", async () => {
    const s = new MemoryStore();
    const r = await run(s, ["add"], { stdin: `\n  ${URI}  \n` });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect([...s.entries.keys()]).toEqual(["github/alice@example.com"]);
    expect(s.entries.get("github/alice@example.com")).toBe(`${URI}\n`);
    expect(s.commits).toEqual(["Add 2FA key for github/alice@example.com."]);
    expect(r.stderr).toMatch(/Saved the key for GitHub \(alice@example.com\) as github\/alice@example.com/);
  });
  it("reads a bare secret with flags", async () => {
    const s = new MemoryStore();
    const r = await run(
      s,
      [
        "add",
        "bank/me",
        "--issuer",
        "Bank",
        "--account",
        "me",
        "--algorithm",
        "sha256",
        "--digits",
        "8",
        "--period",
        "60",
      ],
      { stdin: "jbsw y3dp ehpk 3pxp\n" },
    );
    expect(r.code).toBe(0);
    expect(s.entries.get("bank/me")).toBe(
      "otpauth://totp/Bank:me?secret=JBSWY3DPEHPK3PXP&issuer=Bank&algorithm=SHA256&digits=8&period=60\n",
    );
  });
  it("--secret-stdin with --hotp --counter, and --steam", async () => {
    const s = new MemoryStore();
    expect(
      (
        await run(s, ["add", "h", "--secret-stdin", "--hotp", "--counter", "5"], {
          stdin: "JBSWY3DPEHPK3PXP",
        })
      ).code,
    ).toBe(0);
    expect(s.entries.get("h")).toBe("otpauth://hotp/h?secret=JBSWY3DPEHPK3PXP&counter=5\n");
    expect(
      (await run(s, ["add", "st", "--steam", "--issuer", "Steam"], { stdin: "JBSWY3DPEHPK3PXP" })).code,
    ).toBe(0);
    expect(s.entries.get("st")).toBe("otpauth://steam/Steam:?secret=JBSWY3DPEHPK3PXP&issuer=Steam\n");
  });
  it("flags override what the URI says", async () => {
    const s = new MemoryStore();
    await run(s, ["add", "x", "--issuer", "Other"], { stdin: URI });
    expect(parseUri(s.entries.get("x")!).issuer).toBe("Other");
  });
  it("--uri works but warns that the key is now in shell history", async () => {
    const s = new MemoryStore();
    const r = await run(s, ["add", "--uri", URI]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: .*shell history/);
  });
  it("a bare secret with no NAME and no label is a usage error", async () => {
    const r = await run(new MemoryStore(), ["add"], { stdin: "JBSWY3DPEHPK3PXP" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/give a NAME/);
  });
  it("a bare secret with a NAME gets the name as its label, so pass otp can read it", async () => {
    const s = new MemoryStore();
    await run(s, ["add", "work/vpn"], { stdin: "JBSWY3DPEHPK3PXP" });
    expect(s.entries.get("work/vpn")).toBe("otpauth://totp/work%2Fvpn?secret=JBSWY3DPEHPK3PXP\n");
  });
  it.each([
    ["bad secret", ["add", "x"], "JBSW!!!", 1, /invalid base32 secret: bad character at position 5/],
    ["bad URI", ["add", "x"], "otpauth://totp/x?issuer=A", 1, /invalid otpauth URI: it has no secret/],
    ["other scheme", ["add", "x"], "https://example.com/", 1, /must start with otpauth/],
    ["migration", ["add", "x"], "otpauth-migration://offline?data=abc", 1, /sparekey import/],
    ["empty stdin", ["add", "x"], "\n\n", 2, /nothing on stdin/],
    ["two sources", ["add", "x", "--uri", URI, "--secret-stdin"], "", 2, /only one of/],
    [
      "--counter without --hotp",
      ["add", "x", "--counter", "3"],
      "JBSWY3DPEHPK3PXP",
      2,
      /--counter needs --hotp/,
    ],
    ["bad digits", ["add", "x", "--digits", "0"], "JBSWY3DPEHPK3PXP", 2, /--digits/],
    ["bad algorithm", ["add", "x", "--algorithm", "md5"], "JBSWY3DPEHPK3PXP", 2, /--algorithm/],
    ["--hotp --steam", ["add", "x", "--hotp", "--steam"], "JBSWY3DPEHPK3PXP", 2, /cannot go together/],
    ["name with ..", ["add", "../x"], URI, 1, /"\.\." is not allowed/],
    ["absolute name", ["add", "/x"], URI, 1, /absolute/],
    ["uri to --secret-stdin", ["add", "x", "--secret-stdin"], URI, 1, /bare base32/],
    ["unknown flag", ["add", "--bogus"], URI, 2, /Unknown option '--bogus'/],
  ])("%s: exit %i, one line, store unchanged", async (_what, argv, stdin, status, msg) => {
    const s = new MemoryStore({ keep: `${URI}\n` });
    const r = await run(s, argv as string[], { stdin: stdin as string });
    expect(r.code).toBe(status);
    expect(r.stderr).toMatch(msg as RegExp);
    expect(r.stderr).not.toMatch(/JBSW|at .*\.ts/);
    expect([...s.entries.keys()]).toEqual(["keep"]);
    expect(s.commits).toEqual([]);
  });
  it("never overwrites without --force, and refuses case-only differences", async () => {
    const s = new MemoryStore({ "github/alice": `pw\n${URI}\nrecovery: a-1\n` });
    const other = "otpauth://totp/GitHub:alice?secret=GEZDGNBVGY3TQOJQ&issuer=GitHub";
    let r = await run(s, ["add", "github/alice"], { stdin: other });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already exists.*--force/);
    expect(s.entries.get("github/alice")).toBe(`pw\n${URI}\nrecovery: a-1\n`);
    r = await run(s, ["add", "GitHub/Alice", "--force"], { stdin: other });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/differs only in case from github\/alice/);
    // --force replaces the key and keeps the password line and the recovery codes.
    r = await run(s, ["add", "github/alice", "--force"], { stdin: other });
    expect(r.code).toBe(0);
    expect(s.entries.get("github/alice")).toBe(`pw\n${other}\nrecovery: a-1\n`);
    expect(s.commits).toEqual(["Replace 2FA key for github/alice."]);
  });
  it("--force onto an entry with no key appends the key, keeping line 1", async () => {
    const s = new MemoryStore({ site: "hunter2\nlogin: me\n" });
    expect((await run(s, ["add", "site", "--force"], { stdin: URI })).code).toBe(0);
    expect(s.entries.get("site")).toBe(`hunter2\nlogin: me\n${URI}\n`);
  });
  it("on a terminal without a source, asks for the key without echo", async () => {
    const s = new MemoryStore();
    const r = await run(s, ["add", "x"], { tty: true, outTty: false, answers: [URI] });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/otpauth:\/\/ URI or base32 secret: /);
  });
  it("--qr reads a PNG through the image decoder", async () => {
    const { renderQrPng } = await import("../../src/render/qr.js");
    const file = join(tmp, "key.png");
    writeFileSync(file, await renderQrPng(URI));
    const s = new MemoryStore();
    const r = await run(s, ["add", "--qr", file]);
    expect(r.code).toBe(0);
    expect(s.entries.get("github/alice@example.com")).toBe(`${URI}\n`);
    expect((await run(s, ["add", "--qr", join(tmp, "missing.png")])).stderr).toMatch(/cannot read .*ENOENT/);
  });
});

describe("code", () => {
  it("prints the code and a newline, nothing else", async () => {
    const s = new MemoryStore({ "github/alice": `${URI}\n` });
    const r = await run(s, ["code", "alice", "--at", "1111111111"]);
    expect(r).toEqual({ code: 0, stdout: `${totpCode(URI)}\n`, stderr: "" });
    expect((await run(s, ["code", "github/alice", "--at", "2009-02-13T23:31:30Z"])).stdout).toBe(
      `${totpCode(URI, 1_234_567_890_000)}\n`,
    );
  });
  it("HOTP: increments the stored counter, then shows the code for the new value (as pass otp does)", async () => {
    const hotp = "otpauth://hotp/Bank:me?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Bank&counter=0";
    const s = new MemoryStore({ bank: `pw\n${hotp}\nnote\n` });
    const a = parseUri(hotp);
    for (let i = 1; i <= 3; i++) {
      const r = await run(s, ["code", "bank"]);
      expect(r.stdout).toBe(`${codeAtCounter(a, i)}\n`);
      expect(s.entries.get("bank")).toBe(`pw\n${hotp.replace("counter=0", `counter=${i}`)}\nnote\n`);
    }
    expect(s.commits).toEqual(Array(3).fill("Increment HOTP counter for bank."));
  });
  it("HOTP: a torn counter is read as the last number and repaired", async () => {
    const hotp =
      "otpauth://hotp/Bank:me?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Bank&counter=6counter=7";
    const s = new MemoryStore({ bank: `${hotp}\n` });
    const r = await run(s, ["code", "bank"]);
    expect(r.stdout).toBe(`${codeAtCounter(parseUri(hotp), 8)}\n`);
    expect(s.entries.get("bank")).toBe(`${hotp.replace("counter=6counter=7", "counter=8")}\n`);
  });
  it.each([
    [["code", "nope"], 1, /no entry matches "nope"/],
    [["code", "git"], 1, /matches 2 entries/],
    [["code"], 2, /give exactly one QUERY/],
    [["code", "a", "b"], 2, /give exactly one QUERY/],
    [["code", "broken"], 1, /^sparekey: broken: corrupt entry: invalid base32 secret[^\n]*\n$/],
    [["code", "nokey"], 1, /nokey: corrupt entry: it has no otpauth:\/\/ line/],
    [["code", "github/alice", "--at", "soon"], 2, /invalid time/],
    [["code", "-x"], 2, /Unknown option '-x'/],
  ])("%j exits %i", async (argv, status, msg) => {
    const s = new MemoryStore({
      "github/alice": `${URI}\n`,
      "gitlab/alice": `${URI}\n`,
      broken: "otpauth://totp/x?secret=JBSW!!!\n",
      nokey: "just a password\n",
    });
    const r = await run(s, argv);
    expect(r.code).toBe(status);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(msg);
  });
  it("--clip copies through the clipboard tool's stdin and schedules the clearing", async () => {
    // A fake xclip that keeps the clipboard in a file and logs its argv.
    const bin = join(tmp, "bin");
    const clip = join(tmp, "clipboard");
    const log = join(tmp, "argv.log");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, "xclip"),
      `#!/bin/sh\necho "$@" >> '${log}'\nfor a in "$@"; do [ "$a" = -o ] && { cat '${clip}'; exit 0; }; done\ncat > '${clip}'\n`,
    );
    chmodSync(join(bin, "xclip"), 0o755);
    const s = new MemoryStore({ "github/alice": `${URI}\n` });
    const env = { PATH: `${bin}:/usr/bin:/bin`, DISPLAY: ":0", PASSWORD_STORE_CLIP_TIME: "1" };
    const r = await run(s, ["code", "alice", "-c"], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("Copied github/alice's code to the clipboard; it clears in 1 s.\n");
    const code = totpCode(URI, Date.now());
    const copied = readFileSync(clip, "utf8");
    expect(copied).toMatch(/^\d{6}$/);
    expect(readFileSync(log, "utf8")).not.toContain(copied);
    // After the clip time the clearer empties it (it still held the code).
    await new Promise((res) => setTimeout(res, 2500));
    expect(readFileSync(clip, "utf8")).toBe("");
    expect(code).toMatch(/^\d{6}$/);
  });
  it("--clip with no clipboard tool is a one-line error", async () => {
    const s = new MemoryStore({ a: `${URI}\n` });
    const r = await run(s, ["code", "a", "-c"], { env: { PATH: "/nonexistent" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no clipboard tool found/);
  });
});

describe("list", () => {
  const store = () =>
    new MemoryStore({
      "github/alice": `${URI}\nrecovery: a\nrecovery: b used 2026-01-01\nverified: 2026-12-04T19:02:11Z\nprinted: 2026-12-04\n`,
      "bank/me": "otpauth://hotp/Bank:me?secret=JBSWY3DPEHPK3PXP&issuer=Bank&counter=4\n",
      broken: "otpauth://totp/x?secret=JBSW!!!\n",
    });
  it("piped: names alone, no header, no decryption", async () => {
    const s = store();
    let reads = 0;
    const read = s.read.bind(s);
    s.read = async (n) => {
      reads++;
      return read(n);
    };
    const r = await run(s, ["list"]);
    expect(r).toEqual({ code: 0, stdout: "bank/me\nbroken\ngithub/alice\n", stderr: "" });
    expect(reads).toBe(0);
    expect((await run(s, ["ls", "GIT"])).stdout).toBe("github/alice\n");
  });
  it("terminal: status columns; a broken entry says unreadable and does not stop the list", async () => {
    const r = await run(store(), ["list"], { tty: true });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+KIND\s+VERIFIED\s+RECOVERY\s+PRINTED$/);
    expect(lines[1]).toMatch(/^bank\/me\s+hotp\s+no\s+none\s+no$/);
    expect(lines[2]).toMatch(/^broken\s+unreadable/);
    expect(lines[3]).toMatch(/^github\/alice\s+totp\s+yes\s+1 left\s+2026-12-04$/);
    expect(r.stderr).toMatch(/broken: corrupt entry/);
  });
  it("--json: fields, never the secret; broken entries as {name, error}", async () => {
    const r = await run(store(), ["list", "--json"]);
    expect(r.stdout).not.toContain("JBSW");
    expect(JSON.parse(r.stdout)).toEqual([
      {
        name: "bank/me",
        issuer: "Bank",
        account: "me",
        kind: "hotp",
        algorithm: "SHA1",
        digits: 6,
        period: 30,
        counter: 4,
        verified: null,
        printed: null,
        recovery: { unused: 0, used: 0 },
      },
      { name: "broken", error: "corrupt entry: invalid base32 secret: bad character at position 5" },
      {
        name: "github/alice",
        issuer: "GitHub",
        account: "alice@example.com",
        kind: "totp",
        algorithm: "SHA1",
        digits: 6,
        period: 30,
        verified: "2026-12-04T19:02:11Z",
        printed: "2026-12-04",
        recovery: { unused: 1, used: 1 },
      },
    ]);
  });
  it("an empty store says how to start, on stderr", async () => {
    const r = await run(new MemoryStore(), ["list"]);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/sparekey add/);
  });
});

describe("show", () => {
  const s = new MemoryStore({ "github/alice": `pw\n${URI}\nrecovery: a\nverified: 2026-12-04T19:02:11Z\n` });
  it("default: a summary with no secret", async () => {
    const r = await run(s, ["show", "alice"]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/JBSW|pw/);
    expect(r.stdout).toMatch(/^issuer: {3}GitHub$/m);
    expect(r.stdout).toMatch(/^kind: {5}totp \(SHA1, 6 digits, every 30 s\)$/m);
    expect(r.stdout).toMatch(/^recovery: 1 of 1 codes left$/m);
    expect(r.stdout).toMatch(/^verified: 2026-12-04T19:02:11Z$/m);
    expect(r.stdout).toMatch(/^printed: {2}no$/m);
  });
  it("--uri, --secret, --json", async () => {
    expect((await run(s, ["show", "alice", "--uri"])).stdout).toBe(`${URI}\n`);
    expect((await run(s, ["show", "alice", "--secret"])).stdout).toBe("JBSWY3DPEHPK3PXP\n");
    const j = JSON.parse((await run(s, ["show", "alice", "--json"])).stdout);
    expect(j).toMatchObject({ name: "github/alice", issuer: "GitHub", recovery: { unused: 1, used: 0 } });
    expect(j.secret).toBeUndefined();
    expect(JSON.parse((await run(s, ["show", "alice", "--json", "--secret"])).stdout).secret).toBe(
      "JBSWY3DPEHPK3PXP",
    );
    expect((await run(s, ["show", "alice", "--uri", "--secret"])).code).toBe(2);
  });
  it("--qr: terminal QR on stdout; PNG and SVG files at mode 0600", async () => {
    const r = await run(s, ["show", "alice", "--qr"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/[▀▄█]/);
    const png = join(tmp, "q.png");
    const svg = join(tmp, "q.svg");
    expect((await run(s, ["show", "alice", "--qr", png])).code).toBe(0);
    expect((await run(s, ["show", "alice", "--qr", svg])).code).toBe(0);
    expect(readFileSync(png).subarray(1, 4).toString()).toBe("PNG");
    expect(readFileSync(svg, "utf8")).toMatch(/^<svg/);
    expect(statSync(png).mode & 0o777).toBe(0o600);
    expect(statSync(svg).mode & 0o777).toBe(0o600);
    expect((await run(s, ["show", "alice", "--qr", join(tmp, "q.gif")])).code).toBe(2);
  });
});

describe("mv and rm", () => {
  it("mv renames and commits; refuses to replace or to collide by case", async () => {
    const s = new MemoryStore({ "github/alice": `${URI}\n`, "github/bob": `${URI}\n` });
    expect((await run(s, ["mv", "alice", "gh/alice"])).code).toBe(0);
    expect([...s.entries.keys()].sort()).toEqual(["gh/alice", "github/bob"]);
    expect(s.commits).toEqual(["Rename 2FA key github/alice to gh/alice."]);
    expect((await run(s, ["mv", "gh/alice", "github/bob"])).stderr).toMatch(/already exists/);
    expect((await run(s, ["mv", "gh/alice", "GitHub/Bob"])).stderr).toMatch(/differs only in case/);
    expect((await run(s, ["mv", "gh/alice", "old/"])).code).toBe(0);
    expect(s.entries.has("old/alice")).toBe(true);
    expect((await run(s, ["mv", "old/alice", "../x"])).code).toBe(1);
    expect((await run(s, ["mv", "old/alice"])).code).toBe(2);
  });
  it("rm removes and commits; asks on a terminal unless -f", async () => {
    const s = new MemoryStore({ a: `${URI}\n`, b: `${URI}\n`, c: `${URI}\n` });
    expect((await run(s, ["rm", "a"])).code).toBe(0);
    expect(s.commits).toEqual(["Remove 2FA key a."]);
    let r = await run(s, ["rm", "b"], { tty: true, answers: ["n"] });
    expect(r.code).toBe(1);
    expect(s.entries.has("b")).toBe(true);
    r = await run(s, ["rm", "b"], { tty: true, answers: ["y"] });
    expect(r.code).toBe(0);
    expect(s.entries.has("b")).toBe(false);
    r = await run(s, ["rm", "c", "-f"], { tty: true });
    expect(r.code).toBe(0);
    expect((await run(s, ["rm", "zzz"])).code).toBe(1);
  });
});
