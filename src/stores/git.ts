import { UserError } from "../core/errors.js";
import { type Env, runTool } from "./fsutil.js";

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
  const add = await git(root, ["add", "-A", "--", ...changed], env);
  if (add.code !== 0) throw new UserError(`git add failed in ${root}: ${lastLine(add.stderr)}`);
  const id = await identityArgs(root, env);
  // `commit -- paths` commits only these paths even when the user has other changes staged.
  for (let attempt = 0; ; attempt++) {
    const r = await runTool(
      "git",
      [...id, "--literal-pathspecs", "-C", root, "commit", "-q", "-m", message, "--", ...changed],
      {
        env,
      },
    );
    if (r.code === 0) return;
    // Another process committing at the same moment holds index.lock for a few milliseconds.
    if (/index\.lock/.test(r.stderr) && attempt < 20) {
      await new Promise((res) => setTimeout(res, 50 + Math.random() * 100));
      continue;
    }
    throw new UserError(`git commit failed in ${root}: ${lastLine(r.stderr)}`);
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
