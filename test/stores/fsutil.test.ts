import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UserError } from "../../src/core/errors.js";
import {
  DirStore,
  LOCK_FILE,
  pidAlive,
  walkNames,
  withLockFile,
  writeAtomic,
} from "../../src/stores/fsutil.js";

/** A store whose "cipher" is a byte reversal, with a switch to corrupt the read-back. */
class FakeStore extends DirStore {
  readonly kind = "age" as const;
  corruptReadBack = false;
  failEncrypt = false;
  constructor(root: string) {
    super(root, { HOME: "/nonexistent" }, ".fake");
  }
  protected async encrypt(_name: string, text: string) {
    if (this.failEncrypt) throw new UserError("cannot encrypt: test");
    return new TextEncoder().encode([...text].reverse().join(""));
  }
  protected async decrypt(_name: string, bytes: Uint8Array) {
    const t = [...new TextDecoder().decode(bytes)].reverse().join("");
    return this.corruptReadBack ? `${t}!` : t;
  }
  protected async recipientsKey(name: string) {
    return name.startsWith("other/") ? "other" : "me";
  }
  protected isNotForUs() {
    return false;
  }
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" });
  return Number(r.stdout.trim());
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sk-fs-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("atomic write", () => {
  it("replaces the target and leaves no temp file", async () => {
    const t = join(dir, "x.age");
    await writeAtomic(t, new TextEncoder().encode("one"));
    await writeAtomic(t, new TextEncoder().encode("two"));
    expect(readFileSync(t, "utf8")).toBe("two");
    expect(readdirSync(dir)).toEqual(["x.age"]);
  });

  it("keeps the old entry when the read-back differs or encryption fails", async () => {
    const s = new FakeStore(dir);
    await s.write("a/b", "old");
    s.corruptReadBack = true;
    await expect(s.write("a/b", "new")).rejects.toThrow(/read back differs/);
    s.corruptReadBack = false;
    expect(await s.read("a/b")).toBe("old");
    s.failEncrypt = true;
    await expect(s.write("a/b", "new")).rejects.toThrow(/cannot encrypt/);
    s.failEncrypt = false;
    expect(await s.read("a/b")).toBe("old");
    expect(readdirSync(join(dir, "a"))).toEqual(["b.fake"]);
  });

  it("round-trips any text (property)", async () => {
    const s = new FakeStore(dir);
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "grapheme", maxLength: 200 }), async (text) => {
        await s.write("p/q", text);
        expect(await s.read("p/q")).toBe(text);
      }),
      { numRuns: 50 },
    );
  });

  it("refuses a name whose folder is a file, and a name that is a folder", async () => {
    const s = new FakeStore(dir);
    await s.write("a", "x");
    writeFileSync(join(dir, "file"), "");
    await expect(s.write("file/x", "y")).rejects.toThrow(/part of its folder is a file/);
    mkdirSync(join(dir, "folder.fake"));
    await expect(s.write("folder", "y")).rejects.toBeInstanceOf(UserError);
  });
});

describe("walk", () => {
  it("lists names without extension, skips dot entries and .git, cleans dead temp files", async () => {
    mkdirSync(join(dir, "2fa/github"), { recursive: true });
    mkdirSync(join(dir, ".git/objects"), { recursive: true });
    mkdirSync(join(dir, ".hidden"), { recursive: true });
    writeFileSync(join(dir, "2fa/github/alice.fake"), "");
    writeFileSync(join(dir, "2fa/github/notes.txt"), "");
    writeFileSync(join(dir, "2fa/top.fake"), "");
    writeFileSync(join(dir, ".git/objects/x.fake"), "");
    writeFileSync(join(dir, ".hidden/y.fake"), "");
    writeFileSync(join(dir, "2fa/.fake"), "");
    const dead = join(dir, `2fa/github/.alice.fake.tmp-${deadPid()}-abcd1234`);
    const live = join(dir, `2fa/github/.alice.fake.tmp-${process.pid}-abcd1234`);
    writeFileSync(dead, "");
    writeFileSync(live, "");
    expect(await walkNames(dir, "", ".fake")).toEqual(["2fa/github/alice", "2fa/top"]);
    expect(await walkNames(dir, "2fa/github", ".fake")).toEqual(["2fa/github/alice"]);
    expect(await walkNames(dir, "missing", ".fake")).toEqual([]);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });

  it("pidAlive", () => {
    expect(pidAlive(process.pid)).toBe(true);
    expect(pidAlive(deadPid())).toBe(false);
    expect(pidAlive(0)).toBe(false);
  });
});

describe("lock", () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it("keeps concurrent sections from interleaving (two store objects, and one)", async () => {
    const a = new FakeStore(dir);
    const b = new FakeStore(dir);
    const log: string[] = [];
    const section = (s: FakeStore, id: string) =>
      s.withLock(async () => {
        log.push(`start ${id}`);
        await sleep(30);
        log.push(`end ${id}`);
        return id;
      });
    const got = await Promise.all([section(a, "1"), section(b, "2"), section(a, "3"), section(b, "4")]);
    expect(got).toEqual(["1", "2", "3", "4"]);
    for (let i = 0; i < log.length; i += 2) {
      expect(log[i].replace("start", "end")).toBe(log[i + 1]);
    }
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it("lets a nested section through and releases on error", async () => {
    const s = new FakeStore(dir);
    const v = await s.withLock(() => s.withLock(async () => 42));
    expect(v).toBe(42);
    await expect(s.withLock(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it("keeps sections in different processes apart", async () => {
    const lock = join(dir, LOCK_FILE);
    const marks = join(dir, "marks");
    // A child process holds the lock for 400 ms through the same O_EXCL protocol.
    const p = spawn("sh", [
      "-c",
      `set -C; echo "$$ ${Date.now()} ${hostname()} x" > "${lock}" && echo child-start >> "${marks}" && sleep 0.4 && echo child-end >> "${marks}" && rm -f "${lock}"`,
    ]);
    const exited = new Promise((r) => p.on("exit", r));
    while (!existsSync(marks)) await sleep(5);
    await withLockFile(lock, async () => {
      writeFileSync(marks, "parent\n", { flag: "a" });
    });
    await exited;
    expect(readFileSync(marks, "utf8")).toBe("child-start\nchild-end\nparent\n");
  });

  it("takes over a lock whose process is dead, or that is older than 60 s", async () => {
    const lock = join(dir, LOCK_FILE);
    writeFileSync(lock, `${deadPid()} 0 ${hostname()} x\n`);
    const t0 = Date.now();
    expect(await withLockFile(lock, async () => "ok")).toBe("ok");
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(existsSync(lock)).toBe(false);

    writeFileSync(lock, `1 0 ${hostname()} x\n`);
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    expect(await withLockFile(lock, async () => "ok")).toBe("ok");
  });

  it("removes a stale lock that a killed taker had set aside, and keeps a live taker's", async () => {
    const lock = join(dir, LOCK_FILE);
    const dead = `${lock}.stale-${deadPid()}-0badc0de`;
    const live = `${lock}.stale-${process.pid}-0badc0de`;
    writeFileSync(dead, `${deadPid()} 0 ${hostname()} x\n`);
    writeFileSync(live, `${deadPid()} 0 ${hostname()} x\n`);
    expect(await withLockFile(lock, async () => "ok")).toBe("ok");
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });

  it("gives up on a live lock after the wait, with a message naming the file", async () => {
    const lock = join(dir, LOCK_FILE);
    writeFileSync(lock, `${process.ppid} ${Date.now()} ${hostname()} x\n`);
    const e = await withLockFile(lock, async () => "never", 300).catch((x) => x);
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(/the store is locked by process \d+/);
    expect(e.message).toContain(LOCK_FILE);
    expect(existsSync(lock)).toBe(true);
  });
});
