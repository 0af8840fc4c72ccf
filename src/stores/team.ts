import { promises as fs } from "node:fs";
import { join, relative } from "node:path";
import { UsageError, UserError } from "../core/errors.js";
import { validateName } from "../core/names.js";
import type { AgeStore } from "./age.js";
import { type Env, isErr, makeDir, runTool, tildePath, writeAtomic } from "./fsutil.js";
import { commitPaths } from "./git.js";
import type { PassStore } from "./pass.js";
import { readMany } from "./store.js";

/** The file that names a folder's recipients in each kind of store. */
export function recipientsFileName(kind: "pass" | "age"): string {
  return kind === "pass" ? ".gpg-id" : ".age-recipients";
}

/** Checks the recipients before anything is written: every gpg key must be usable, every age recipient valid. */
async function checkRecipients(kind: "pass" | "age", recipients: readonly string[], env: Env): Promise<void> {
  if (recipients.length === 0) throw new UserError("give at least one recipient");
  if (kind === "pass") {
    const r = await runTool(
      "gpg",
      [
        "--batch",
        "--quiet",
        "--yes",
        "--no-encrypt-to",
        "--encrypt",
        ...recipients.flatMap((id) => ["--recipient", id]),
        "--output",
        "-",
      ],
      { env, input: "" },
    );
    if (r.code === 127) throw new UserError("gpg is not installed (the pass store needs it)");
    if (r.code !== 0) {
      const line = r.stderr
        .split("\n")
        .map((l) => l.replace(/^gpg: /, "").trim())
        .find((l) => /skipped|No public key|unusable|not found|no valid/i.test(l));
      throw new UserError(
        `cannot encrypt to ${recipients.join(", ")}: ${line ?? "gpg refused"} (import the public keys and trust them; see gpg --list-keys)`,
      );
    }
    return;
  }
  for (const r of recipients) {
    if (!/^age1[02-9ac-hj-np-z]{58}$/.test(r))
      throw new UserError(`"${r.slice(0, 70)}" is not an age recipient (age1… , as age-keygen -y prints)`);
  }
}

/** What re-encrypting a folder did. */
export interface FolderResult {
  /** The recipients file written (absolute). */
  file: string;
  /** The entries re-encrypted (store names, from the root). */
  entries: string[];
  previous: string[] | null;
}

/**
 * Sets the recipients of one folder of the store (as `pass init -p FOLDER`), re-encrypts every
 * entry under it to the new set, and commits once. `folder` is a path from the store root.
 * Every entry is decrypted before anything is written, so an entry we cannot read stops the
 * change with the store untouched; a failure midway puts the old recipients and entries back.
 */
export async function setFolderRecipients(
  store: PassStore | AgeStore,
  root: string,
  folder: string,
  recipients: readonly string[],
  env: Env,
): Promise<FolderResult> {
  validateName(folder);
  const kind = store.kind;
  await checkRecipients(kind, recipients, env);
  return store.withLock(async () => {
    const names = await store.list(folder);
    const texts = await readMany(store, names);
    const plain = new Map<string, string>();
    for (const n of names) {
      const got = texts.get(n)!;
      if ("error" in got)
        throw new UserError(
          `cannot re-encrypt ${n}: ${got.error.message.split("\n")[0]}; nothing was changed`,
        );
      plain.set(n, got.text);
    }
    const dir = join(root, folder);
    const file = join(dir, recipientsFileName(kind));
    const previous = await fs
      .readFile(file, "utf8")
      .catch((e) => (isErr(e, "ENOENT") ? null : Promise.reject(e)));
    await makeDir(dir);
    await writeAtomic(file, new TextEncoder().encode(`${recipients.join("\n")}\n`));
    const done: string[] = [];
    try {
      for (const [n, text] of plain) {
        await store.write(n, text);
        done.push(n);
      }
    } catch (e) {
      // Put the old recipients back, and the entries already rewritten back under them.
      if (previous === null) await fs.rm(file, { force: true });
      else await writeAtomic(file, new TextEncoder().encode(previous));
      for (const n of done) await store.write(n, plain.get(n)!).catch(() => {});
      throw e;
    }
    const rel = [file, ...names.map((n) => store.pathOf(n))].map((p) => relative(root, p));
    const who = recipients.length > 3 ? `${recipients.slice(0, 3).join(", ")}, …` : recipients.join(", ");
    await commitPaths(
      root,
      rel,
      `Set recipients of ${folder} to ${who}; re-encrypt ${names.length} entr${names.length === 1 ? "y" : "ies"}.`,
      env,
    );
    // The entries are committed: nothing is left for the store's own commit to pick up.
    await store.commit("Re-encrypt.");
    return {
      file,
      entries: names,
      previous: previous === null ? null : previous.split("\n").filter(Boolean),
    };
  });
}

/** The bits of the command context the team set-up needs (a structural subset of the CLI's Ctx). */
export interface TeamCtx {
  env: Env;
  cwd: string;
  storeOption?: string;
  stderr(line: string): void;
  prompt(question: string, opts?: { secret?: boolean }): Promise<string | null>;
}

/**
 * `sparekey init --gpg KEY... --path team` (or `--age RECIPIENT...`): `team` is a folder inside
 * the 2FA folder, so `sparekey code team/x` reads what it protects. Returns the exit status.
 */
export async function initTeamFolder(
  ctx: TeamCtx,
  args: { positionals: string[]; values: Record<string, unknown> },
): Promise<number> {
  const list = (v: unknown): string[] =>
    Array.isArray(v) ? v.map(String) : typeof v === "string" ? [v] : [];
  const path = typeof args.values.path === "string" ? args.values.path : undefined;
  const gpg = args.values.gpg !== undefined;
  const age = args.values.age !== undefined;
  if (path === undefined) throw new UsageError("--age sets a team folder's recipients: add --path FOLDER");
  if (gpg === age)
    throw new UsageError("give the folder's recipients with --gpg KEYID... or --age RECIPIENT...");
  const mode = gpg ? "gpg" : "age";
  const recipients = [...list(args.values[mode]), ...args.positionals];
  const { openRootedStore } = await import("./mirrors.js");
  const { full, root, kind, prefix } = await openRootedStore(ctx.env, ctx.storeOption, {
    cwd: ctx.cwd,
    prompt: ctx.prompt,
  });
  const want = mode === "gpg" ? "pass" : "age";
  if (kind !== want)
    throw new UserError(
      `${tildePath(root, ctx.env.HOME)} is ${kind === "pass" ? "a pass" : "an age"} store; give its folder recipients with ${kind === "pass" ? "--gpg KEYID" : "--age RECIPIENT"}`,
    );
  // Only a trailing slash is dropped: "/team" reads as an absolute path, which is refused.
  const sub = path.replace(/\/+$/, "");
  validateName(sub);
  const folder = prefix ? `${prefix}/${sub}` : sub;
  const r = await setFolderRecipients(full, root, folder, recipients, ctx.env);
  ctx.stderr(
    `Recipients of ${sub}/ set to ${recipients.join(", ")} (${tildePath(r.file, ctx.env.HOME)}); ${r.entries.length} entr${r.entries.length === 1 ? "y" : "ies"} re-encrypted.`,
  );
  ctx.stderr(`Entries saved as ${sub}/NAME are now readable by every one of them.`);
  return 0;
}
