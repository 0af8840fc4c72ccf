// Stores in throwaway homes for the hardening tests, processes killed at chosen moments, and
// the checks that a store is whole afterwards (every entry decrypts and parses, git fsck clean,
// no temp files left).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { type Entry, parseEntry } from "../../src/core/entry.js";
import { BIN, type Home, makeGpgKey, makeHome, type Run, sh, sk } from "../e2e/harness.js";

/** Builds dist/ once when it is missing (`npm test` builds before vitest). */
export { ensureBuilt } from "../e2e/harness.js";

/** A home with a store in it. */
export interface StoreHome {
  home: Home;
  kind: "age" | "pass";
  /** The store root (~/.passage/store or ~/.password-store). */
  root: string;
  /** The age identities file (age stores). */
  identities?: string;
  /** The gpg fingerprint (pass stores). */
  fpr?: string;
  /** Runs sparekey to the end without blocking the event loop (kill timers of other tests keep firing). */
  run(args: string[], opts?: { input?: string; env?: Record<string, string> }): Promise<Run>;
}

/** A fresh home with an age store made by `sparekey init`. */
export async function ageStore(): Promise<StoreHome> {
  const home = makeHome();
  const r = await runAsync({ home }, ["init"]);
  if (r.code !== 0) throw new Error(`sparekey init failed: ${r.stderr}`);
  return {
    home,
    kind: "age",
    root: join(home.env.HOME, ".passage/store"),
    identities: join(home.env.HOME, ".passage/identities"),
    run: (args, opts) => runAsync({ home }, args, opts),
  };
}

/** A fresh home with a gpg key (no passphrase) and a pass store made by `sparekey init --gpg`. */
export async function passStore(): Promise<StoreHome> {
  const home = makeHome();
  const fpr = makeGpgKey(home);
  const r = await runAsync({ home }, ["init", "--gpg", fpr]);
  if (r.code !== 0) throw new Error(`sparekey init --gpg failed: ${r.stderr}`);
  return {
    home,
    kind: "pass",
    root: join(home.env.HOME, ".password-store"),
    fpr,
    run: (args, opts) => runAsync({ home }, args, opts),
  };
}

/** Every file under a folder (relative paths), `.git` excluded. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (name === ".git") continue;
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out.sort();
}

/** Leftovers an interrupted write may leave: temp files, stale-lock copies. */
export const LEFTOVER = /(^|\/)\.[^/]*\.tmp-|\.tmp$|\.stale-\d+/;

/** Runs a program to the end, asynchronously; stdout as UTF-8. */
export function runTool(
  home: Home,
  cmd: string,
  args: string[],
  opts: { input?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...home.env, ...opts.env }, cwd: home.dir });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", (e) => resolve({ code: 127, stdout, stderr: String(e) }));
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Decrypts one store file with the real tools (age, gpg), independent of sparekey. */
export async function decryptFile(s: StoreHome, file: string): Promise<string> {
  const r =
    s.kind === "age"
      ? await runTool(s.home, "age", ["-d", "-i", s.identities!, file])
      : await runTool(s.home, "gpg", ["--quiet", "--batch", "--decrypt", file]);
  if (r.code !== 0) throw new Error(`cannot decrypt ${file}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Decrypts age files in-process with the reference implementation (the age-encryption package,
 * not sparekey's own code path), which is ~20 times faster than starting `age` per file.
 */
async function decryptAge(s: StoreHome, bytes: Uint8Array): Promise<string> {
  const age = await import("age-encryption");
  const d = new age.Decrypter();
  for (const line of readFileSync(s.identities!, "utf8").split("\n"))
    if (line.startsWith("AGE-SECRET-KEY-")) d.addIdentity(line.trim());
  return d.decrypt(bytes, "text");
}

const decrypted = new Map<string, string>();

/** Every entry of the store, decrypted (age-encryption, or the gpg binary) and parsed; throws on the first bad one. */
export async function readStore(s: StoreHome): Promise<Map<string, { text: string; entry: Entry }>> {
  const ext = s.kind === "age" ? ".age" : ".gpg";
  const out = new Map<string, { text: string; entry: Entry }>();
  for (const f of filesUnder(s.root)) {
    if (!f.endsWith(ext) || f.split("/").some((p) => p.startsWith("."))) continue;
    const path = join(s.root, f);
    const bytes = readFileSync(path);
    // Files that did not change since the last look need not be decrypted again.
    const key = `${s.kind}:${createHash("sha256").update(bytes).digest("hex")}`;
    let text = decrypted.get(key);
    try {
      text ??= s.kind === "age" ? await decryptAge(s, new Uint8Array(bytes)) : await decryptFile(s, path);
    } catch (e) {
      throw new Error(`${f} does not decrypt: ${(e as Error).message}`);
    }
    decrypted.set(key, text);
    let entry: Entry;
    try {
      entry = parseEntry(text);
    } catch (e) {
      throw new Error(`${f} does not parse: ${(e as Error).message}`);
    }
    out.set(f.slice(0, -ext.length), { text, entry });
  }
  return out;
}

/** `git fsck` in the store: exit 0 and no error (dangling objects from a killed `git add` are fine). */
export async function gitFsck(s: StoreHome): Promise<void> {
  const r = await runTool(s.home, "git", ["-C", s.root, "fsck", "--no-progress", "--no-dangling"]);
  if (r.code !== 0 || /error|missing|corrupt|broken|fatal/i.test(r.stdout + r.stderr))
    throw new Error(`git fsck failed in ${s.root}: ${r.stdout}${r.stderr}`);
}

/** The result of a run that may have been killed. */
export interface Killed {
  /** True when SIGKILL ended it (false when it finished first). */
  killed: boolean;
  code: number | null;
  stderr: string;
  ms: number;
}

/** Whether a process group still has members. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `sparekey ARGS` in its own process group and sends SIGKILL after `delayMs`: to the whole
 * group (sparekey and its git/gpg children die together, as in a power cut) or to sparekey alone
 * (its children run on as orphans, as after `kill -9 PID`). Resolves when every process of the
 * group is gone.
 */
export function runAndKill(
  s: StoreHome,
  args: string[],
  delayMs: number,
  opts: { input?: string; env?: Record<string, string>; group?: boolean } = {},
): Promise<Killed> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(BIN, args, {
      env: { ...s.home.env, ...opts.env },
      cwd: s.home.dir,
      detached: true,
      stdio: ["pipe", "ignore", "pipe"],
    });
    const pgid = child.pid!;
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdin!.on("error", () => {});
    child.stdin!.end(opts.input ?? "");
    let exited = false;
    const timer = setTimeout(() => {
      if (exited) return;
      try {
        if (opts.group === false) process.kill(pgid, "SIGKILL");
        else process.kill(-pgid, "SIGKILL");
      } catch {
        // already gone
      }
    }, delayMs);
    child.on("exit", (code, signal) => {
      exited = true;
      clearTimeout(timer);
      const ms = performance.now() - t0;
      // Orphans (git, gpg) of a process killed alone finish on their own; wait for them.
      const wait = () => {
        if (!groupAlive(pgid)) resolve({ killed: signal === "SIGKILL", code, stderr, ms });
        else setTimeout(wait, 5);
      };
      wait();
    });
  });
}

/** Runs `sparekey ARGS` to the end, asynchronously (for races). */
export function runAsync(
  s: { home: Home },
  args: string[],
  opts: { input?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(BIN, args, { env: { ...s.home.env, ...opts.env }, cwd: s.home.dir });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const GNU_TIME = "/usr/bin/time";

/**
 * Runs a command and measures its wall time and peak resident memory: from the kernel's rusage
 * through GNU time when installed (exact), else by polling VmHWM in /proc (a high-water mark, so
 * polling every 10 ms misses only growth in the last moments before exit).
 */
export async function measure(
  s: { home: Home },
  args: string[],
  opts: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Run & { peakBytes: number; ms: number; timedOut: boolean }> {
  const useTime = existsSync(GNU_TIME);
  const out = join(s.home.dir, `rusage-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const [cmd, argv] = useTime ? [GNU_TIME, ["-f", "%M", "-o", out, BIN, ...args]] : [BIN, args];
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, argv, { env: { ...s.home.env, ...opts.env }, cwd: s.home.dir });
    let stdout = "";
    let stderr = "";
    let peak = 0;
    let timedOut = false;
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
    const poll = setInterval(() => {
      if (useTime) return;
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
        if (m) peak = Math.max(peak, Number(m[1]) * 1024);
      } catch {
        // exited
      }
    }, 10);
    const kill = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? 60_000);
    child.on("close", (code) => {
      clearInterval(poll);
      clearTimeout(kill);
      const ms = performance.now() - t0;
      if (useTime) {
        try {
          const text = readFileSync(out, "utf8").trim().split("\n");
          peak = Number(text[text.length - 1]) * 1024;
        } catch {
          peak = 0;
        }
        // GNU time adds "Command exited with non-zero status N" to its own file, not to stderr.
      }
      resolve({ code: code ?? -1, stdout, stderr, peakBytes: peak, ms, timedOut });
    });
  });
}

export { makeHome, sh, sk };
