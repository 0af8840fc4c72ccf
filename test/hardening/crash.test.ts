// Crash at any point (issue 8): SIGKILL `add`, `import`, `recovery use`, `code` (HOTP), `mirror
// sync` and team re-encryption at random moments, >= 200 kills in all. After every kill: each
// entry decrypts (with the reference tools) and parses, and is the old version or the new one;
// git fsck is clean; the next command works with no repair; no temp file or lock is left over.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeAccount } from "../../src/core/account.js";
import { encodeBase32 } from "../../src/core/base32.js";
import { codeAtCounter } from "../../src/core/otp.js";
import {
  ageStore,
  ensureBuilt,
  filesUnder,
  gitFsck,
  LEFTOVER,
  passStore,
  readStore,
  runAndKill,
  type StoreHome,
} from "./stores.js";

/** Kills per scenario; the total must reach 200. SPAREKEY_KILLS scales them (1 = the CI figure). */
const SCALE = Number(process.env.SPAREKEY_KILLS ?? 1);
const TARGET = {
  "add (age)": 35,
  "add (pass)": 15,
  import: 35,
  "recovery use": 30,
  "code HOTP (age)": 35,
  "code HOTP (pass)": 15,
  "mirror sync": 20,
  "team re-encryption": 20,
};
const kills: Record<string, { kills: number; runs: number; ms: number }> = {};

/** A deterministic PRNG, so that a failing sequence of delays can be replayed with KILL_SEED. */
let seed = Number(process.env.KILL_SEED ?? Date.now() % 2 ** 31);
function random(): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
}

/** A base32 secret unique to (scenario, i). */
function secretFor(tag: string, i: number): string {
  return encodeBase32(new TextEncoder().encode(`hardening:${tag}:${i}:`.padEnd(20, "#")));
}

/** The checks after every kill and after the next command. */
async function checkWhole(s: StoreHome) {
  const entries = await readStore(s);
  await gitFsck(s);
  return entries;
}

const GIT_LOCKS = ["index.lock", "HEAD.lock", "refs/heads/main.lock", "refs/heads/master.lock"];
let gitLocksRecovered = 0;

/**
 * No temp file or live lock is left once a command has run to the end. A git lock left by a
 * killed git may stay when the next command did not need git (nothing to commit); then the next
 * command that commits must clear it by itself: a probe (add + rm) checks that it does.
 */
async function checkNoLeftovers(s: StoreHome, extraDirs: string[] = []) {
  const left = filesUnder(s.root).filter((f) => LEFTOVER.test(f));
  // A lock left by a killed process may stay until the next command that takes the lock: it must
  // then be stale (its process dead), which that command detects at once (the HOTP runs show it).
  const lock = join(s.root, ".sparekey.lock");
  if (existsSync(lock)) {
    const pid = Number(readFileSync(lock, "utf8").split(/\s+/)[0]);
    // An empty lock (killed between creating and writing it) names no process: the next command
    // that takes the lock treats it as stale after 1 s. (kill(0) would signal our own group.)
    let alive = Number.isInteger(pid) && pid > 0;
    if (alive) {
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
    }
    if (alive) left.push(`.sparekey.lock (held by live process ${pid})`);
  }
  for (const d of extraDirs) for (const f of filesUnder(d)) if (LEFTOVER.test(f)) left.push(join(d, f));
  expect(left, "left over after the next command").toEqual([]);
  if (GIT_LOCKS.some((l) => existsSync(join(s.root, ".git", l)))) {
    gitLocksRecovered++;
    const probe = `zz-probe/p${gitLocksRecovered}`;
    const a = await s.run(["add", probe], {
      input: `otpauth://totp/P:p?secret=${secretFor("probe", gitLocksRecovered)}\n`,
    });
    expect(a.code, `a committing command after a left-over git lock: ${a.stderr}`).toBe(0);
    const r = await s.run(["rm", probe]);
    expect(r.code, r.stderr).toBe(0);
    expect(GIT_LOCKS.filter((l) => existsSync(join(s.root, ".git", l)))).toEqual([]);
  }
}

/**
 * Runs one scenario: `prepare(i)` sets up iteration i (not killed), `args(i)` is the command that
 * is killed after a random delay within its normal duration, `afterKill` checks the store right
 * after the kill, `next` runs the next command and checks the result. Loops until the target
 * number of real kills (SIGKILL before the process finished) is reached.
 */
async function scenario(
  label: keyof typeof TARGET,
  s: StoreHome,
  steps: {
    prepare?: (i: number) => Promise<void> | void;
    command: (i: number) => { args: string[]; input?: string; env?: Record<string, string> };
    afterKill: (i: number, killed: boolean) => Promise<void>;
    next: (i: number) => Promise<void>;
    extraDirs?: string[];
  },
) {
  const target = Math.ceil(TARGET[label] * SCALE);
  const t0 = performance.now();
  kills[label] = { kills: 0, runs: 0, ms: 0 };
  // The normal duration, to spread the kills over the whole run.
  await steps.prepare?.(0);
  const c0 = steps.command(0);
  const full = await runAndKill(s, c0.args, 60_000, { input: c0.input, env: c0.env });
  expect(full.code, full.stderr).toBe(0);
  await steps.afterKill(0, false);
  await steps.next(0);
  // Kill within the normal duration of a run (kept up to date from the runs that finished).
  let span = Math.max(30, full.ms);
  for (let i = 1; kills[label].kills < target && i <= target * 4; i++) {
    await steps.prepare?.(i);
    const c = steps.command(i);
    const delay = random() * span;
    const r = await runAndKill(s, c.args, delay, { input: c.input, env: c.env, group: random() < 0.7 });
    kills[label].runs++;
    if (r.killed) kills[label].kills++;
    else {
      expect(r.code, `${label} #${i} not killed: ${r.stderr}`).toBe(0);
      span = Math.max(30, (span + r.ms) / 2);
    }
    try {
      await steps.afterKill(i, r.killed);
      await steps.next(i);
      await checkNoLeftovers(s, steps.extraDirs);
    } catch (e) {
      (e as Error).message =
        `${label} #${i} (killed after ${Math.round(delay)} ms, seed ${process.env.KILL_SEED ?? "random"}): ${(e as Error).message}`;
      throw e;
    }
  }
  kills[label].ms = Math.round(performance.now() - t0);
  expect(kills[label].kills, `${label}: kills`).toBeGreaterThanOrEqual(target);
}

beforeAll(() => ensureBuilt(), 300_000);

const homes: StoreHome[] = [];
afterAll(() => {
  for (const h of homes) h.home.cleanup();
  const total = Object.values(kills).reduce((n, k) => n + k.kills, 0);
  console.log(`kills: ${JSON.stringify(kills)} total ${total}; git locks recovered: ${gitLocksRecovered}`);
  // Every scenario checks its own target; together they make the issue's 200.
  if (SCALE >= 1 && Object.keys(kills).length === Object.keys(TARGET).length)
    expect(total).toBeGreaterThanOrEqual(200);
});

function track(s: StoreHome): StoreHome {
  homes.push(s);
  return s;
}

// The scenarios use separate stores and mostly wait on processes: run them side by side.
describe.concurrent("crash at any point: SIGKILL at random moments", { timeout: 280_000 }, () => {
  for (const kind of ["age", "pass"] as const) {
    it(`add (${kind})`, async () => {
      const s = track(await (kind === "age" ? ageStore() : passStore()));
      const uri = (i: number) => `otpauth://totp/Crash:add${i}?secret=${secretFor("add", i)}&issuer=Crash\n`;
      let before = new Map<string, string>();
      await scenario(`add (${kind})`, s, {
        command: (i) => ({ args: ["add", `k/a${i}`], input: uri(i) }),
        afterKill: async (i) => {
          const now = await checkWhole(s);
          // Every entry there before is unchanged; the new one is absent or whole.
          for (const [n, t] of before) expect(now.get(n)?.text, n).toBe(t);
          const mine = now.get(`2fa/k/a${i}`);
          if (mine) expect(mine.entry.account?.secret).toBe(secretFor("add", i));
        },
        next: async (i) => {
          const r = await s.run(["add", `k/a${i}`], { input: uri(i) });
          if (r.code !== 0) expect(r.stderr).toMatch(/already exists/);
          const now = await checkWhole(s);
          expect(now.get(`2fa/k/a${i}`)?.entry.account?.secret).toBe(secretFor("add", i));
          expect((await s.run(["list"])).stdout).toContain(`k/a${i}\n`);
          before = new Map([...now].map(([n, e]) => [n, e.text]));
        },
      });
    });
  }

  it("import", async () => {
    const s = track(await ageStore());
    const { writeFileSync } = await import("node:fs");
    const file = (i: number) => join(s.home.dir, `import-${i}.txt`);
    const names = (i: number) => [0, 1, 2].map((j) => `imp${i}/acct${j}`);
    await scenario("import", s, {
      prepare: (i) =>
        writeFileSync(
          file(i),
          [0, 1, 2]
            .map((j) => `otpauth://totp/Imp${i}:acct${j}?secret=${secretFor(`imp${i}`, j)}&issuer=Imp${i}`)
            .join("\n"),
        ),
      command: (i) => ({ args: ["import", file(i), "--yes"] }),
      afterKill: async (i) => {
        const now = await checkWhole(s);
        names(i).forEach((n, j) => {
          const e = now.get(`2fa/${n}`);
          if (e) expect(e.entry.account?.secret).toBe(secretFor(`imp${i}`, j));
        });
      },
      next: async (i) => {
        const r = await s.run(["import", file(i), "--yes"]);
        expect(r.code, r.stderr).toBe(0);
        const now = await checkWhole(s);
        names(i).forEach((n, j) => {
          expect(now.get(`2fa/${n}`)?.entry.account?.secret, n).toBe(secretFor(`imp${i}`, j));
        });
        expect(now.size).toBe(3 * (i + 1));
      },
    });
  });

  it("recovery use", async () => {
    const s = track(await ageStore());
    const codes = Array.from({ length: 150 }, (_, i) => `${String(1000 + i)}-${String(9000 - i)}`);
    const added = await s.run(["add", "bank/me"], {
      input: `otpauth://totp/Bank:me?secret=${secretFor("rec", 0)}\n`,
    });
    expect(added.code, added.stderr).toBe(0);
    expect((await s.run(["recovery", "add", "bank/me"], { input: codes.join("\n") })).code).toBe(0);
    await scenario("recovery use", s, {
      command: (i) => ({ args: ["recovery", "use", "bank/me", codes[i]] }),
      afterKill: async (i) => {
        const e = (await checkWhole(s)).get("2fa/bank/me")!.entry;
        expect(e.recovery.map((r) => r.code)).toEqual(codes);
        // Codes before i are used, codes after i are not; code i is either.
        e.recovery.forEach((r, j) => {
          if (j < i) expect(r.used, `code ${j}`).toBeTruthy();
          if (j > i) expect(r.used, `code ${j}`).toBeUndefined();
        });
      },
      next: async (i) => {
        const r = await s.run(["recovery", "use", "bank/me", codes[i]]);
        if (r.code !== 0) expect(r.stderr).toMatch(/already used/);
        const e = (await checkWhole(s)).get("2fa/bank/me")!.entry;
        expect(e.recovery[i].used).toBeTruthy();
      },
    });
  });

  for (const kind of ["age", "pass"] as const) {
    it(`code HOTP (${kind})`, async () => {
      const s = track(await (kind === "age" ? ageStore() : passStore()));
      const secret = secretFor("hotp", kind === "age" ? 1 : 2);
      const account = makeAccount({ kind: "hotp", secret, issuer: "Crash", account: "hotp", counter: 0 });
      const added = await s.run(["add", "c/hotp"], {
        input: `otpauth://hotp/Crash:hotp?secret=${secret}&counter=0\n`,
      });
      expect(added.code, added.stderr).toBe(0);
      let counter = 0;
      await scenario(`code HOTP (${kind})`, s, {
        command: () => ({ args: ["code", "c/hotp"] }),
        afterKill: async () => {
          const got = (await checkWhole(s)).get("2fa/c/hotp")!.entry.account!.counter;
          // The counter moved by one at most: the old entry or the new one.
          expect([counter, counter + 1]).toContain(got);
          counter = got;
        },
        next: async () => {
          const r = await s.run(["code", "c/hotp"]);
          expect(r.code, r.stderr).toBe(0);
          expect(r.stdout).toBe(`${codeAtCounter(account, counter + 1)}\n`);
          counter++;
          expect((await checkWhole(s)).get("2fa/c/hotp")!.entry.account!.counter).toBe(counter);
        },
      });
    });
  }

  it("mirror sync", async () => {
    const s = track(await ageStore());
    const mirror = join(s.home.env.HOME, "mirror", "second-copy.json");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(join(s.home.env.HOME, "mirror"), { recursive: true });
    expect((await s.run(["mirror", "add", "bitwarden", mirror])).code).toBe(0);
    const secrets = (): string[] => {
      if (!existsSync(mirror)) return [];
      const data = JSON.parse(readFileSync(mirror, "utf8")) as { items: { login?: { totp?: string } }[] };
      return data.items.map((x) => /secret=([A-Z2-7]+)/.exec(x.login?.totp ?? "")?.[1] ?? "?").sort();
    };
    let n = 0;
    await scenario("mirror sync", s, {
      // Each round adds one account, so the new mirror differs from the old one.
      prepare: async (i) => {
        const r = await s.run(["add", `m/a${i}`], {
          input: `otpauth://totp/M:a${i}?secret=${secretFor("mir", i)}\n`,
        });
        expect(r.code, r.stderr).toBe(0);
        n = i + 1;
      },
      command: () => ({ args: ["mirror", "sync"] }),
      afterKill: async () => {
        await checkWhole(s);
        // The mirror file is the old one (n - 1 accounts) or the new one (n), never torn.
        const got = secrets();
        const want = Array.from({ length: n }, (_, j) => secretFor("mir", j)).sort();
        if (got.length !== n) expect(got).toEqual(want.filter((x) => x !== secretFor("mir", n - 1)));
        else expect(got).toEqual(want);
      },
      next: async () => {
        const r = await s.run(["mirror", "sync"]);
        expect(r.code, r.stderr).toBe(0);
        expect(secrets().length).toBe(n);
        await checkWhole(s);
      },
      extraDirs: [join(s.home.env.HOME, "mirror")],
    });
  });

  it("team re-encryption", async () => {
    const s = track(await ageStore());
    const { execFileSync } = await import("node:child_process");
    const mine = readFileSync(join(s.root, ".age-recipients"), "utf8")
      .split("\n")
      .find((l) => l.startsWith("age1"))!;
    const other = execFileSync("age-keygen", { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      .split("\n")
      .find((l) => l.startsWith("# public key: "))!
      .slice(14);
    for (let j = 0; j < 6; j++) {
      const r = await s.run(["add", `team/t${j}`], {
        input: `otpauth://totp/T:t${j}?secret=${secretFor("team", j)}\n`,
      });
      expect(r.code, r.stderr).toBe(0);
    }
    /** The number of X25519 stanzas in each team entry: how many recipients it is encrypted to. */
    const stanzas = () =>
      filesUnder(join(s.root, "2fa/team"))
        .filter((f) => f.endsWith(".age"))
        .map(
          (f) => (readFileSync(join(s.root, "2fa/team", f), "latin1").match(/^-> X25519 /gm) ?? []).length,
        );
    // Alternate between {mine} and {mine, other}: our identity always opens every entry.
    const sets = (i: number) => (i % 2 === 0 ? [mine, other] : [mine]);
    await scenario("team re-encryption", s, {
      command: (i) => ({ args: ["init", ...sets(i).flatMap((r) => ["--age", r]), "--path", "team"] }),
      afterKill: async () => {
        const now = await checkWhole(s);
        for (let j = 0; j < 6; j++)
          expect(now.get(`2fa/team/t${j}`)?.entry.account?.secret).toBe(secretFor("team", j));
      },
      next: async (i) => {
        const r = await s.run(["init", ...sets(i).flatMap((x) => ["--age", x]), "--path", "team"]);
        expect(r.code, r.stderr).toBe(0);
        expect(stanzas()).toEqual(Array(6).fill(sets(i).length));
        await checkWhole(s);
      },
    });
  });
});
