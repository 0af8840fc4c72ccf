import { promises as fs } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Account } from "../core/account.js";
import type { MirrorState } from "../core/audit.js";
import { UserError } from "../core/errors.js";
import type { AgeStore } from "./age.js";
import { type Env, isErr, makeDir, writeAtomic } from "./fsutil.js";
import { commitPaths } from "./git.js";
import type { PassStore } from "./pass.js";
import { scopeStore } from "./scoped.js";
import type { Store } from "./store.js";

/** The formats a mirror can have: password managers that hold 2FA keys and can import a file. */
export const MIRROR_FORMATS = ["kdbx", "bitwarden", "apple", "aegis"] as const;
export type MirrorFormat = (typeof MIRROR_FORMATS)[number];

/** One mirror configured on this machine: a file in another password manager's format, for one store. */
export interface MirrorConfig {
  format: MirrorFormat;
  /** Absolute path of the mirror file. */
  file: string;
  /** Absolute path of the store it mirrors. */
  store: string;
}

/** `$XDG_CONFIG_HOME/sparekey/mirrors.json` (else `~/.config/...`): mirrors are per machine. */
export function configPath(env: Env): string {
  const base = env.XDG_CONFIG_HOME?.trim() || join(env.HOME ?? "/", ".config");
  return join(base, "sparekey", "mirrors.json");
}

/** The mirror state file inside the store, committed with it, so the audit needs no mirror password. */
export const STATE_FILE = ".sparekey/mirrors.json";

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(path, "utf8");
  } catch (e) {
    if (isErr(e, "ENOENT")) return undefined;
    throw new UserError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UserError(`${path} is not valid JSON; fix or remove it`);
  }
}

/** Every mirror configured on this machine (all stores). */
export async function readMirrorConfig(env: Env): Promise<MirrorConfig[]> {
  const path = configPath(env);
  const data = (await readJson(path)) as { mirrors?: unknown } | undefined;
  if (data === undefined) return [];
  if (!Array.isArray(data.mirrors)) throw new UserError(`${path} has no "mirrors" list; fix or remove it`);
  return data.mirrors.filter(
    (m): m is MirrorConfig =>
      typeof m === "object" &&
      m !== null &&
      MIRROR_FORMATS.includes((m as MirrorConfig).format) &&
      typeof (m as MirrorConfig).file === "string" &&
      typeof (m as MirrorConfig).store === "string",
  );
}

/** Saves the machine's mirror list (0600, atomic). */
export async function writeMirrorConfig(env: Env, mirrors: readonly MirrorConfig[]): Promise<void> {
  const path = configPath(env);
  await makeDir(dirname(path));
  await writeAtomic(path, new TextEncoder().encode(`${JSON.stringify({ mirrors }, null, 2)}\n`));
}

/** The mirrors of one store. */
export function mirrorsOf(config: readonly MirrorConfig[], storeRoot: string): MirrorConfig[] {
  const root = resolve(storeRoot);
  return config.filter((m) => resolve(m.store) === root);
}

/** Two records name the same mirror when the file and the format match. */
export function sameMirror(
  a: { file: string; format: string },
  b: { file: string; format: string },
): boolean {
  return a.file === b.file && a.format === b.format;
}

function isState(m: unknown): m is MirrorState {
  const s = m as MirrorState;
  return (
    typeof s === "object" &&
    s !== null &&
    typeof s.file === "string" &&
    typeof s.format === "string" &&
    typeof s.synced === "string" &&
    typeof s.entries === "object" &&
    s.entries !== null
  );
}

/** Parses the state file's text; anything malformed is dropped (the audit then says not-mirrored). */
export function parseMirrorStates(text: string): MirrorState[] {
  try {
    const data = JSON.parse(text) as { mirrors?: unknown };
    return Array.isArray(data.mirrors) ? data.mirrors.filter(isState) : [];
  } catch {
    return [];
  }
}

/** Formats the state file, one mirror per record, sorted so that the text is stable for git. */
export function formatMirrorStates(states: readonly MirrorState[]): string {
  const sorted = [...states].sort((a, b) => a.file.localeCompare(b.file) || a.format.localeCompare(b.format));
  return `${JSON.stringify({ mirrors: sorted }, null, 2)}\n`;
}

/**
 * Merges two versions of the state file (a sync conflict between machines): per mirror, the
 * record of the later sync wins.
 */
export function mergeMirrorStates(a: readonly MirrorState[], b: readonly MirrorState[]): MirrorState[] {
  const out = [...a];
  for (const s of b) {
    const i = out.findIndex((o) => sameMirror(o, s));
    if (i < 0) out.push(s);
    else if (s.synced > out[i].synced) out[i] = s;
  }
  return out;
}

/** The recorded state of every mirror of the store (missing file: none). */
export async function readMirrorStates(storeRoot: string): Promise<MirrorState[]> {
  try {
    return parseMirrorStates(await fs.readFile(join(storeRoot, STATE_FILE), "utf8"));
  } catch (e) {
    if (isErr(e, "ENOENT")) return [];
    throw e;
  }
}

/** Replaces the records of the given mirrors in the state file, and commits it. */
export async function recordMirrorStates(
  storeRoot: string,
  updates: readonly MirrorState[],
  env: Env,
  message: string,
): Promise<void> {
  const states = (await readMirrorStates(storeRoot)).filter((s) => !updates.some((u) => sameMirror(s, u)));
  const path = join(storeRoot, STATE_FILE);
  await makeDir(dirname(path));
  await writeAtomic(path, new TextEncoder().encode(formatMirrorStates([...states, ...updates])));
  await commitPaths(storeRoot, [STATE_FILE], message, env);
}

/** Drops a mirror's record from the state file (after `mirror rm`), and commits. */
export async function forgetMirrorState(
  storeRoot: string,
  mirror: { file: string; format: string },
  env: Env,
): Promise<void> {
  const states = await readMirrorStates(storeRoot);
  const kept = states.filter((s) => !sameMirror(s, mirror));
  if (kept.length === states.length) return;
  await writeAtomic(join(storeRoot, STATE_FILE), new TextEncoder().encode(formatMirrorStates(kept)));
  await commitPaths(storeRoot, [STATE_FILE], `Forget mirror ${mirror.file}.`, env);
}

/** One account to write into a mirror. */
export interface MirrorItem {
  name: string;
  account: Account;
  recovery: string[];
}

/** The custom field that marks the KDBX entries sparekey manages; the user's own entries lack it. */
export const KDBX_NAME_FIELD = "sparekey-name";
/** The group new sparekey entries go into (existing ones stay wherever the user moved them). */
export const KDBX_GROUP = "sparekey";

/** The outcome of updating a KDBX mirror in place. */
export interface KdbxUpdate {
  bytes: Uint8Array;
  added: number;
  updated: number;
  removed: number;
  kept: number;
}

/**
 * Updates a KDBX database in place: every entry without the `sparekey-name` field (the user's
 * own) is left untouched; ours are updated (the old version goes to the entry's history), added
 * or moved to the recycle bin when their name left the store. Names in `keep` (entries that could
 * not be read this time) are not touched either, so a broken entry never empties its mirror copy.
 * `fresh` builds the entries' fields (title, user name, OTP fields, notes) from the export codec.
 */
export async function updateKdbx(
  existing: Uint8Array,
  password: string,
  items: readonly MirrorItem[],
  keep: ReadonlySet<string>,
  fieldsOf: (item: MirrorItem) => Map<string, string | { protected: string }>,
): Promise<KdbxUpdate> {
  const kdbxweb = (await import("kdbxweb")).default;
  await ensureArgon2(kdbxweb);
  const creds = new kdbxweb.Credentials(kdbxweb.ProtectedValue.fromString(password));
  let db: InstanceType<typeof kdbxweb.Kdbx>;
  try {
    db = await kdbxweb.Kdbx.load(toArrayBuffer(existing), creds);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === kdbxweb.Consts.ErrorCodes.InvalidKey) throw new UserError("wrong password");
    throw new UserError(`not a KeePass database it can open (${code ?? (e as Error).message})`);
  }
  const bin = db.meta.recycleBinEnabled ? db.meta.recycleBinUuid : undefined;
  const ours = new Map<string, InstanceType<typeof kdbxweb.KdbxEntry>[]>();
  const walk = (g: InstanceType<typeof kdbxweb.KdbxGroup>): void => {
    if (bin && g.uuid.equals(bin)) return;
    for (const e of g.entries) {
      const tag = e.fields.get(KDBX_NAME_FIELD);
      const name = tag === undefined ? undefined : typeof tag === "string" ? tag : tag.getText();
      if (name !== undefined) ours.set(name, [...(ours.get(name) ?? []), e]);
    }
    for (const c of g.groups) walk(c);
  };
  walk(db.getDefaultGroup());

  // New entries go under one "sparekey" group, in the folders of their names, apart from the user's own.
  const groupFor = (name: string): InstanceType<typeof kdbxweb.KdbxGroup> => {
    let g = db.getDefaultGroup();
    for (const part of [KDBX_GROUP, ...name.split("/").slice(0, -1)]) {
      g = g.groups.find((c) => c.name === part) ?? db.createGroup(g, part);
    }
    return g;
  };
  const result = { added: 0, updated: 0, removed: 0, kept: 0 };
  const wanted = new Set(items.map((i) => i.name));
  for (const item of items) {
    const fields = fieldsOf(item);
    fields.set(KDBX_NAME_FIELD, item.name);
    const found = ours.get(item.name) ?? [];
    let entry = found[0];
    for (const dup of found.slice(1)) db.remove(dup);
    if (!entry) {
      entry = db.createEntry(groupFor(item.name));
      result.added++;
    } else if (sameFields(entry.fields, fields)) {
      continue;
    } else {
      entry.pushHistory();
      result.updated++;
    }
    for (const key of [...entry.fields.keys()]) {
      // Fields the user added to our entry (a password, a URL) stay; only the ones we write are replaced.
      if (fields.has(key) || ["Title", "UserName", "Password", "URL", "Notes"].includes(key)) continue;
      if (/^(otp|TOTP |TimeOtp-|HmacOtp-|sparekey-otp)/.test(key)) entry.fields.delete(key);
    }
    for (const [k, v] of fields) {
      entry.fields.set(k, typeof v === "string" ? v : kdbxweb.ProtectedValue.fromString(v.protected));
    }
    entry.times.update();
  }
  for (const [name, entries] of ours) {
    if (wanted.has(name)) continue;
    if (keep.has(name)) {
      result.kept++;
      continue;
    }
    for (const e of entries) db.remove(e);
    result.removed++;
  }
  const bytes = new Uint8Array(await db.save());
  return { bytes, ...result };
}

function fieldText(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "string") return v;
  return (v as { getText(): string }).getText();
}

function sameFields(have: Map<string, unknown>, want: Map<string, string | { protected: string }>): boolean {
  for (const [k, v] of want) {
    if (fieldText(have.get(k)) !== (typeof v === "string" ? v : v.protected)) return false;
  }
  return true;
}

/** Reads every sparekey-managed entry of a KDBX file: name -> its fields as text (for checks and tests). */
export async function readKdbxOwn(
  bytes: Uint8Array,
  password: string,
): Promise<Map<string, Map<string, string>>> {
  const kdbxweb = (await import("kdbxweb")).default;
  await ensureArgon2(kdbxweb);
  const db = await kdbxweb.Kdbx.load(
    toArrayBuffer(bytes),
    new kdbxweb.Credentials(kdbxweb.ProtectedValue.fromString(password)),
  );
  const bin = db.meta.recycleBinEnabled ? db.meta.recycleBinUuid : undefined;
  const out = new Map<string, Map<string, string>>();
  const walk = (g: InstanceType<typeof kdbxweb.KdbxGroup>): void => {
    if (bin && g.uuid.equals(bin)) return;
    for (const e of g.entries) {
      const name = fieldText(e.fields.get(KDBX_NAME_FIELD));
      if (name === undefined) continue;
      out.set(name, new Map([...e.fields].map(([k, v]) => [k, fieldText(v) ?? ""])));
    }
    for (const c of g.groups) walk(c);
  };
  walk(db.getDefaultGroup());
  return out;
}

function toArrayBuffer(u: Uint8Array): ArrayBuffer {
  return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
}

/** kdbxweb ships no Argon2; KDBX 4 files (KeePassXC's default) need it, so plug in hash-wasm's. */
async function ensureArgon2(kdbxweb: typeof import("kdbxweb")): Promise<void> {
  const { argon2d, argon2id } = await import("hash-wasm");
  kdbxweb.CryptoEngine.setArgon2Impl(
    async (password, salt, memory, iterations, length, parallelism, type, version) => {
      if (version !== 0x13) throw new UserError("unsupported Argon2 version in the KeePass file");
      const hash = await (type === 2 ? argon2id : argon2d)({
        password: new Uint8Array(password),
        salt: new Uint8Array(salt),
        memorySize: memory,
        iterations,
        hashLength: length,
        parallelism,
        outputType: "binary",
      });
      return toArrayBuffer(hash);
    },
  );
}

/** The selected store with its root and kind, and the view scoped to the 2FA folder. */
export async function openRootedStore(
  env: Env,
  storeOption: string | undefined,
  opts: { cwd: string; prompt?: (q: string, o?: { secret?: boolean }) => Promise<string | null> },
): Promise<{ store: Store; root: string; kind: "pass" | "age"; prefix: string; full: PassStore | AgeStore }> {
  const { openStoreRoot, storePrefix } = await import("./select.js");
  const found = await openStoreRoot(env, storeOption, opts);
  const prefix = storePrefix(env);
  return {
    store: scopeStore(found.store, prefix),
    root: found.root,
    kind: found.kind,
    prefix,
    full: found.store,
  };
}
