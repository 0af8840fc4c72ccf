import { promises as fs } from "node:fs";
import { dirname, join } from "node:path";
import { conflictName } from "../../core/audit.js";
import { UsageError, UserError } from "../../core/errors.js";
import { formatDate } from "../../core/time.js";
import { type Env, makeDir, runTool, tildePath, walkNames, writeAtomic } from "../../stores/fsutil.js";
import { git, identityArgs, isGitRepo } from "../../stores/git.js";
import {
  formatMirrorStates,
  mergeMirrorStates,
  openRootedStore,
  parseMirrorStates,
  STATE_FILE,
} from "../../stores/mirrors.js";
import type { Args, Ctx } from "../context.js";

export const name = "sync";
export const summary = "Share the store between machines: git pull --rebase, then git push";
export const usage = "sparekey sync";

/** A conflict on one entry, resolved by keeping both versions. */
export interface KeptConflict {
  /** The entry's path in the repository, without its extension. */
  path: string;
  /** Where the other machine's version now is; absent when the other machine removed the entry. */
  copy?: string;
}

/** The first line of git's stderr that says what went wrong. */
function gitLine(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("hint:"));
  return lines.find((l) => /^(fatal|error):/.test(l)) ?? lines[lines.length - 1] ?? "unknown error";
}

/** Runs git with an identity (rebase writes commits) and fails with git's own line. */
async function must(root: string, args: string[], env: Env, what: string): Promise<string> {
  const r = await runTool("git", [...(await identityArgs(root, env)), "-C", root, ...args], { env });
  if (r.code !== 0)
    throw new UserError(`${what} failed in ${tildePath(root, env.HOME)}: ${gitLine(r.stderr)}`);
  return r.stdout.toString("utf8");
}

async function out(root: string, args: string[], env: Env): Promise<string | undefined> {
  const r = await git(root, args, env);
  return r.code === 0 ? r.stdout.toString("utf8").trim() : undefined;
}

/**
 * Commits entry files that a killed run wrote but never committed: they are whole (writes are
 * atomic), and leaving them would make the rebase refuse the dirty tree or hide them from the
 * other machines. Only entry files are taken; a user's other edits stay theirs to commit.
 */
async function commitLeftovers(root: string, env: Env): Promise<number> {
  const status = await must(
    root,
    ["status", "--porcelain", "-z", "--no-renames", "--untracked-files=all"],
    env,
    "git status",
  );
  const paths = status
    .split("\0")
    .filter((r) => r.length > 3)
    .map((r) => r.slice(3))
    .filter((p) => /\.(gpg|age)$/.test(p) && !/(^|\/)\./.test(p));
  if (paths.length === 0) return 0;
  await must(root, ["add", "-A", "--", ...paths], env, "git add");
  await must(
    root,
    ["commit", "-q", "-m", "Commit 2FA entries left uncommitted by an interrupted run.", "--", ...paths],
    env,
    "git commit",
  );
  return paths.length;
}

/** Whether a rebase stopped midway (conflicts) in this repository. */
async function rebasing(root: string, env: Env): Promise<boolean> {
  const gitDir = await out(root, ["rev-parse", "--absolute-git-dir"], env);
  if (!gitDir) return false;
  for (const d of ["rebase-merge", "rebase-apply"]) {
    if (await fs.stat(join(gitDir, d)).catch(() => undefined)) return true;
  }
  return false;
}

/** The index stages of each unmerged path: 1 base, 2 upstream (git's "ours" in a rebase), 3 this machine's commit. */
async function unmerged(root: string, env: Env): Promise<Map<string, Map<number, string>>> {
  const text = await must(root, ["ls-files", "-u", "-z"], env, "git ls-files");
  const paths = new Map<string, Map<number, string>>();
  for (const rec of text.split("\0")) {
    const m = /^\d+ ([0-9a-f]+) (\d)\t([\s\S]+)$/.exec(rec);
    if (!m) continue;
    const stages = paths.get(m[3]) ?? new Map<number, string>();
    stages.set(Number(m[2]), m[1]);
    paths.set(m[3], stages);
  }
  return paths;
}

async function blob(root: string, sha: string, env: Env): Promise<Buffer> {
  const r = await git(root, ["cat-file", "blob", sha], env);
  if (r.code !== 0) throw new UserError(`git cat-file failed: ${gitLine(r.stderr)}`);
  return r.stdout;
}

const ENTRY_FILE = /\.(gpg|age)$/;

/**
 * Resolves the conflicts of one stopped rebase step without ever losing a version. An encrypted
 * entry cannot be merged, so this machine's version stays under its name and the other
 * machine's goes beside it as NAME.conflict-DATE; the mirror state file is merged record by
 * record. Anything else is left for a person: the rebase is aborted and the store is unchanged.
 */
async function resolveStep(root: string, env: Env, date: string): Promise<KeptConflict[]> {
  const kept: KeptConflict[] = [];
  const conflicts = await unmerged(root, env);
  if (conflicts.size === 0) return kept;
  for (const path of conflicts.keys()) {
    if (!ENTRY_FILE.test(path) && path !== STATE_FILE) {
      await git(root, ["rebase", "--abort"], env);
      throw new UserError(
        `sync stopped: ${path} was changed on both machines and cannot be merged by sparekey; the store is as it was. Merge it by hand: git -C ${tildePath(root, env.HOME)} pull --rebase`,
      );
    }
  }
  for (const [path, stages] of conflicts) {
    const full = join(root, path);
    const upstream = stages.get(2);
    const mine = stages.get(3);
    if (path === STATE_FILE) {
      const text = async (sha?: string) => (sha ? (await blob(root, sha, env)).toString("utf8") : "");
      const merged = mergeMirrorStates(
        parseMirrorStates(await text(upstream)),
        parseMirrorStates(await text(mine)),
      );
      await makeDir(dirname(full));
      await writeAtomic(full, new TextEncoder().encode(formatMirrorStates(merged)));
      await must(root, ["add", "--", path], env, "git add");
      continue;
    }
    const ext = ENTRY_FILE.exec(path)![0];
    const base = path.slice(0, -ext.length);
    if (upstream) {
      const dir = dirname(base) === "." ? "" : dirname(base);
      const taken = await walkNames(root, dir, ext);
      const copy = conflictName(base, date, taken);
      await makeDir(dirname(join(root, copy)));
      await writeAtomic(join(root, `${copy}${ext}`), await blob(root, upstream, env));
      await must(root, ["add", "--", `${copy}${ext}`], env, "git add");
      kept.push({ path: base, copy });
    } else if (mine) kept.push({ path: base });
    if (mine) {
      await makeDir(dirname(full));
      await writeAtomic(full, await blob(root, mine, env));
      await must(root, ["add", "--", path], env, "git add");
    } else {
      await must(root, ["rm", "-q", "--cached", "--ignore-unmatch", "--", path], env, "git rm");
      await fs.rm(full, { force: true });
    }
  }
  return kept;
}

/** Fetches, rebases this machine's commits onto the remote branch (keeping both sides of conflicts), pushes. */
export async function syncRepo(
  root: string,
  env: Env,
  now: number,
): Promise<{ pulled: number; pushed: number; conflicts: KeptConflict[]; remote: string }> {
  const shown = tildePath(root, env.HOME);
  if (!(await isGitRepo(root, env)))
    throw new UserError(
      `the store ${shown} is not a git repository, so there is nothing to sync; run: git -C ${shown} init`,
    );
  const remotes = ((await out(root, ["remote"], env)) ?? "").split("\n").filter(Boolean);
  if (remotes.length === 0)
    throw new UserError(
      `the store ${shown} has no git remote to sync with; add one: git -C ${shown} remote add origin URL`,
    );
  if (await rebasing(root, env))
    throw new UserError(
      `a rebase is already in progress in ${shown}; finish it (git rebase --continue) or abort it`,
    );
  const branch = await out(root, ["symbolic-ref", "--short", "-q", "HEAD"], env);
  if (branch) await commitLeftovers(root, env);
  if (!branch)
    throw new UserError(`the store ${shown} is not on a branch (detached HEAD); check it out first`);
  const upstream = await out(root, ["rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{u}"], env);
  const remote =
    upstream && remotes.some((r) => upstream.startsWith(`${r}/`))
      ? remotes.find((r) => upstream.startsWith(`${r}/`))!
      : remotes.includes("origin")
        ? "origin"
        : remotes[0];
  const remoteBranch = upstream?.startsWith(`${remote}/`) ? upstream.slice(remote.length + 1) : branch;
  const ref = `refs/remotes/${remote}/${remoteBranch}`;
  const date = formatDate(now);
  const conflicts: KeptConflict[] = [];
  let pulled = 0;
  for (let attempt = 0; ; attempt++) {
    await must(root, ["fetch", "-q", remote], env, `git fetch ${remote}`);
    const hasRemote = (await git(root, ["rev-parse", "--verify", "-q", ref], env)).code === 0;
    if (hasRemote) {
      const hasHead = (await git(root, ["rev-parse", "--verify", "-q", "HEAD"], env)).code === 0;
      pulled += Number((await out(root, ["rev-list", "--count", hasHead ? `HEAD..${ref}` : ref], env)) ?? 0);
      const id = await identityArgs(root, env);
      const rebaseEnv = { ...env, GIT_EDITOR: "true", GIT_SEQUENCE_EDITOR: "true" };
      let r = await runTool("git", [...id, "-c", "rebase.autoStash=true", "-C", root, "rebase", "-q", ref], {
        env: rebaseEnv,
      });
      for (let steps = 0; r.code !== 0; steps++) {
        if (!(await rebasing(root, env)) || steps > 10_000)
          throw new UserError(`git rebase failed in ${shown}: ${gitLine(r.stderr)}`);
        if ((await unmerged(root, env)).size === 0) {
          // Stopped for something other than a conflict: never skip a commit (that loses it); undo.
          await git(root, ["rebase", "--abort"], env);
          throw new UserError(`git rebase stopped in ${shown}: ${gitLine(r.stderr)}; the store is as it was`);
        }
        conflicts.push(...(await resolveStep(root, env, date)));
        r = await runTool("git", [...id, "-C", root, "rebase", "--continue"], { env: rebaseEnv });
      }
    }
    const ahead = hasRemote ? await out(root, ["rev-list", "--count", `${ref}..HEAD`], env) : undefined;
    const pushArgs = upstream
      ? ["push", "-q", remote, `HEAD:${remoteBranch}`]
      : ["push", "-q", "-u", remote, `HEAD:${remoteBranch}`];
    const p = await runTool("git", ["-C", root, ...pushArgs], { env });
    if (p.code === 0) {
      const pushed = hasRemote
        ? Number(ahead ?? 0)
        : Number((await out(root, ["rev-list", "--count", "HEAD"], env)) ?? 0);
      return { pulled, pushed, conflicts, remote };
    }
    // Someone pushed between our fetch and our push: fetch and rebase again, a few times.
    if (attempt >= 3 || !/rejected|non-fast-forward|fetch first/i.test(p.stderr))
      throw new UserError(`git push to ${remote} failed: ${gitLine(p.stderr)}`);
  }
}

/** Pulls (with rebase) and pushes the store; conflicts keep both versions and are reported. */
export async function run(ctx: Ctx, args: Args): Promise<number> {
  if (args.positionals.length > 0) throw new UsageError("sync takes no arguments");
  const { root, prefix, full } = await openRootedStore(ctx.env, ctx.storeOption, { cwd: ctx.cwd });
  const r = await full.withLock(() => syncRepo(root, ctx.env, ctx.now()));
  const inScope = (p: string) => (prefix && p.startsWith(`${prefix}/`) ? p.slice(prefix.length + 1) : p);
  for (const c of r.conflicts) {
    if (c.copy === undefined) {
      ctx.stderr(
        `Conflict on ${inScope(c.path)}: the other machine removed it, this one changed it; kept it.`,
      );
      continue;
    }
    ctx.stderr(
      `Conflict on ${inScope(c.path)}: kept this machine's version; the other machine's is saved as ${inScope(c.copy)}.`,
    );
    ctx.stderr(
      `  Compare them with sparekey show, then remove the one you do not want (sparekey rm ${inScope(c.copy)}).`,
    );
  }
  const copies = r.conflicts.filter((c) => c.copy !== undefined).length;
  ctx.stderr(
    `Synced with ${r.remote}: ${r.pulled} commit${r.pulled === 1 ? "" : "s"} pulled, ${r.pushed} pushed` +
      `${copies > 0 ? `, ${copies} conflict cop${copies === 1 ? "y" : "ies"} kept (see: sparekey audit)` : ""}.`,
  );
  return 0;
}
