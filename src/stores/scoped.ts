import type { Store } from "./store.js";

/**
 * A view of a store rooted at a folder (`2fa/` by default), so that commands speak in the names
 * users type ("github/alice") while files live at "2fa/github/alice".
 */
export function scopeStore(store: Store, prefix: string): Store {
  const p = prefix.replace(/^\/+|\/+$/g, "");
  if (p === "") return store;
  const full = (name: string): string => `${p}/${name}`;
  return {
    kind: store.kind,
    location: store.location,
    async list(sub = "") {
      const names = await store.list(sub === "" ? p : full(sub));
      return names.map((n) => n.slice(p.length + 1));
    },
    read: (name) => store.read(full(name)),
    write: (name, text) => store.write(full(name), text),
    remove: (name) => store.remove(full(name)),
    move: (from, to) => store.move(full(from), full(to)),
    exists: (name) => store.exists(full(name)),
    commit: (message) => store.commit(message),
    withLock: (fn) => store.withLock(fn),
    ...(store.readAll && {
      readAll: async (names: readonly string[]) => {
        const got = await store.readAll!(names.map(full));
        return new Map(names.map((n) => [n, got.get(full(n))!]));
      },
    }),
  };
}
