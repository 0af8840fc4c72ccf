import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { UserError } from "../core/errors.js";
import { validateName } from "../core/names.js";
import { AgeStore } from "./age.js";
import type { AgeCrypto } from "./age-crypto.js";
import { type Env, type PromptFn, tildePath } from "./fsutil.js";
import { PassStore } from "./pass.js";
import { scopeStore } from "./scoped.js";
import type { Store } from "./store.js";

/** What callers may inject when opening a store. */
export interface OpenOptions {
  /** Asks for the passphrase of an encrypted age identities file (secret mode). */
  prompt?: PromptFn;
  /** The age implementation; the default is {@link defaultAgeCrypto}. */
  ageCrypto?: () => Promise<AgeCrypto>;
  /** Resolves a relative `--store DIR`; defaults to the process's working directory. */
  cwd?: string;
}

/** A store found by the selection rules, before scoping to the 2FA folder. */
export interface FoundStore {
  store: PassStore | AgeStore;
  root: string;
  kind: "pass" | "age";
}

/**
 * The age implementation stores use unless told otherwise. The one place to switch
 * implementations (the package is loaded lazily inside age-typage, so this import is cheap).
 */
export async function defaultAgeCrypto(): Promise<AgeCrypto> {
  // node:crypto path (issue 7: start-up speed); SPAREKEY_AGE_IMPL=typage selects the package.
  if (process.env.SPAREKEY_AGE_IMPL === "typage") return (await import("./age-typage.js")).typageCrypto;
  return (await import("./age-native.js")).ageNative;
}

function home(env: Env): string {
  if (!env.HOME) throw new UserError("HOME is not set; give the store with --store DIR");
  return env.HOME;
}

/** The pass store folder: PASSWORD_STORE_DIR, else ~/.password-store. */
export function passDir(env: Env): string {
  return env.PASSWORD_STORE_DIR ? resolve(env.PASSWORD_STORE_DIR) : join(home(env), ".password-store");
}

/** The passage store folder: PASSAGE_DIR, else ~/.passage/store. */
export function passageDir(env: Env): string {
  return env.PASSAGE_DIR ? resolve(env.PASSAGE_DIR) : join(home(env), ".passage", "store");
}

/** The kind of store a folder holds, from its marker file; undefined when it holds neither. */
export function storeKindOf(dir: string): "pass" | "age" | undefined {
  if (existsSync(join(dir, ".gpg-id"))) return "pass";
  if (existsSync(join(dir, ".age-recipients"))) return "age";
  return undefined;
}

function isDir(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** Builds the store object for a folder of a known kind. */
export function makeStore(
  root: string,
  kind: "pass" | "age",
  env: Env,
  opts: OpenOptions = {},
): PassStore | AgeStore {
  if (kind === "pass") return new PassStore(root, { env });
  return new AgeStore(root, { env, crypto: opts.ageCrypto ?? defaultAgeCrypto, prompt: opts.prompt });
}

/**
 * Finds the store by DESIGN.md's rules, first match wins: (1) `--store DIR` or SPAREKEY_STORE_DIR,
 * its kind from `.gpg-id` / `.age-recipients`; (2) PASSWORD_STORE_DIR or ~/.password-store when it
 * holds a `.gpg-id`; (3) PASSAGE_DIR or ~/.passage/store when it exists; (4) a UserError.
 */
export function findStore(env: Env, storeOption?: string, opts: OpenOptions = {}): FoundStore {
  const explicit = storeOption ?? env.SPAREKEY_STORE_DIR;
  if (explicit !== undefined && explicit !== "") {
    const root = resolve(opts.cwd ?? process.cwd(), explicit);
    const kind = storeKindOf(root);
    if (!kind) {
      const why = isDir(root) ? "holds neither .gpg-id nor .age-recipients" : "does not exist";
      throw new UserError(
        `${tildePath(root, env.HOME)} is not a store (it ${why}); run: sparekey init ${explicit}`,
      );
    }
    return { store: makeStore(root, kind, env, opts), root, kind };
  }
  const pass = passDir(env);
  if (existsSync(join(pass, ".gpg-id")))
    return { store: makeStore(pass, "pass", env, opts), root: pass, kind: "pass" };
  const passage = passageDir(env);
  if (isDir(passage)) return { store: makeStore(passage, "age", env, opts), root: passage, kind: "age" };
  const looked = [pass, passage].map((d) => tildePath(d, env.HOME)).join(", ");
  throw new UserError(`no store found (looked in ${looked}); run: sparekey init`);
}

/** The 2FA folder inside the store: SPAREKEY_PREFIX, "2fa" by default, "" for the root. */
export function storePrefix(env: Env): string {
  const p = (env.SPAREKEY_PREFIX ?? "2fa").replace(/^\/+|\/+$/g, "");
  if (p !== "") {
    try {
      validateName(p);
    } catch (e) {
      throw new UserError(`SPAREKEY_PREFIX: ${(e as Error).message}`);
    }
  }
  return p;
}

/** Opens the selected store scoped to the 2FA folder, so names are "github/alice". */
export async function openStore(env: Env, storeOption?: string, opts: OpenOptions = {}): Promise<Store> {
  const prefix = storePrefix(env);
  return scopeStore(findStore(env, storeOption, opts).store, prefix);
}

/** Opens the selected store unscoped, with its root and kind (for init, audit, sync). */
export async function openStoreRoot(
  env: Env,
  storeOption?: string,
  opts: OpenOptions = {},
): Promise<FoundStore> {
  return findStore(env, storeOption, opts);
}
