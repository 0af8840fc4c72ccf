// Races (issue 8): concurrent HOTP codes on one entry, concurrent adds, and locks left by killed
// processes, on both stores.
import { spawnSync } from "node:child_process";
import { utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeAccount } from "../../src/core/account.js";
import { codeAtCounter } from "../../src/core/otp.js";
import { ageStore, ensureBuilt, passStore, readStore, runTool, type StoreHome } from "./stores.js";

const SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const N = 20;

beforeAll(() => ensureBuilt(), 300_000);
const homes: StoreHome[] = [];
afterAll(() => {
  for (const h of homes) h.home.cleanup();
});

/** The pid of a process that has exited (what a lock left by a killed sparekey names). */
function deadPid(): number {
  const r = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" });
  return Number(r.stdout.trim());
}

describe.each(["age", "pass"] as const)("races on the %s store", (kind) => {
  let s: StoreHome;
  beforeAll(async () => {
    s = await (kind === "age" ? ageStore() : passStore());
    homes.push(s);
    const r = await s.run(["add", "race/hotp"], {
      input: `otpauth://hotp/Race:hotp?secret=${SECRET}&counter=0\n`,
    });
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);

  it(`${N} concurrent \`code\` on one HOTP entry: ${N} different codes, counter exactly ${N} higher`, async () => {
    const before = (await readStore(s)).get("2fa/race/hotp")!.entry.account!.counter;
    const runs = await Promise.all(Array.from({ length: N }, () => s.run(["code", "race/hotp"])));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const codes = runs.map((r) => r.stdout.trim());
    const account = makeAccount({ kind: "hotp", secret: SECRET, counter: 0 });
    const want = Array.from({ length: N }, (_, i) => codeAtCounter(account, before + 1 + i));
    // Each counter value was handed out exactly once (the codes of distinct counters differ here).
    expect([...codes].sort()).toEqual([...want].sort());
    expect(new Set(codes).size).toBe(N);
    expect((await readStore(s)).get("2fa/race/hotp")!.entry.account!.counter).toBe(before + N);
    const log = await runTool(s.home, "git", ["-C", s.root, "log", "--format=%s"]);
    expect(
      log.stdout.split("\n").filter((l) => l.startsWith("Increment HOTP counter")).length,
    ).toBeGreaterThanOrEqual(N);
  }, 120_000);

  it("concurrent adds of different names all land, each in its own commit", async () => {
    const M = 12;
    const secrets = Array.from({ length: M }, (_, i) => `JBSWY3DPEHPK3P${"ABCDEFGHIJKLMNOP"[i]}Q`);
    const runs = await Promise.all(
      secrets.map((sec, i) =>
        s.run(["add", `many/a${i}`], { input: `otpauth://totp/Many:a${i}?secret=${sec}\n` }),
      ),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const all = await readStore(s);
    for (const [i, sec] of secrets.entries())
      expect(all.get(`2fa/many/a${i}`)?.entry.account?.secret).toBe(sec);
    const log = await runTool(s.home, "git", ["-C", s.root, "log", "--format=%s"]);
    for (let i = 0; i < M; i++) expect(log.stdout).toContain(`Add 2FA key for many/a${i}.`);
    const status = await runTool(s.home, "git", ["-C", s.root, "status", "--porcelain"]);
    expect(status.stdout).toBe("");
  }, 120_000);

  it("a lock left by a killed process is taken over at once", async () => {
    const lock = join(s.root, ".sparekey.lock");
    const { hostname } = await import("node:os");
    writeFileSync(lock, `${deadPid()} ${Date.now()} ${hostname()} deadbeef\n`);
    const t0 = performance.now();
    const r = await s.run(["code", "race/hotp"]);
    expect(r.code, r.stderr).toBe(0);
    expect(performance.now() - t0).toBeLessThan(5_000);
  }, 60_000);

  it("an empty lock (killed between creating and writing it) is taken over within seconds", async () => {
    const lock = join(s.root, ".sparekey.lock");
    writeFileSync(lock, "");
    const t0 = performance.now();
    const r = await s.run(["code", "race/hotp"]);
    expect(r.code, r.stderr).toBe(0);
    expect(performance.now() - t0).toBeLessThan(5_000);
  }, 60_000);

  it("a lock not refreshed for over a minute is stale even if its pid is in use", async () => {
    const lock = join(s.root, ".sparekey.lock");
    writeFileSync(lock, `${process.pid} ${Date.now()} other-host deadbeef\n`);
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    const r = await s.run(["code", "race/hotp"]);
    expect(r.code, r.stderr).toBe(0);
  }, 60_000);

  it("git's index.lock left by a killed git is cleared by the next commit", async () => {
    writeFileSync(join(s.root, ".git", "index.lock"), "");
    const r = await s.run(["code", "race/hotp"]);
    expect(r.code, r.stderr).toBe(0);
    const status = await runTool(s.home, "git", ["-C", s.root, "status", "--porcelain"]);
    expect(status.stdout).toBe("");
  }, 60_000);
});
