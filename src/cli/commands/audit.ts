import { promises as fs } from "node:fs";
import { join } from "node:path";
import {
  type AuditEntry,
  auditStore,
  formatFindings,
  type GitInfo,
  keyUsableUntil,
  type MirrorInfo,
  parseGpgKeys,
  type RecipientKey,
} from "../../core/audit.js";
import { UsageError } from "../../core/errors.js";
import { type Env, runTool, tildePath } from "../../stores/fsutil.js";
import { git, isGitRepo } from "../../stores/git.js";
import {
  mirrorsOf,
  openRootedStore,
  readMirrorConfig,
  readMirrorStates,
  sameMirror,
} from "../../stores/mirrors.js";
import { parseGpgId } from "../../stores/pass.js";
import { readMany } from "../../stores/store.js";
import { type Args, type Ctx, has } from "../context.js";

export const name = "audit";
export const summary = "Check that no step was skipped: recovery codes, checks, cards, mirrors, git, keys";
export const usage = "sparekey audit [--json]";
export const options = {
  json: { type: "boolean" },
} as const;

/** The git facts the audit needs; undefined when the store is not in a git repository. */
export async function gitInfo(root: string, env: Env): Promise<GitInfo | undefined> {
  if (!(await isGitRepo(root, env))) return undefined;
  const remotes = (await git(root, ["remote"], env)).stdout
    .toString()
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  let unpushed = 0;
  if (remotes.length > 0 && (await git(root, ["rev-parse", "--verify", "-q", "HEAD"], env)).code === 0) {
    // Commits that no remote-tracking branch holds: what a push would still have to send.
    const r = await git(root, ["rev-list", "--count", "HEAD", "--not", "--remotes"], env);
    unpushed = r.code === 0 ? Number(r.stdout.toString().trim()) || 0 : 0;
  }
  return { remotes, unpushed };
}

/** Every `.gpg-id` in the store (pass allows one per folder), skipping .git. */
async function gpgIdFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string, depth: number): Promise<void> => {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const d of entries) {
      if (d.name === ".gpg-id" && d.isFile()) out.push(join(dir, d.name));
      else if (d.isDirectory() && d.name !== ".git" && depth < 32) await visit(join(dir, d.name), depth + 1);
    }
  };
  await visit(root, 0);
  return out;
}

/** The recipient keys of a pass store, and when each stops being usable (from the gpg keyring). */
export async function recipientKeys(root: string, env: Env): Promise<RecipientKey[]> {
  const ids = new Set<string>();
  if (env.PASSWORD_STORE_KEY?.trim())
    for (const id of env.PASSWORD_STORE_KEY.trim().split(/\s+/)) ids.add(id);
  else
    for (const file of await gpgIdFiles(root))
      for (const id of parseGpgId(await fs.readFile(file, "utf8").catch(() => ""))) ids.add(id);
  const out: RecipientKey[] = [];
  await Promise.all(
    [...ids].map(async (id) => {
      const r = await runTool(
        "gpg",
        ["--batch", "--list-keys", "--with-colons", "--fixed-list-mode", "--", id],
        {
          env,
        },
      );
      if (r.code !== 0) return;
      for (const k of parseGpgKeys(r.stdout.toString("utf8"))) {
        if (k.validity === "r") continue;
        out.push({ recipient: id, fingerprint: k.fingerprint, expires: keyUsableUntil(k) });
      }
    }),
  );
  return out.sort((a, b) => a.recipient.localeCompare(b.recipient));
}

/** Runs every rule; exit 0 when there is nothing to fix, 1 when there is. */
export async function run(ctx: Ctx, args: Args): Promise<number> {
  if (args.positionals.length > 0) throw new UsageError("audit takes no arguments");
  const { store, root, kind } = await openRootedStore(ctx.env, ctx.storeOption, {
    cwd: ctx.cwd,
    prompt: ctx.prompt,
  });
  const names = await store.list();
  const texts = await readMany(store, names);
  const entries: AuditEntry[] = names.map((n) => {
    const got = texts.get(n)!;
    return "error" in got
      ? { name: n, error: got.error.message.split("\n")[0] }
      : { name: n, text: got.text };
  });
  const states = await readMirrorStates(root);
  // A mirror file that has gone missing holds nothing, whatever the state file says.
  const mirrors: MirrorInfo[] = await Promise.all(
    mirrorsOf(await readMirrorConfig(ctx.env), root).map(async (m) => ({
      format: m.format,
      file: tildePath(m.file, ctx.env.HOME),
      state: (await fs.stat(m.file).catch(() => undefined))
        ? states.find((s) => sameMirror(s, m))
        : undefined,
    })),
  );
  const [gitState, keys] = await Promise.all([
    gitInfo(root, ctx.env),
    kind === "pass" ? recipientKeys(root, ctx.env) : Promise.resolve([]),
  ]);
  const findings = auditStore({
    entries,
    mirrors,
    git: gitState,
    keys,
    now: ctx.now(),
    storeDir: tildePath(root, ctx.env.HOME),
  });

  if (has(args, "json")) {
    const out = findings.map(({ account, finding, severity, message }) => ({
      account,
      finding,
      severity,
      message,
    }));
    ctx.stdout(`${JSON.stringify({ findings: out }, null, 2)}\n`);
  } else if (findings.length > 0) {
    ctx.stdout(formatFindings(findings));
  }
  const errors = findings.filter((f) => f.severity === "error").length;
  const accounts = names.length;
  if (findings.length === 0) {
    ctx.stderr(`No findings: ${accounts} account${accounts === 1 ? "" : "s"} checked in ${store.location}.`);
    return 0;
  }
  ctx.stderr(
    `${findings.length} finding${findings.length === 1 ? "" : "s"} (${errors} error${errors === 1 ? "" : "s"}, ` +
      `${findings.length - errors} warning${findings.length - errors === 1 ? "" : "s"}) in ${store.location}.`,
  );
  return 1;
}
