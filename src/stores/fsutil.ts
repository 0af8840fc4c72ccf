import { AsyncLocalStorage } from "node:async_hooks";
import { constants, promises as fs } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, join, relative, sep } from "node:path";
import { UserError } from "../core/errors.js";
import { validateName } from "../core/names.js";
import { runProcess } from "../io/spawn.js";
import { commitPaths } from "./git.js";
import type { Store } from "./store.js";

// Web Crypto rather than node:crypto, and io/spawn rather than node:child_process: loading those
// two modules costs the Bun binary ~14 ms of CPU on every `sparekey code` (issue 7).
const randomBytes = (n: number) => Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(n)));

/** The environment a store runs with (children inherit it: GNUPGHOME, GIT_*, PASSWORD_STORE_*). */
export type Env = Readonly<Record<string, string | undefined>>;

/** Asks one question on the terminal; with `secret` the answer is not echoed. */
export type PromptFn = (question: string, opts?: { secret?: boolean }) => Promise<string | null>;

/** The lock file in a store root; ignored by git. */
export const LOCK_FILE = ".sparekey.lock";

/** What init writes to a store's .gitignore, so locks and temp files are never committed. */
export const GITIGNORE = `${LOCK_FILE}\n${LOCK_FILE}.stale-*\n.*.tmp-*\n`;

const TEMP_RE = /^\..+\.tmp-(\d+)-[0-9a-f]+$/;

/** Whether a process with this pid is running on this machine. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether an error is a Node file-system error with this code. */
export function isErr(e: unknown, code: string): boolean {
  return typeof e === "object" && e !== null && (e as NodeJS.ErrnoException).code === code;
}

/**
 * A one-line UserError for a file that exists but cannot be read (a folder in its place, no
 * permission), or undefined for other errors. `shown` names the file.
 */
export function unreadableFile(e: unknown, shown: string): UserError | undefined {
  if (isErr(e, "EISDIR")) return new UserError(`cannot read ${shown}: it is a folder, not a file`);
  if (isErr(e, "EACCES") || isErr(e, "EPERM"))
    return new UserError(`cannot read ${shown}: permission denied`);
  return undefined;
}

/**
 * A one-line UserError for a write the file system refused (disk full, quota, read-only, no
 * permission), or undefined for other errors. The atomic write left the old file as it was.
 */
export function notWritten(e: unknown, what: string, tail = "it was left as it was"): UserError | undefined {
  const why = isErr(e, "ENOSPC")
    ? "the disk is full"
    : isErr(e, "EDQUOT")
      ? "the disk quota is exceeded"
      : isErr(e, "EROFS")
        ? "the file system is read-only"
        : isErr(e, "EACCES") || isErr(e, "EPERM")
          ? "permission denied"
          : undefined;
  return why ? new UserError(`cannot write ${what}: ${why}; ${tail}`) : undefined;
}

/** Creates a directory and its missing parents with mode 0700. */
export async function makeDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
}

/** Flushes a directory's entries to disk; some file systems refuse, which is harmless. */
export async function syncDir(dir: string): Promise<void> {
  let h: fs.FileHandle | undefined;
  try {
    h = await fs.open(dir, constants.O_RDONLY);
    await h.sync();
  } catch {
    // fsync on a directory is not supported everywhere (some FUSE and network file systems).
  } finally {
    await h?.close();
  }
}

/**
 * Removes the temp files of one target left by processes that died mid-write (files outside the
 * store's entry folders, such as mirrors, are never listed by walkNames, which cleans those).
 */
async function removeStaleTemps(dir: string, base: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  const prefix = `.${base}.tmp-`;
  for (const n of names) {
    const m = n.startsWith(prefix) ? TEMP_RE.exec(n) : null;
    if (m && !pidAlive(Number(m[1]))) await fs.rm(join(dir, n), { force: true }).catch(() => {});
  }
}

/**
 * Replaces `target` atomically: the bytes go to a 0600 temp file beside it, are fsynced, checked by
 * `verify` (read back and decrypted by the caller), then renamed over the target. On any failure
 * the temp file is removed and the old target is left as it was.
 */
export async function writeAtomic(
  target: string,
  bytes: Uint8Array,
  verify?: (tempPath: string) => Promise<void>,
): Promise<void> {
  const dir = dirname(target);
  await removeStaleTemps(dir, basename(target));
  const temp = join(dir, `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  let h: fs.FileHandle | undefined;
  try {
    h = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    await h.writeFile(bytes);
    await h.sync();
    await h.close();
    h = undefined;
    if (verify) await verify(temp);
    await fs.rename(temp, target);
  } catch (e) {
    await h?.close().catch(() => {});
    await fs.rm(temp, { force: true }).catch(() => {});
    throw e;
  }
  await syncDir(dir);
}

/**
 * Every file under `root/prefix` whose name ends with `ext`, as store names (relative, `/`,
 * extension removed), sorted. Skips `.git` and every dot-entry; removes temp files left by
 * processes that died mid-write.
 */
export async function walkNames(root: string, prefix: string, ext: string): Promise<string[]> {
  const out: string[] = [];
  const start = prefix === "" ? root : join(root, prefix);
  // A run killed while taking over a stale lock leaves the old lock set aside in the root.
  await removeDeadAsides(join(root, LOCK_FILE));
  const visit = async (dir: string, depth: number): Promise<void> => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (isErr(e, "ENOENT") || isErr(e, "ENOTDIR")) return;
      throw e;
    }
    await Promise.all(
      entries.map(async (d) => {
        const full = join(dir, d.name);
        if (d.name.startsWith(".")) {
          const m = TEMP_RE.exec(d.name);
          if (m && d.isFile() && !pidAlive(Number(m[1]))) await fs.rm(full, { force: true }).catch(() => {});
          return;
        }
        let isDir = d.isDirectory();
        let isFile = d.isFile();
        if (d.isSymbolicLink()) {
          // pass follows symlinked folders and entries; so do we, with a depth bound against loops.
          const st = await fs.stat(full).catch(() => undefined);
          isDir = st?.isDirectory() ?? false;
          isFile = st?.isFile() ?? false;
        }
        if (isDir && depth < 32) await visit(full, depth + 1);
        else if (isFile && d.name.endsWith(ext) && d.name.length > ext.length) {
          const name = relative(root, full.slice(0, -ext.length)).split(sep).join("/");
          try {
            out.push(validateName(name));
          } catch {
            // A file whose name we would refuse (control characters) is not listed.
          }
        }
      }),
    );
  };
  await visit(start, 0);
  return out.sort();
}

/** Removes `dir` and then its parents while they are empty, stopping at `root` (as `rmdir -p`). */
export async function removeEmptyDirs(root: string, dir: string): Promise<void> {
  let d = dir;
  while (d !== root && d.startsWith(root + sep)) {
    try {
      await fs.rmdir(d);
    } catch {
      return;
    }
    d = dirname(d);
  }
}

interface LockInfo {
  pid: number;
  host: string;
  mtimeMs: number;
}

async function readLock(path: string): Promise<(LockInfo & { text: string }) | undefined> {
  try {
    const [text, st] = await Promise.all([fs.readFile(path, "utf8"), fs.stat(path)]);
    const [pid, , host] = text.trim().split(/\s+/);
    // A lock whose holder was killed between creating the file and writing it is empty or torn.
    if (!text.endsWith("\n")) return { pid: Number.NaN, host: "", mtimeMs: st.mtimeMs, text };
    return { pid: Number(pid), host: host ?? "", mtimeMs: st.mtimeMs, text };
  } catch (e) {
    if (isErr(e, "ENOENT")) return undefined;
    throw e;
  }
}

const STALE_MS = 60_000;
const HEARTBEAT_MS = 15_000;

/** Long enough for a live process to write the lock file it has just created. */
const UNWRITTEN_MS = 1_000;

function isStale(l: LockInfo, now: number): boolean {
  if (now - l.mtimeMs > STALE_MS) return true;
  // Empty or torn: no process can be named; a live holder would have written it by now.
  if (!Number.isInteger(l.pid) || l.pid <= 0) return now - l.mtimeMs > UNWRITTEN_MS;
  return l.host === hostname() && !pidAlive(l.pid);
}

/**
 * Holds an O_EXCL lock file for the duration of `fn`. Waits with backoff up to `waitMs`; a lock
 * whose process is dead, or that has not been refreshed for 60 s, is stale and taken over. The
 * holder refreshes the file's mtime, so a long pinentry prompt does not make a live lock stale.
 */
export async function withLockFile<T>(path: string, fn: () => Promise<T>, waitMs = 10_000): Promise<T> {
  const me = `${process.pid} ${Date.now()} ${hostname()} ${randomBytes(4).toString("hex")}\n`;
  const deadline = Date.now() + waitMs;
  let delay = 10;
  for (;;) {
    try {
      const h = await fs.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        await h.writeFile(me);
      } catch (e) {
        // A lock we could not write (disk full) must not stay behind, empty, for others to wait on.
        await h.close().catch(() => {});
        await fs.rm(path, { force: true });
        throw notWritten(e, `the store lock ${path}`, "nothing was changed") ?? e;
      }
      await h.close();
      await removeDeadAsides(path);
      break;
    } catch (e) {
      if (isErr(e, "ENOENT")) throw new UserError(`the store folder ${dirname(path)} does not exist`);
      if (isErr(e, "EACCES") || isErr(e, "EROFS") || isErr(e, "EPERM"))
        throw new UserError(`cannot lock the store: ${dirname(path)} is not writable`);
      if (!isErr(e, "EEXIST")) throw e;
    }
    const held = await readLock(path);
    if (held && isStale(held, Date.now())) {
      await takeOver(path, held.text);
      continue;
    }
    if (Date.now() >= deadline) {
      const who = held
        ? `process ${held.pid}${held.host && held.host !== hostname() ? ` on ${held.host}` : ""}`
        : "another process";
      throw new UserError(
        `the store is locked by ${who} (${path}); try again, or delete that file if no sparekey is running`,
      );
    }
    await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
    delay = Math.min(delay * 2, 250);
  }
  const beat = setInterval(() => {
    const t = new Date();
    fs.utimes(path, t, t).catch(() => {});
  }, HEARTBEAT_MS);
  beat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(beat);
    // Remove only our own lock: if it was taken over as stale, the file is someone else's now.
    const now = await fs.readFile(path, "utf8").catch(() => "");
    if (now === me) await fs.rm(path, { force: true });
  }
}

/** Removes lock files that a taker set aside and was killed before it could delete them. */
async function removeDeadAsides(path: string): Promise<void> {
  const dir = dirname(path);
  const prefix = `${path.slice(dir.length + 1)}.stale-`;
  for (const n of await fs.readdir(dir).catch(() => [] as string[])) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)-[0-9a-f]+$/.exec(n.slice(prefix.length))?.[1]);
    if (pid > 0 && !pidAlive(pid)) await fs.rm(`${dir}/${n}`, { force: true });
  }
}

/**
 * Removes a stale lock without racing a second process that is taking it over too: the lock is
 * renamed aside (atomic), and if what was moved is not the stale lock we saw, it is put back.
 */
async function takeOver(path: string, staleText: string): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await fs.rename(path, aside);
  } catch (e) {
    if (isErr(e, "ENOENT")) return;
    throw e;
  }
  const moved = await fs.readFile(aside, "utf8").catch(() => staleText);
  if (moved !== staleText) await fs.link(aside, path).catch(() => {});
  await fs.rm(aside, { force: true });
}

/** What a child process left behind. */
export interface ToolResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs a program with arguments (never a shell) and optional stdin bytes, collecting stdout as
 * bytes. Secrets go through `input` only, never `args`. ENOENT (program missing) is code 127.
 */
export function runTool(
  cmd: string,
  args: readonly string[],
  opts: { env: Env; input?: Uint8Array | string; cwd?: string },
): Promise<ToolResult> {
  return runProcess(cmd, args, opts);
}

/** Shows a path with the home folder as `~`, for messages. */
export function tildePath(path: string, home: string | undefined): string {
  if (home && home !== "/" && (path === home || path.startsWith(home + sep)))
    return `~${path.slice(home.length)}`;
  return path;
}

/**
 * The parts of a store that do not depend on the cipher: names and paths, listing, atomic
 * replace with read-back, removal, moves, git commits and the lock. pass and age fill in the
 * cipher and the recipients rule.
 */
export abstract class DirStore implements Store {
  abstract readonly kind: "pass" | "age";
  readonly location: string;
  private readonly changed = new Set<string>();
  private readonly insideLock = new AsyncLocalStorage<boolean>();
  private lockQueue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly root: string,
    protected readonly env: Env,
    protected readonly ext: string,
  ) {
    this.location = tildePath(root, env.HOME);
  }

  /** Encrypts one entry's text to the recipients of its folder. */
  protected abstract encrypt(name: string, text: string): Promise<Uint8Array>;
  /** Decrypts one file; `name` is for messages only. */
  protected abstract decrypt(name: string, bytes: Uint8Array): Promise<string>;
  /** A key that is equal for two names exactly when their folders have the same recipients. */
  protected abstract recipientsKey(name: string): Promise<string>;
  /**
   * Whether a read-back failure means only that we may not decrypt what we encrypted (we are not
   * among the recipients), which is allowed: the cipher tool reported success.
   */
  protected abstract isNotForUs(e: unknown): boolean;

  /** The file that holds an entry. */
  pathOf(name: string): string {
    return join(this.root, `${validateName(name)}${this.ext}`);
  }

  async list(prefix = ""): Promise<string[]> {
    const p = prefix.replace(/^\/+|\/+$/g, "");
    if (p !== "") validateName(p);
    return walkNames(this.root, p, this.ext);
  }

  async read(name: string): Promise<string> {
    const path = this.pathOf(name);
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(path);
    } catch (e) {
      if (isErr(e, "ENOENT") || isErr(e, "ENOTDIR")) throw new UserError(`${name} is not in the store`);
      if (isErr(e, "EISDIR")) throw new UserError(`${name} is a folder in the store, not an entry`);
      throw e;
    }
    return this.decrypt(name, bytes);
  }

  async write(name: string, text: string): Promise<void> {
    const path = this.pathOf(name);
    const dir = dirname(path);
    try {
      await makeDir(dir);
    } catch (e) {
      if (isErr(e, "ENOTDIR") || isErr(e, "EEXIST"))
        throw new UserError(`cannot write ${name}: a part of its folder is a file`);
      throw e;
    }
    const bytes = await this.encrypt(name, text);
    // Again, in case a concurrent remove() pruned the empty folder while gpg was busy.
    await makeDir(dir);
    try {
      await writeAtomic(path, bytes, async (temp) => {
        const back = await fs.readFile(temp);
        let got: string;
        try {
          got = await this.decrypt(name, back);
        } catch (e) {
          if (this.isNotForUs(e)) return;
          throw e;
        }
        if (got !== text)
          throw new UserError(`writing ${name} failed: the entry read back differs; nothing was changed`);
      });
    } catch (e) {
      if (isErr(e, "EISDIR")) throw new UserError(`cannot write ${name}: a folder has that name`);
      throw notWritten(e, name) ?? e;
    }
    this.changed.add(relative(this.root, path));
  }

  async remove(name: string): Promise<void> {
    const path = this.pathOf(name);
    try {
      await fs.unlink(path);
    } catch (e) {
      if (isErr(e, "ENOENT") || isErr(e, "ENOTDIR")) throw new UserError(`${name} is not in the store`);
      throw e;
    }
    await syncDir(dirname(path));
    await removeEmptyDirs(this.root, dirname(path));
    this.changed.add(relative(this.root, path));
  }

  async move(from: string, to: string): Promise<void> {
    const src = this.pathOf(from);
    const dst = this.pathOf(to);
    if (src === dst) return;
    if (!(await this.exists(from))) throw new UserError(`${from} is not in the store`);
    // A case-only rename on a case-insensitive file system sees the target as existing; allow it.
    if (from.toLowerCase() !== to.toLowerCase() && (await this.exists(to)))
      throw new UserError(`${to} already exists`);
    if ((await this.recipientsKey(from)) === (await this.recipientsKey(to))) {
      await makeDir(dirname(dst));
      await fs.rename(src, dst);
      await syncDir(dirname(dst));
      await syncDir(dirname(src));
      await removeEmptyDirs(this.root, dirname(src));
    } else {
      const text = await this.read(from);
      await this.write(to, text);
      await fs.unlink(src);
      await removeEmptyDirs(this.root, dirname(src));
    }
    this.changed.add(relative(this.root, src));
    this.changed.add(relative(this.root, dst));
  }

  async exists(name: string): Promise<boolean> {
    try {
      return (await fs.stat(this.pathOf(name))).isFile();
    } catch {
      return false;
    }
  }

  async commit(message: string): Promise<void> {
    if (this.changed.size === 0) return;
    const paths = [...this.changed];
    this.changed.clear();
    // Under the store lock, so that concurrent commands never fight over git's index.lock.
    await this.withLock(() => commitPaths(this.root, paths, message, this.env));
  }

  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    // A section nested in one already holding the lock runs at once; sections started side by side
    // in one process queue here, and other processes wait on the lock file.
    if (this.insideLock.getStore()) return fn();
    const run = () => withLockFile(join(this.root, LOCK_FILE), () => this.insideLock.run(true, fn));
    const p = this.lockQueue.then(run, run);
    this.lockQueue = p.catch(() => {});
    return p;
  }
}
