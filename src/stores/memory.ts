import { UserError } from "../core/errors.js";
import { validateName } from "../core/names.js";
import type { Store } from "./store.js";

/** An in-memory store for unit tests: same contract as the real ones, plus a commit log to assert on. */
export class MemoryStore implements Store {
  readonly kind = "memory" as const;
  readonly location = "(memory)";
  readonly entries = new Map<string, string>();
  readonly commits: string[] = [];
  private dirty = false;

  constructor(initial: Record<string, string> = {}) {
    for (const [k, v] of Object.entries(initial)) this.entries.set(k, v);
  }

  async list(prefix = ""): Promise<string[]> {
    const p = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
    return [...this.entries.keys()].filter((k) => k.startsWith(p)).sort();
  }

  async read(name: string): Promise<string> {
    const v = this.entries.get(validateName(name));
    if (v === undefined) throw new UserError(`${name} is not in the store`);
    return v;
  }

  async write(name: string, text: string): Promise<void> {
    this.entries.set(validateName(name), text);
    this.dirty = true;
  }

  async remove(name: string): Promise<void> {
    if (!this.entries.delete(validateName(name))) throw new UserError(`${name} is not in the store`);
    this.dirty = true;
  }

  async move(from: string, to: string): Promise<void> {
    const text = await this.read(from);
    if (this.entries.has(validateName(to))) throw new UserError(`${to} already exists`);
    this.entries.delete(from);
    this.entries.set(to, text);
    this.dirty = true;
  }

  async exists(name: string): Promise<boolean> {
    return this.entries.has(validateName(name));
  }

  async commit(message: string): Promise<void> {
    if (this.dirty) this.commits.push(message);
    this.dirty = false;
  }

  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }
}
