import { UserError } from "../core/errors.js";

/**
 * A read that failed only because the entry is encrypted for other people (a team folder one may
 * write to but not read). A write may still be right: the cipher tool reported success.
 */
export class NotForUs extends UserError {}

/**
 * The one interface every store implements (pass/gpg, age, in-memory). Names are relative to
 * the store root, without the file extension, with `/` separators ("2fa/github/alice").
 * Implementations validate names, write atomically (temp file beside the target, fsync, rename)
 * and read the entry back before `write` resolves.
 */
export interface Store {
  readonly kind: "pass" | "age" | "memory";
  /** Where the store lives, for messages ("~/.password-store"). */
  readonly location: string;
  /** Every entry name under `prefix` (a folder, "" for all), sorted. Needs no decryption. */
  list(prefix?: string): Promise<string[]>;
  /** The decrypted text of one entry. A missing entry is a UserError. */
  read(name: string): Promise<string>;
  /** Encrypts and replaces (or creates) one entry, atomically, then verifies it by reading it back. */
  write(name: string, text: string): Promise<void>;
  /** Removes one entry. */
  remove(name: string): Promise<void>;
  /** Renames one entry, re-encrypting it when the recipients of the new folder differ. */
  move(from: string, to: string): Promise<void>;
  /** Whether an entry exists. */
  exists(name: string): Promise<boolean>;
  /**
   * Records every change made since the last commit as one git commit with this sentence
   * ("Add 2FA key for github/alice."). Does nothing when the store is not a git repository.
   */
  commit(message: string): Promise<void>;
  /**
   * Runs `fn` while holding the store's lock, so that read-modify-write sequences (HOTP counters)
   * from concurrent processes do not interleave. A lock left by a dead process is taken over.
   */
  withLock<T>(fn: () => Promise<T>): Promise<T>;
  /** Optional bulk read, same contract as {@link readMany} (the pass store talks to gpg-agent). */
  readAll?(names: readonly string[]): Promise<Map<string, { text: string } | { error: Error }>>;
}

/** Decrypts many entries with bounded concurrency; a failure is returned per entry, never thrown. */
export async function readMany(
  store: Store,
  names: readonly string[],
  concurrency = 8,
): Promise<Map<string, { text: string } | { error: Error }>> {
  return store.readAll ? store.readAll(names) : readEach(store, names, concurrency);
}

/** {@link readMany} one `store.read` per entry, whatever bulk path the store has. */
export async function readEach(
  store: Store,
  names: readonly string[],
  concurrency = 8,
): Promise<Map<string, { text: string } | { error: Error }>> {
  const out = new Map<string, { text: string } | { error: Error }>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const name = names[next++];
      try {
        out.set(name, { text: await store.read(name) });
      } catch (e) {
        out.set(name, { error: e instanceof Error ? e : new Error(String(e)) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, names.length) }, worker));
  return new Map(names.map((n) => [n, out.get(n)!]));
}
