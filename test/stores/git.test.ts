import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgeStore } from "../../src/stores/age.js";
import { typageCrypto } from "../../src/stores/age-typage.js";
import { GITIGNORE } from "../../src/stores/fsutil.js";
import { commitPaths, identityArgs } from "../../src/stores/git.js";
import { scopeStore } from "../../src/stores/scoped.js";
import { hasTool } from "../e2e/harness.js";

const run = hasTool("git") || process.env.CI ? describe : describe.skip;

let dir: string;
let root: string;
let env: Record<string, string>;

function git(...args: string[]): string {
  const r = spawnSync("git", ["-C", root, ...args], { env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

async function makeStore(): Promise<AgeStore> {
  const { identity, recipient } = await typageCrypto.generateIdentity();
  writeFileSync(join(dir, "ids"), `${identity}\n`, { mode: 0o600 });
  writeFileSync(join(root, ".age-recipients"), `${recipient}\n`);
  return new AgeStore(root, { env, crypto: async () => typageCrypto, identitiesFile: join(dir, "ids") });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sk-git-"));
  root = join(dir, "store");
  spawnSync("mkdir", ["-m", "700", root]);
  env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: join(dir, "home"),
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "Test",
    GIT_AUTHOR_EMAIL: "test@example.com",
    GIT_COMMITTER_NAME: "Test",
    GIT_COMMITTER_EMAIL: "test@example.com",
  };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

run("git commits", () => {
  it("commits each change with its sentence, exactly the changed paths", async () => {
    const store = scopeStore(await makeStore(), "2fa");
    git("init", "-q");
    writeFileSync(join(root, ".gitignore"), GITIGNORE);
    git("add", "-A");
    git("commit", "-q", "-m", "init");
    // The user's own unrelated work, staged and unstaged, must stay out of our commits.
    writeFileSync(join(root, "notes.txt"), "mine");
    git("add", "notes.txt");
    writeFileSync(join(root, "scratch.txt"), "mine too");

    await store.write("github/alice", "a");
    await store.write("gitlab/bob", "b");
    await store.commit("Add 2FA keys for github/alice and gitlab/bob.");
    expect(git("log", "-1", "--format=%s")).toBe("Add 2FA keys for github/alice and gitlab/bob.\n");
    expect(git("show", "--name-status", "--format=", "HEAD").trim().split("\n").sort()).toEqual([
      "A\t2fa/github/alice.age",
      "A\t2fa/gitlab/bob.age",
    ]);
    expect(git("status", "--porcelain")).toBe("A  notes.txt\n?? scratch.txt\n");

    await store.move("github/alice", "github/alice2");
    await store.commit("Rename 2FA key github/alice to github/alice2.");
    expect(git("show", "--name-status", "--format=", "-M", "HEAD").trim()).toMatch(
      /^R100\t2fa\/github\/alice\.age\t2fa\/github\/alice2\.age$/,
    );

    await store.remove("gitlab/bob");
    await store.commit("Remove 2FA key gitlab/bob.");
    expect(git("show", "--name-status", "--format=", "HEAD").trim()).toBe("D\t2fa/gitlab/bob.age");

    const before = git("rev-parse", "HEAD");
    await store.commit("Nothing changed.");
    // Written then removed before a commit: nothing for git to see.
    await store.write("tmp/x", "x");
    await store.remove("tmp/x");
    await store.commit("Nothing either.");
    expect(git("rev-parse", "HEAD")).toBe(before);
    expect(git("log", "--format=%an <%ae>", "-1")).toBe("Test <test@example.com>\n");
  });

  it("never commits the lock file or temp files", async () => {
    const store = await makeStore();
    git("init", "-q");
    writeFileSync(join(root, ".gitignore"), GITIGNORE);
    await store.withLock(async () => {
      await store.write("x", "1");
      writeFileSync(join(root, ".x.age.tmp-1-abcd"), "junk");
      await store.commit("Add x.");
    });
    const files = git("ls-tree", "-r", "--name-only", "HEAD").trim().split("\n");
    expect(files).toEqual(["x.age"]);
    expect(git("status", "--porcelain", "--ignored")).toContain("!! .x.age.tmp-1-abcd");
  });

  it("does nothing outside a repository", async () => {
    const store = await makeStore();
    await store.write("x", "1");
    await expect(store.commit("Add x.")).resolves.toBeUndefined();
  });

  it("falls back to a sparekey identity only when git has none", async () => {
    const store = await makeStore();
    const bare: Record<string, string> = {
      PATH: env.PATH,
      HOME: join(dir, "home"),
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
    };
    env = bare;
    git("init", "-q");
    expect(await identityArgs(root, bare)).toEqual([
      "-c",
      "user.email=sparekey@localhost",
      "-c",
      "user.name=sparekey",
    ]);
    await store.write("x", "1");
    await commitPaths(root, ["x.age"], "Add x.", bare);
    expect(git("log", "-1", "--format=%an <%ae> %s")).toBe("sparekey <sparekey@localhost> Add x.\n");
    git("config", "user.email", "me@example.com");
    git("config", "user.name", "Me");
    expect(await identityArgs(root, bare)).toEqual([]);
  });
  it("treats paths a killed git already committed (its index.lock never renamed) as done", async () => {
    const store = await makeStore();
    git("init", "-q");
    await store.write("a", "1");
    await commitPaths(root, ["a.age"], "Add a.", env);
    await store.write("b", "2");
    await commitPaths(root, ["b.age"], "Add b.", env);
    // The commit landed, but the index on disk is the one from before it.
    git("read-tree", "HEAD~1");
    const head = git("rev-parse", "HEAD");
    await commitPaths(root, ["b.age"], "Add b.", env);
    expect(git("rev-parse", "HEAD")).toBe(head);
    expect(git("status", "--porcelain")).not.toMatch(/b\.age/);
  });
});
