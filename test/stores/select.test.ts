import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UserError } from "../../src/core/errors.js";
import { findStore, openStore, openStoreRoot, storePrefix } from "../../src/stores/select.js";

let dir: string;
let home: string;

/** Creates a folder that looks like a store of this kind (or a bare folder). */
function makeDirOf(path: string, kind?: "pass" | "age"): string {
  mkdirSync(path, { recursive: true });
  if (kind === "pass") writeFileSync(join(path, ".gpg-id"), "ABCDEF\n");
  if (kind === "age") writeFileSync(join(path, ".age-recipients"), "age1xyz\n");
  return path;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sk-sel-"));
  home = join(dir, "home");
  mkdirSync(home);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

// Each case: the folders that exist, the environment and --store, and the expected pick.
type Case = {
  what: string;
  dirs: [string, "pass" | "age" | undefined][];
  env?: Record<string, string>;
  store?: string;
  want: { root: string; kind: "pass" | "age" } | RegExp;
};

const cases: Case[] = [
  {
    what: "--store with .gpg-id is pass",
    dirs: [["s", "pass"]],
    store: "$/s",
    want: { root: "$/s", kind: "pass" },
  },
  {
    what: "--store with .age-recipients is age",
    dirs: [["s", "age"]],
    store: "$/s",
    want: { root: "$/s", kind: "age" },
  },
  {
    what: "--store beats every other rule",
    dirs: [
      ["s", "age"],
      ["home/.password-store", "pass"],
    ],
    store: "$/s",
    want: { root: "$/s", kind: "age" },
  },
  {
    what: "SPAREKEY_STORE_DIR is rule 1 too",
    dirs: [
      ["s", "pass"],
      ["home/.passage/store", undefined],
    ],
    env: { SPAREKEY_STORE_DIR: "$/s" },
    want: { root: "$/s", kind: "pass" },
  },
  {
    what: "--store wins over SPAREKEY_STORE_DIR",
    dirs: [
      ["s", "pass"],
      ["t", "age"],
    ],
    env: { SPAREKEY_STORE_DIR: "$/s" },
    store: "$/t",
    want: { root: "$/t", kind: "age" },
  },
  {
    what: "--store on a bare folder is an error naming it",
    dirs: [["s", undefined]],
    store: "$/s",
    want: /s is not a store \(it holds neither .gpg-id nor .age-recipients\); run: sparekey init/,
  },
  {
    what: "--store on a missing folder",
    dirs: [],
    store: "$/nope",
    want: /nope is not a store \(it does not exist\)/,
  },
  {
    what: "PASSWORD_STORE_DIR with .gpg-id",
    dirs: [
      ["pw", "pass"],
      ["home/.passage/store", "age"],
    ],
    env: { PASSWORD_STORE_DIR: "$/pw" },
    want: { root: "$/pw", kind: "pass" },
  },
  {
    what: "~/.password-store with .gpg-id beats passage",
    dirs: [
      ["home/.password-store", "pass"],
      ["home/.passage/store", "age"],
    ],
    want: { root: "$/home/.password-store", kind: "pass" },
  },
  {
    what: "a password store without .gpg-id is passed over",
    dirs: [
      ["home/.password-store", undefined],
      ["home/.passage/store", undefined],
    ],
    want: { root: "$/home/.passage/store", kind: "age" },
  },
  {
    what: "PASSWORD_STORE_DIR replaces ~/.password-store (not a fallback)",
    dirs: [
      ["pw", undefined],
      ["home/.password-store", "pass"],
      ["home/.passage/store", "age"],
    ],
    env: { PASSWORD_STORE_DIR: "$/pw" },
    want: { root: "$/home/.passage/store", kind: "age" },
  },
  {
    what: "PASSAGE_DIR when it exists",
    dirs: [["pa", undefined]],
    env: { PASSAGE_DIR: "$/pa" },
    want: { root: "$/pa", kind: "age" },
  },
  {
    what: "nothing: says where it looked and to run init",
    dirs: [],
    want: /^no store found \(looked in ~\/\.password-store, ~\/\.passage\/store\); run: sparekey init$/,
  },
];

describe("store selection (DESIGN.md rules, in order)", () => {
  for (const c of cases) {
    it(c.what, () => {
      const sub = (s: string) => s.replace("$", dir);
      for (const [d, kind] of c.dirs) makeDirOf(join(dir, d), kind);
      const env = {
        HOME: home,
        ...Object.fromEntries(Object.entries(c.env ?? {}).map(([k, v]) => [k, sub(v)])),
      };
      const store = c.store ? sub(c.store) : undefined;
      if (c.want instanceof RegExp) {
        let err: unknown;
        try {
          findStore(env, store);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(UserError);
        expect((err as Error).message).toMatch(c.want);
      } else {
        const f = findStore(env, store);
        expect({ root: f.root, kind: f.kind }).toEqual({ root: sub(c.want.root), kind: c.want.kind });
        expect(f.store.kind).toBe(c.want.kind);
      }
    });
  }

  it("resolves a relative --store against cwd", () => {
    makeDirOf(join(dir, "rel"), "age");
    expect(findStore({ HOME: home }, "rel", { cwd: dir }).root).toBe(join(dir, "rel"));
  });

  it("scopes to SPAREKEY_PREFIX, 2fa by default, empty for the root", async () => {
    const root = makeDirOf(join(dir, "s"), "age");
    mkdirSync(join(root, "2fa/github"), { recursive: true });
    mkdirSync(join(root, "web"), { recursive: true });
    writeFileSync(join(root, "2fa/github/alice.age"), "");
    writeFileSync(join(root, "web/mail.age"), "");
    const scoped = await openStore({ HOME: home }, root);
    expect(await scoped.list()).toEqual(["github/alice"]);
    const all = await openStore({ HOME: home, SPAREKEY_PREFIX: "" }, root);
    expect(await all.list()).toEqual(["2fa/github/alice", "web/mail"]);
    const web = await openStore({ HOME: home, SPAREKEY_PREFIX: "/web/" }, root);
    expect(await web.list()).toEqual(["mail"]);
    const { store, kind } = await openStoreRoot({ HOME: home }, root);
    expect(kind).toBe("age");
    expect(await store.list()).toEqual(["2fa/github/alice", "web/mail"]);
    expect(store.location).toBe(root);
    expect(() => storePrefix({ SPAREKEY_PREFIX: "../x" })).toThrow(UserError);
  });

  it("shows locations under HOME with ~", async () => {
    makeDirOf(join(home, ".passage/store"));
    expect((await openStore({ HOME: home })).location).toBe("~/.passage/store");
  });
});
