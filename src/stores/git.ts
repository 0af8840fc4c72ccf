import { promises as fs } from "node:fs";
import { sep } from "node:path";
import { UserError } from "../core/errors.js";
import { type Env, runTool, type ToolResult } from "./fsutil.js";

/** The fallback identity, used only when git has none (a fresh machine or container). */
const FALLBACK_NAME = "sparekey";
const FALLBACK_EMAIL = "sparekey@localhost";

/** Runs `git -C root ARGS` with literal pathspecs, so names with `*` or `:` are taken as they are. */
export function git(root: string, args: readonly string[], env: Env) {
  return runTool("git", ["--literal-pathspecs", "-C", root, ...args], { env });
}

/** Whether `root` is inside a git work tree (the store's own repository, or one it lives in). */
export async function isGitRepo(root: string, env: Env): Promise<boolean> {
  const r = await git(root, ["rev-parse", "--is-inside-work-tree"], env);
  return r.code === 0 && r.stdout.toString().trim() === "true";
}

/**
 * `-c user.name=… -c user.email=…` when git has no identity of its own for this repository, so
 * that a commit never fails on a fresh machine; the user's identity always wins.
 */
export async function identityArgs(root: string, env: Env): Promise<string[]> {
  const out: string[] = [];
  const has = async (key: string, vars: string[]) =>
    vars.some((v) => env[v]) || (await git(root, ["config", "--get", key], env)).code === 0;
  if (!(await has("user.email", ["GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL", "EMAIL"])))
    out.push("-c", `user.email=${FALLBACK_EMAIL}`);
  if (!(await has("user.name", ["GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"])))
    out.push("-c", `user.name=${FALLBACK_NAME}`);
  return out;
}

/** Paths (relative to root) that `git status` reports as changed among `paths`. */
async function changedPaths(root: string, paths: readonly string[], env: Env): Promise<string[]> {
  const r = await git(root, ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ...paths], env);
  if (r.code !== 0) throw new UserError(`git status failed in ${root}: ${lastLine(r.stderr)}`);
  const fields = r.stdout.toString("utf8").split("\0");
  const out: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (f.length < 4) continue;
    out.push(f.slice(3));
    // A rename or copy record carries its source path in the next field.
    if (f[0] === "R" || f[0] === "C") out.push(fields[++i]);
  }
  return out;
}

/**
 * Commits exactly `paths` (relative to root; new, changed or removed) with `message`, leaving any
 * other staged or unstaged work of the user alone. Does nothing outside a git repository or when
 * none of the paths changed.
 */
export async function commitPaths(
  root: string,
  paths: readonly string[],
  message: string,
  env: Env,
): Promise<void> {
  if (paths.length === 0 || !(await isGitRepo(root, env))) return;
  const changed = await changedPaths(root, paths, env);
  if (changed.length === 0) return;
  const add = await gitLocked(root, () => git(root, ["add", "-A", "--", ...changed], env));
  if (add.code !== 0) throw new UserError(`git add failed in ${root}: ${lastLine(add.stderr)}`);
  // A git killed after it wrote the commit but before it renamed index.lock leaves the old index:
  // the paths then look changed until they are staged again, and then there is nothing to commit.
  const staged = await git(root, ["diff", "--cached", "--quiet", "--", ...changed], env);
  if (staged.code === 0) return;
  const id = await identityArgs(root, env);
  // `commit -- paths` commits only these paths even when the user has other changes staged.
  const r = await gitLocked(root, () =>
    runTool(
      "git",
      [...id, "--literal-pathspecs", "-C", root, "commit", "-q", "-m", message, "--", ...changed],
      {
        env,
      },
    ),
  );
  if (r.code !== 0) throw new UserError(`git commit failed in ${root}: ${lastLine(r.stderr)}`);
}

/** The lock file named in git's "Unable to create '…/.git/index.lock': File exists" (index, HEAD, refs). */
function gitLockOf(stderr: string): string | undefined {
  const m = /Unable to create '([^']+\.lock)': File exists/.exec(stderr);
  return m?.[1].includes(`${sep}.git${sep}`) ? m[1] : undefined;
}

/**
 * Whether a git process is at work in the repository at `root`: one whose working directory is
 * inside it (`git -C root` and a user's git in the store both are). Linux reads /proc; elsewhere
 * this returns undefined (unknown).
 */
async function gitRunningIn(root: string): Promise<boolean | undefined> {
  let pids: string[];
  try {
    pids = (await fs.readdir("/proc")).filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid);
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    try {
      const comm = (await fs.readFile(`/proc/${pid}/comm`, "utf8")).trim();
      if (!comm.startsWith("git")) continue;
      const cwd = await fs.readlink(`/proc/${pid}/cwd`);
      if (cwd === root || cwd.startsWith(root + sep)) return true;
    } catch {
      // The process ended, or is not ours to look at.
    }
  }
  return false;
}

/**
 * Removes a git lock file that no git process holds: one left by a git that was killed together
 * with the sparekey that ran it (power cut, SIGKILL of the process group). Without /proc, a lock
 * untouched for a minute counts as left over. The lock is renamed aside first and put back if it
 * changed meanwhile, so that a lock a new git just took is never removed. Returns whether it went.
 */
async function removeStaleGitLock(lock: string, root: string): Promise<boolean> {
  const before = await fs.stat(lock).catch(() => undefined);
  if (!before) return true;
  const running = await gitRunningIn(root);
  if (running === true || (running === undefined && Date.now() - before.mtimeMs < 60_000)) return false;
  const aside = `${lock}.stale-${process.pid}`;
  try {
    await fs.rename(lock, aside);
  } catch {
    return true;
  }
  const moved = await fs.stat(aside).catch(() => undefined);
  if (moved && moved.ino !== before.ino) await fs.link(aside, lock).catch(() => {});
  await fs.rm(aside, { force: true });
  return true;
}

/**
 * Runs a git command that takes git's own locks. While another git holds a lock (a concurrent
 * commit, for a few milliseconds) it waits and retries, up to about 5 s; a lock that no running
 * git holds was left by an interrupted run and is removed, so the store needs no manual repair.
 */
async function gitLocked(root: string, run: () => Promise<ToolResult>): Promise<ToolResult> {
  for (let attempt = 0; ; attempt++) {
    const r = await run();
    const lock = r.code === 0 ? undefined : gitLockOf(r.stderr);
    if (!lock || attempt >= 40) return r;
    if (await removeStaleGitLock(lock, root)) continue;
    await new Promise((res) => setTimeout(res, 50 + Math.random() * 100));
  }
}

/** Creates a repository in `root` unless it is already inside one; returns whether it created one. */
export async function initRepo(root: string, env: Env): Promise<boolean> {
  if (await isGitRepo(root, env)) return false;
  const r = await runTool("git", ["-C", root, "init", "-q"], { env });
  if (r.code === 127) return false;
  if (r.code !== 0) throw new UserError(`git init failed in ${root}: ${lastLine(r.stderr)}`);
  return true;
}

function lastLine(s: string): string {
  const lines = s
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("hint:"));
  return lines.find((l) => /^(fatal|error):/.test(l)) ?? lines[lines.length - 1] ?? "unknown error";
}
