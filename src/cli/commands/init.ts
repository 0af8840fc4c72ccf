import { constants, promises as fs, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { UsageError, UserError } from "../../core/errors.js";
import { identitiesPath, isAgeFile, keyLines } from "../../stores/age.js";
import type { AgeCrypto } from "../../stores/age-crypto.js";
import { GITIGNORE, isErr, makeDir, runTool, tildePath, writeAtomic } from "../../stores/fsutil.js";
import { commitPaths, initRepo } from "../../stores/git.js";
import {
  defaultAgeCrypto,
  findStore,
  passageDir,
  passDir,
  storeKindOf,
  storePrefix,
} from "../../stores/select.js";
import { type Args, type Ctx, flags } from "../context.js";

export const name = "init";
export const summary = "Create a store: age (default, no gpg needed) or pass with --gpg KEYID";
export const usage =
  "sparekey init [--gpg KEYID...] [DIR]   (with --gpg, write DIR with a / in it, e.g. ./store); a team folder: sparekey init --gpg KEYID...|--age RECIPIENT... --path FOLDER";
export const options = {
  gpg: { type: "string", multiple: true },
  age: { type: "string", multiple: true },
  path: { type: "string" },
} as const;

const INIT_MESSAGE = "Initialize sparekey store.";

/** Creates an age store (default) or a pass store (`--gpg`), git-initialised, as pass/passage lay them out. */
export async function run(ctx: Ctx, args: Args): Promise<number> {
  // Team folders (issue 6): the recipients of one folder of an existing store, then re-encryption.
  if (args.values.path !== undefined || args.values.age !== undefined)
    return (await import("../../stores/team.js")).initTeamFolder(ctx, args);
  const gpgMode = args.values.gpg !== undefined;
  const { dir: dirArg, keyIds } = splitPositionals(ctx, args, gpgMode);
  const given = dirArg ?? ctx.storeOption ?? (ctx.env.SPAREKEY_STORE_DIR || undefined);
  const dir =
    given !== undefined ? resolve(ctx.cwd, given) : gpgMode ? passDir(ctx.env) : passageDir(ctx.env);
  const shown = tildePath(dir, ctx.env.HOME);
  storePrefix(ctx.env);

  // Re-running init never changes anything: the store may hold keys that depend on its recipients.
  const existing = given === undefined && !gpgMode ? await findExisting(ctx) : undefined;
  if (existing) {
    ctx.stderr(
      `${cap(aStore(existing.kind))} is already initialized in ${tildePath(existing.root, ctx.env.HOME)}.`,
    );
    ctx.stderr("Next: sparekey add");
    return 0;
  }
  const kind = storeKindOf(dir) ?? (!gpgMode && (await holdsAgeEntries(dir)) ? "age" : undefined);
  if (kind) {
    ctx.stderr(`${cap(aStore(kind))} is already initialized in ${shown}; nothing was changed.`);
    return 0;
  }
  if (gpgMode) await initPass(ctx, dir, [...flags(args, "gpg"), ...keyIds]);
  else await initAge(ctx, dir, await defaultAgeCrypto());
  const selected = selectedRoot(ctx);
  if (selected !== dir) {
    ctx.stderr(`This store is not the default one; use it with: sparekey --store ${shown} COMMAND`);
    ctx.stderr(`  (or: export SPAREKEY_STORE_DIR=${shown})`);
  }
  ctx.stderr("Next: sparekey add");
  return 0;
}

/**
 * Splits positionals into DIR and extra gpg key ids. With `--gpg` the key list and DIR share the
 * positionals, so DIR is the one that looks like a path (has a `/`, starts with `.` or `~`) or is
 * an existing folder.
 */
function splitPositionals(ctx: Ctx, args: Args, gpgMode: boolean): { dir?: string; keyIds: string[] } {
  const pos = args.positionals;
  if (!gpgMode) {
    if (pos.length > 1) throw new UsageError("give at most one DIR (for a pass store: --gpg KEYID...)");
    return { dir: pos[0], keyIds: [] };
  }
  const isPath = (p: string) => /[/~]/.test(p) || p.startsWith(".") || isDirSync(resolve(ctx.cwd, p));
  const dirs = pos.filter(isPath);
  if (dirs.length > 1) throw new UsageError(`give at most one DIR (got ${dirs.join(", ")})`);
  return { dir: dirs[0], keyIds: pos.filter((p) => !isPath(p)) };
}

function isDirSync(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The store the selection rules already find, unless it is only an empty passage folder. */
async function findExisting(ctx: Ctx): Promise<{ kind: string; root: string } | undefined> {
  try {
    const f = findStore(ctx.env, undefined, { cwd: ctx.cwd });
    if (storeKindOf(f.root) || (await holdsAgeEntries(f.root))) return f;
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
  }
  return undefined;
}

function cap(s: string): string {
  return s[0].toUpperCase() + s.slice(1);
}

/** "a pass store", "an age store". */
function aStore(kind: string): string {
  return `${kind === "age" ? "an" : "a"} ${kind} store`;
}

function selectedRoot(ctx: Ctx): string | undefined {
  try {
    return findStore(ctx.env, ctx.storeOption, { cwd: ctx.cwd }).root;
  } catch {
    return undefined;
  }
}

/** Whether a folder already holds `.age` entries (a passage store that relies on its identities file). */
async function holdsAgeEntries(dir: string): Promise<boolean> {
  const walk = async (d: string, depth: number): Promise<boolean> => {
    const entries = await fs.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      if (e.isFile() && e.name.endsWith(".age")) return true;
      if (e.isDirectory() && depth < 8 && (await walk(join(d, e.name), depth + 1))) return true;
    }
    return false;
  };
  return walk(dir, 0);
}

/** Writes a small non-secret file in the new store, 0600, atomically. */
async function writeSmall(path: string, text: string): Promise<void> {
  await writeAtomic(path, new TextEncoder().encode(text));
}

/** Adds our ignore lines to the store's .gitignore, keeping whatever is there. */
async function ensureGitignore(dir: string): Promise<void> {
  const path = join(dir, ".gitignore");
  const old = await fs.readFile(path, "utf8").catch((e) => {
    if (isErr(e, "ENOENT")) return "";
    throw e;
  });
  const have = new Set(old.split("\n").map((l) => l.trim()));
  const missing = GITIGNORE.split("\n").filter((l) => l !== "" && !have.has(l));
  if (missing.length === 0) return;
  const sep = old === "" || old.endsWith("\n") ? "" : "\n";
  await writeSmall(path, `${old}${sep}${missing.join("\n")}\n`);
}

/** `git init` (unless the folder is already in a work tree) and the first commit. */
async function gitSetUp(ctx: Ctx, dir: string, files: string[]): Promise<void> {
  const which = await runTool("git", ["--version"], { env: ctx.env });
  if (which.code === 127) {
    ctx.stderr("git is not installed: changes will not be committed (install git, then run git init there).");
    return;
  }
  await initRepo(dir, ctx.env);
  await commitPaths(dir, files, INIT_MESSAGE, ctx.env);
}

/** The age store: an identity (new or reused), `.age-recipients`, .gitignore, git. */
async function initAge(ctx: Ctx, dir: string, crypto: AgeCrypto): Promise<void> {
  const idFile = identitiesPath(ctx.env);
  const idShown = tildePath(idFile, ctx.env.HOME);
  const { recipients, created } = await ensureIdentity(ctx, idFile, crypto);
  await makeDir(dir);
  await writeSmall(join(dir, ".age-recipients"), `${recipients.join("\n")}\n`);
  await ensureGitignore(dir);
  await gitSetUp(ctx, dir, [".age-recipients", ".gitignore"]);
  ctx.stderr(`Initialized an age store in ${tildePath(dir, ctx.env.HOME)}.`);
  ctx.stderr(
    created
      ? `Identity: ${idShown} (a new key; back it up: without it no entry can be read)`
      : `Identity: ${idShown} (the key already there)`,
  );
  ctx.stderr(`Recipient${recipients.length > 1 ? "s" : ""}: ${recipients.join(" ")}`);
}

/**
 * The recipients of the identities file, creating the file (0600, folder 0700) with a new X25519
 * key when it does not exist or holds no key we can use. A passphrase-protected file is opened
 * with a passphrase asked on the terminal, and reused.
 */
async function ensureIdentity(
  ctx: Ctx,
  file: string,
  crypto: AgeCrypto,
): Promise<{ recipients: string[]; created: boolean }> {
  const shown = tildePath(file, ctx.env.HOME);
  let bytes: Uint8Array | undefined;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    if (!isErr(e, "ENOENT")) throw e;
  }
  if (bytes && isAgeFile(bytes)) {
    const pass = await ctx.prompt(`Passphrase for ${shown}: `, { secret: true });
    if (!pass) throw new UserError(`no passphrase given for ${shown}`);
    let plain: Uint8Array;
    try {
      plain = await crypto.decryptWithPassphrase(pass, bytes);
    } catch {
      throw new UserError(`wrong passphrase for ${shown}`);
    }
    const ids = keyLines(new TextDecoder().decode(plain)).filter((l) => l.startsWith("AGE-SECRET-KEY-"));
    if (ids.length === 0)
      throw new UserError(`${shown} holds no AGE-SECRET-KEY identity; write .age-recipients yourself`);
    return { recipients: await Promise.all(ids.map((i) => crypto.toRecipient(i))), created: false };
  }
  const old = bytes ? new TextDecoder().decode(bytes) : undefined;
  const ids = old === undefined ? [] : keyLines(old).filter((l) => l.startsWith("AGE-SECRET-KEY-"));
  if (ids.length > 0)
    return { recipients: await Promise.all(ids.map((i) => crypto.toRecipient(i))), created: false };

  const { identity, recipient } = await crypto.generateIdentity();
  const block = `# created: ${new Date(ctx.now()).toISOString().replace(/\.\d{3}Z$/, "Z")}\n# public key: ${recipient}\n${identity}\n`;
  await makeDir(dirname(file));
  if (old === undefined) {
    // O_EXCL: never replace an identities file that appeared meanwhile.
    const h = await fs.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await h.writeFile(block);
      await h.sync();
    } finally {
      await h.close();
    }
  } else {
    // The file exists but has no native key (only plugin or ssh identities): append ours.
    const h = await fs.open(file, constants.O_WRONLY | constants.O_APPEND);
    try {
      await h.writeFile(`${old === "" || old.endsWith("\n") ? "" : "\n"}${block}`);
      await h.sync();
    } finally {
      await h.close();
    }
  }
  return { recipients: [recipient], created: true };
}

/** The pass store: `.gpg-id` with the given keys (each must exist and encrypt), .gitignore, git. */
async function initPass(ctx: Ctx, dir: string, keyIds: string[]): Promise<void> {
  if (keyIds.length === 0) throw new UsageError("--gpg needs at least one KEYID");
  for (const id of keyIds) await checkGpgKey(ctx, id);
  await makeDir(dir);
  await writeSmall(join(dir, ".gpg-id"), `${keyIds.join("\n")}\n`);
  const signed = await signGpgId(ctx, dir);
  await ensureGitignore(dir);
  await gitSetUp(ctx, dir, [".gpg-id", ".gitignore", ...(signed ? [".gpg-id.sig"] : [])]);
  ctx.stderr(`Initialized a pass store in ${tildePath(dir, ctx.env.HOME)} for ${keyIds.join(", ")}.`);
}

/** Checks that gpg knows a public key for `id` that can encrypt; a UserError otherwise. */
async function checkGpgKey(ctx: Ctx, id: string): Promise<void> {
  const r = await runTool("gpg", ["--batch", "--with-colons", "--list-keys", "--", id], { env: ctx.env });
  if (r.code === 127)
    throw new UserError("gpg is not installed; run sparekey init without --gpg for an age store");
  if (r.code !== 0) throw new UserError(`no gpg public key "${id}" in your keyring (see: gpg --list-keys)`);
  const pubs = r.stdout
    .toString("utf8")
    .split("\n")
    .filter((l) => l.startsWith("pub:"));
  // Field 12 holds the key's usable capabilities; an upper-case E means it can encrypt.
  if (!pubs.some((l) => (l.split(":")[11] ?? "").includes("E")))
    throw new UserError(`gpg key "${id}" cannot encrypt (no usable encryption subkey; expired or revoked?)`);
}

/** Signs `.gpg-id` when PASSWORD_STORE_SIGNING_KEY is set, as `pass init` does; pass checks it later. */
async function signGpgId(ctx: Ctx, dir: string): Promise<boolean> {
  const keys = (ctx.env.PASSWORD_STORE_SIGNING_KEY ?? "").split(/\s+/).filter((k) => k !== "");
  if (keys.length === 0) return false;
  const file = join(dir, ".gpg-id");
  const r = await runTool(
    "gpg",
    ["--batch", "--yes", ...keys.flatMap((k) => ["--default-key", k]), "--detach-sign", "--", file],
    { env: ctx.env },
  );
  if (r.code !== 0) {
    await fs.rm(file, { force: true });
    throw new UserError(`could not sign .gpg-id with PASSWORD_STORE_SIGNING_KEY (${keys.join(" ")})`);
  }
  return true;
}
