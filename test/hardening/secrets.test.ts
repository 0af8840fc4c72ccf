// Secrets (issue 8). Every command runs once under strace: no 2FA secret, recovery code or export
// password appears in any execve argv, and no 2FA secret in any child's environment. Around each
// command, /tmp and the temp home are scanned: no plaintext secret lands outside the store (except
// in the files the user asked for). `show --secret`/`--uri`, exports and cards with --with-secret
// hold the secret; every other command's stdout and stderr do not. The clipboard is cleared after
// the timeout only while it still holds the code (fake xclip on PATH, through the real CLI).
import { spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeAccount } from "../../src/core/account.js";
import { generateCode } from "../../src/core/otp.js";
import { BIN, hasTool, type Run } from "../e2e/harness.js";
import { ageStore, ensureBuilt, passStore, runTool, type StoreHome } from "./stores.js";

/** Distinctive values, so that a match can only be a leak. */
const SECRET = "KRUGKIDROVUWG2ZAMJZG653OEBTG66BANJ2W24DTEBXXMZLSEB2GQZJA";
const HOTP_SECRET = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43UOV3HO6DZPJQWEY3EMVTGO2DJ";
const CODES = ["7xk2-9fqa-hh3m", "m3pd-81zc-q7rw", "v9tt-2kdn-x4ce"];
const PASSWORD = "correct-horse-battery-staple-42";
const AT = "1767225600"; // 2026-01-01T00:00:00Z
const URI = `otpauth://totp/Leak:alice%40example.com?secret=${SECRET}&issuer=Leak`;
const CODE_AT = generateCode(makeAccount({ secret: SECRET }), Number(AT) * 1000);

/** The forms a secret can take in text: canonical, lower case, grouped by 4, and a long piece of it. */
function forms(b32: string): string[] {
  return [b32, b32.toLowerCase(), b32.match(/.{4}/g)!.join(" "), b32.slice(8, 40)];
}
const TOTP_FORMS = forms(SECRET);
const ALL_SECRETS = [...TOTP_FORMS, ...forms(HOTP_SECRET)];

/** Which of the secrets a text holds. */
function leaks(text: string, secrets: readonly string[] = ALL_SECRETS): string[] {
  return secrets.filter((s) => text.includes(s));
}

interface Cmd {
  args: string[];
  input?: string;
  env?: Record<string, string>;
  /** stdout is an output the user asked for that holds the key (show --secret, export to stdout). */
  secretStdout?: boolean;
  /** Files the user asked for (export -o, card -o, mirrors): they may hold the key. */
  outputs?: string[];
  /** Exit status other than 0 that is expected (verify with a wrong code). */
  status?: number;
}

let s: StoreHome;
let out = "";
let remote = "";
beforeAll(async () => {
  ensureBuilt();
  if (process.env.CI && !hasTool("strace")) throw new Error("strace is missing");
  s = await ageStore();
  out = join(s.home.dir, "out");
  mkdirSync(out);
  remote = join(s.home.dir, "remote.git");
  await runTool(s.home, "git", ["init", "-q", "--bare", remote]);
  await runTool(s.home, "git", ["-C", s.root, "remote", "add", "origin", remote]);
}, 120_000);
afterAll(() => s?.home.cleanup());

/** Every command, in an order that works: each key is added before it is used. */
function commands(): Cmd[] {
  const pw = { PW: PASSWORD };
  return [
    { args: ["add", "leak/alice"], input: `${URI}\n` },
    { args: ["add", "leak/hotp", "--secret-stdin", "--hotp", "--counter", "3"], input: `${HOTP_SECRET}\n` },
    { args: ["add", "leak/alice", "--force"], input: `${URI}\n` },
    { args: ["code", "leak/alice", "--at", AT] },
    { args: ["code", "leak/hotp"] },
    { args: ["list"] },
    { args: ["list", "--json"] },
    { args: ["list", "--codes", "--at", AT] },
    { args: ["show", "leak/alice"] },
    { args: ["show", "leak/alice", "--json"] },
    { args: ["show", "leak/alice", "--secret"], secretStdout: true },
    { args: ["show", "leak/alice", "--uri"], secretStdout: true },
    { args: ["show", "leak/alice", "--json", "--secret"], secretStdout: true },
    { args: ["show", "leak/alice", "--qr"], secretStdout: true },
    { args: ["show", "leak/alice", "--qr", join(out, "key.png")], outputs: [join(out, "key.png")] },
    { args: ["verify", "leak/alice", CODE_AT, "--at", AT] },
    { args: ["verify", "leak/alice", "000000", "--at", AT], status: 1 },
    { args: ["recovery", "add", "leak/alice"], input: `${CODES.join("\n")}\n` },
    { args: ["recovery", "list", "leak/alice"] },
    { args: ["recovery", "use", "leak/alice", CODES[0]] },
    {
      args: ["card", "leak/alice", "-o", join(out, "card.pdf"), "--at", AT],
      outputs: [join(out, "card.pdf")],
    },
    {
      args: ["card", "leak/alice", "-o", join(out, "card-secret.pdf"), "--with-secret", "--at", AT],
      outputs: [join(out, "card-secret.pdf")],
    },
    { args: ["export", "--format", "uris"], secretStdout: true },
    { args: ["export", "--format", "uris", "-o", join(out, "keys.txt")], outputs: [join(out, "keys.txt")] },
    {
      args: ["export", "--format", "aegis", "-o", join(out, "aegis.json"), "--password-env", "PW"],
      env: pw,
      outputs: [join(out, "aegis.json")],
    },
    {
      args: ["export", "--format", "kdbx", "-o", join(out, "keys.kdbx"), "--password-env", "PW"],
      env: pw,
      outputs: [join(out, "keys.kdbx")],
    },
    { args: ["export", "--format", "google", "-o", join(out, "google")], outputs: [join(out, "google")] },
    { args: ["import", join(out, "aegis.json"), "--password-env", "PW", "--dry-run"], env: pw },
    { args: ["import", join(out, "keys.txt"), "--yes"] },
    { args: ["mv", "leak/hotp", "leak/counter"] },
    { args: ["audit"], status: 1 },
    { args: ["audit", "--json"], status: 1 },
    { args: ["mirror", "add", "bitwarden", join(out, "mirror.json")] },
    { args: ["mirror", "sync"], outputs: [join(out, "mirror.json")] },
    { args: ["mirror", "list"] },
    { args: ["sync"] },
    { args: ["rm", "-f", "leak/counter"] },
    { args: ["--help"] },
  ];
}

/** Files (path -> mtime) under a folder; node_modules and .git are skipped (not written by commands). */
function scan(dir: string, acc = new Map<string, number>(), depth = 0): Map<string, number> {
  if (depth > 10) return acc;
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return acc;
  }
  for (const d of entries) {
    const p = join(dir, d.name);
    if (d.isDirectory()) {
      if (d.name !== "node_modules" && d.name !== ".git") scan(p, acc, depth + 1);
    } else if (d.isFile()) {
      try {
        acc.set(p, statSync(p).mtimeMs);
      } catch {
        // gone meanwhile
      }
    }
  }
  return acc;
}

/** The files a command created or changed: a snapshot before and one after. */
function changedFiles(before: Map<string, number>, after: Map<string, number>): string[] {
  return [...after].filter(([p, m]) => before.get(p) !== m).map(([p]) => p);
}

const SCANNED = ["/tmp", "/var/tmp", "/dev/shm"];

/** Runs one command under strace; returns its outcome and the execve lines of every process. */
function traced(cmd: Cmd, trace: string): Promise<Run & { execs: string[] }> {
  return new Promise((resolve) => {
    const child = spawn(
      "strace",
      ["-f", "-qq", "-v", "-e", "trace=execve", "-s", "100000", "-o", trace, BIN, ...cmd.args],
      { env: { ...s.home.env, TMPDIR: join(s.home.dir, "tmp"), ...cmd.env }, cwd: s.home.dir },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdin.on("error", () => {});
    child.stdin.end(cmd.input ?? "");
    child.on("close", (code) => {
      const execs = existsSync(trace)
        ? readFileSync(trace, "utf8")
            .split("\n")
            .filter((l) => /execve\(/.test(l))
        : [];
      resolve({ code: code ?? -1, stdout, stderr, execs });
    });
  });
}

describe("secrets never leak", () => {
  const report: string[] = [];
  const seenPrograms = new Set<string>();

  it("every command once: no secret in any argv or child env, no plaintext outside the store, none on stdout/stderr unless asked", async () => {
    mkdirSync(join(s.home.dir, "tmp"), { recursive: true });
    let n = 0;
    for (const cmd of commands()) {
      const label = cmd.args.join(" ");
      const trace = join(s.home.dir, `trace-${n++}.txt`);
      const snap = () => {
        const m = new Map<string, number>();
        for (const d of [...SCANNED, s.home.dir]) scan(d, m);
        return m;
      };
      const before = snap();
      const r = await traced(cmd, trace);
      const written = changedFiles(before, snap());
      expect(r.code, `${label}: ${r.stderr}`).toBe(cmd.status ?? 0);
      expect(r.execs.length, `${label}: strace saw no execve (is ptrace allowed?)`).toBeGreaterThan(0);
      for (const line of r.execs) {
        const m = /execve\("([^"]*)", \[(.*?)\], (?:\[(.*)\]|0x[0-9a-f]+ \/\* \d+ vars \*\/)/.exec(line);
        expect(m, line.slice(0, 200)).not.toBeNull();
        const [, prog, argv, envp = ""] = m!;
        seenPrograms.add(prog.split("/").pop()!);
        // The first exec is sparekey itself, with the arguments the test gave it.
        if (/bin\/sparekey|sparekey-bin|run\.js/.test(prog + argv)) continue;
        const inArgv = leaks(argv, [...ALL_SECRETS, ...CODES, PASSWORD]);
        expect(inArgv, `${label}: ${prog} got a secret in its argv`).toEqual([]);
        const inEnv = leaks(envp);
        expect(inEnv, `${label}: ${prog} got a secret in its environment`).toEqual([]);
      }
      // stdout and stderr.
      if (!cmd.secretStdout) expect(leaks(r.stdout), `${label}: stdout`).toEqual([]);
      expect(leaks(r.stderr), `${label}: stderr`).toEqual([]);
      // The file system, outside the store and the outputs asked for.
      const asked = (p: string) => (cmd.outputs ?? []).some((o) => p === o || p.startsWith(`${o}/`));
      for (const file of written) {
        if (file.startsWith(`${s.root}/`) && !file.startsWith(`${s.root}/.sparekey`)) {
          // Store files are encrypted: they must not hold the key as text either.
          if (/\.age$/.test(file)) expect(leaks(readFileSync(file, "latin1")), file).toEqual([]);
          continue;
        }
        if (asked(file) || file.startsWith(join(s.home.dir, "trace-")) || file.startsWith(remote)) continue;
        let text: string;
        try {
          text = readFileSync(file, "latin1");
        } catch {
          continue;
        }
        expect(leaks(text, [...ALL_SECRETS, PASSWORD]), `${label}: plaintext in ${file}`).toEqual([]);
      }
      report.push(`${label}: ${r.execs.length} execs`);
    }
    console.log(
      `strace: ${report.length} commands; programs started: ${[...seenPrograms].sort().join(", ")}`,
    );
  }, 240_000);

  describe("the outputs that hold the key do hold it", () => {
    it("show --secret, --uri and --json --secret print it", async () => {
      expect((await s.run(["show", "leak/alice", "--secret"])).stdout).toBe(`${SECRET}\n`);
      expect((await s.run(["show", "leak/alice", "--uri"])).stdout).toContain(`secret=${SECRET}`);
      expect(JSON.parse((await s.run(["show", "leak/alice", "--json", "--secret"])).stdout).secret).toBe(
        SECRET,
      );
    });
    it("exports hold it (plain, and encrypted under the password)", async () => {
      expect(readFileSync(join(out, "keys.txt"), "utf8")).toContain(`secret=${SECRET}`);
      expect(leaks(readFileSync(join(out, "aegis.json"), "latin1"))).toEqual([]);
      const { aegisImport } = await import("../../src/formats/aegis.js");
      const d = await aegisImport.decode({
        bytes: readFileSync(join(out, "aegis.json")),
        fileName: "a",
        password: PASSWORD,
      });
      expect(d.accounts.map((a) => a.account.secret)).toContain(SECRET);
      expect(readdirSync(join(out, "google")).length).toBeGreaterThan(0);
    });
    it("a card holds it only with --with-secret", async () => {
      if (!hasTool("pdftotext")) {
        if (process.env.CI) throw new Error("pdftotext is missing");
        return;
      }
      const text = async (f: string) =>
        (await runTool(s.home, "pdftotext", [join(out, f), "-"])).stdout.replace(/\s+/g, "");
      const withKey = await text("card-secret.pdf");
      expect(withKey).toContain(SECRET.slice(0, 16));
      expect(leaks(await text("card.pdf"), [SECRET, SECRET.slice(0, 16), SECRET.slice(16, 32)])).toEqual([]);
    });
  });

  it("gpg gets the plaintext on stdin, never in argv (pass store)", async () => {
    const p = await passStore();
    try {
      const old = s;
      s = p;
      try {
        for (const cmd of [
          { args: ["add", "leak/alice"], input: `${URI}\n` },
          { args: ["code", "leak/alice", "--at", AT] },
          { args: ["recovery", "add", "leak/alice"], input: `${CODES.join("\n")}\n` },
          { args: ["show", "leak/alice"] },
        ] as Cmd[]) {
          const r = await traced(cmd, join(p.home.dir, "trace.txt"));
          expect(r.code, r.stderr).toBe(0);
          const gpg = r.execs.filter((l) => /execve\("[^"]*gpg/.test(l));
          expect(gpg.length).toBeGreaterThan(0);
          for (const line of r.execs) {
            if (/bin\/sparekey|sparekey-bin/.test(line.slice(0, 300))) continue;
            const argv = /\[(.*?)\]/.exec(line)?.[1] ?? "";
            expect(leaks(argv, [...ALL_SECRETS, ...CODES]), line.slice(0, 200)).toEqual([]);
          }
        }
      } finally {
        s = old;
      }
    } finally {
      p.home.cleanup();
    }
  }, 120_000);
});

describe("the clipboard (fake xclip on PATH, through the real CLI)", () => {
  let bin = "";
  let clip = "";
  let log = "";
  beforeAll(() => {
    bin = join(s.home.dir, "fakebin");
    mkdirSync(bin, { recursive: true });
    clip = join(bin, "clipboard");
    log = join(bin, "argv.log");
    writeFileSync(clip, "");
    writeFileSync(
      join(bin, "xclip"),
      `#!/bin/sh\necho "xclip $*" >> '${log}'\ncase "$*" in *-o*) cat '${clip}'; exit 0;; esac\ncat > '${clip}.new' && mv '${clip}.new' '${clip}'\n`,
    );
    chmodSync(join(bin, "xclip"), 0o755);
  });
  const env = () => ({ PATH: `${bin}:${s.home.env.PATH}`, DISPLAY: ":99", PASSWORD_STORE_CLIP_TIME: "1" });
  const until = async (ok: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  };

  it("copies the code (over stdin), and clears it after the timeout", async () => {
    const r = await s.run(["code", "leak/alice", "-c", "--at", AT], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("");
    expect(readFileSync(clip, "utf8").trim()).toBe(CODE_AT);
    await until(() => readFileSync(clip, "utf8") === "", 6_000);
    expect(readFileSync(clip, "utf8")).toBe("");
    expect(readFileSync(log, "utf8")).not.toContain(CODE_AT);
  }, 20_000);

  it("leaves the clipboard alone when it holds something else by then", async () => {
    const r = await s.run(["code", "leak/alice", "-c", "--at", AT], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    writeFileSync(clip, "a password copied since");
    await new Promise((res) => setTimeout(res, 2_500));
    expect(readFileSync(clip, "utf8")).toBe("a password copied since");
  }, 20_000);
});
