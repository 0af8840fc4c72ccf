// Speed regression guard for `sparekey code` (issue 7). Absolute times mean nothing on a shared
// CI runner, so it compares CPU time (user + sys of the children, from bash's `times`, which a
// busy machine disturbs far less than wall time) against commands measured in the same run:
// - the Bun binary's `code` on an age store against `age -d` of the same entry;
// - Node's `code` against a bare `node -e 0`, as the excess over Node's own start-up.
// A ratio more than `factor` times the one in baseline.json fails. It also checks, exactly, that
// no heavy library is statically reachable from `code` in the Node bundle.
// Re-record the baseline with: SPAREKEY_PERF_RECORD=1 npx vitest run test/perf/guard.test.ts
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, hasTool, ROOT } from "../e2e/harness.js";

const BASELINE = join(ROOT, "test/perf/baseline.json");
const RECORD = process.env.SPAREKEY_PERF_RECORD === "1";
const ROUNDS = 5;
// Heavy modules that must never load on `code`'s path (DESIGN.md, COMMON.md "Speed").
const HEAVY = [
  "pdfkit",
  "qrcode",
  "kdbxweb",
  "zxing-wasm",
  "hash-wasm",
  "libsodium",
  "age-encryption",
  "csv-parse",
  "fflate",
  "@bufbuild",
  "@noble/post-quantum",
  "@noble/curves",
];
// The esbuild chunks `code` reaches dynamically: the command, the store selection, the age code.
const CODE_PATH_DYNAMIC = ["code-", "select-", "age-native-"];

interface Baseline {
  bunCodeOverAgeDecrypt: number;
  nodeCodeExcessOverBareNode: number;
  codePathBytes: number;
  factor: number;
  recorded: string;
}

interface Cmd {
  argv: string[];
  env: Record<string, string>;
}

/** CPU milliseconds per run of `argv`, over `k` runs in one bash loop. */
function cpuPerRun(c: Cmd, k: number): number {
  const script = 'for ((i=0;i<K;i++)); do "$@" >/dev/null 2>&1 || exit 97; done; times';
  const r = spawnSync("bash", ["-c", script, "bash", ...c.argv], {
    env: { ...c.env, K: String(k) },
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`${c.argv.join(" ")} failed (${r.status}): ${r.stderr}`);
  const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s\s*$/.exec(r.stdout.trim());
  if (!m) throw new Error(`cannot parse bash times output: ${r.stdout}`);
  const seconds = Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
  return (seconds * 1000) / k;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Medians of per-run CPU time for several commands, measured in interleaved rounds. */
function measure(cmds: Record<string, { cmd: Cmd; k: number }>): Record<string, number> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cmds).map((n) => [n, []]));
  for (const name of Object.keys(cmds)) cpuPerRun(cmds[name].cmd, 1); // warm caches
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, { cmd, k }] of Object.entries(cmds)) samples[name].push(cpuPerRun(cmd, k));
  }
  return Object.fromEntries(Object.entries(samples).map(([n, xs]) => [n, median(xs)]));
}

/** The Node bundle's files that `code` loads: run.js's static imports plus the code-path chunks. */
function codePathChunks(): Map<string, string> {
  const dir = join(ROOT, "dist/node");
  const seen = new Map<string, string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    const text = readFileSync(join(dir, file), "utf8");
    seen.set(file, text);
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*"\.\/([^"]+)"/g)) walk(m[1]);
    for (const m of text.matchAll(/(?:^|\n)import\s*"\.\/([^"]+)"/g)) walk(m[1]);
    for (const m of text.matchAll(/import\("\.\/([^"]+)"\)/g)) {
      if (CODE_PATH_DYNAMIC.some((p) => m[1].startsWith(p))) walk(m[1]);
    }
  };
  walk("run.js");
  return seen;
}

const hasAge = hasTool("age") && hasTool("age-keygen");
const maybe = hasAge || process.env.CI ? describe : describe.skip;

maybe("speed guard for sparekey code", () => {
  let dir: string;
  let baseline: Baseline | undefined;
  let env: Record<string, string>;
  let entry: string;
  let ids: string;

  beforeAll(() => {
    if (!existsSync(join(ROOT, "dist/node/run.js"))) {
      const b = spawnSync("node", [join(ROOT, "scripts/build.mjs")], { stdio: "inherit" });
      if (b.status !== 0) throw new Error("build failed");
    }
    baseline = existsSync(BASELINE) ? (JSON.parse(readFileSync(BASELINE, "utf8")) as Baseline) : undefined;
    dir = mkdtempSync(join(tmpdir(), "sk-perf-"));
    const store = join(dir, "store");
    mkdirSync(join(store, "2fa/github"), { recursive: true });
    ids = join(dir, "identities");
    spawnSync("age-keygen", ["-o", ids]);
    const recipient = spawnSync("age-keygen", ["-y", ids], { encoding: "utf8" }).stdout.trim();
    writeFileSync(join(store, ".age-recipients"), `${recipient}\n`);
    entry = join(store, "2fa/github/alice.age");
    spawnSync("age", ["-r", recipient, "-o", entry], {
      input: "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub\nrecovery: 7xk2-9fqa\n",
    });
    env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dir,
      LANG: "C.UTF-8",
      SPAREKEY_STORE_DIR: store,
      PASSAGE_IDENTITIES_FILE: ids,
    };
    const r = spawnSync(BIN, ["code", "github/alice"], { env, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^\d{6}\n$/);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("loads no heavy library on the way to a code (Node bundle)", () => {
    const chunks = codePathChunks();
    const bytes = [...chunks.values()].reduce((n, t) => n + t.length, 0);
    for (const [file, text] of chunks) {
      for (const lib of HEAVY)
        expect(text.includes(`// node_modules/${lib}`), `${lib} in ${file}`).toBe(false);
    }
    expect([...chunks.keys()].some((f) => f.startsWith("age-native-"))).toBe(true);
    if (RECORD) {
      baseline = { ...(baseline ?? ({} as Baseline)), codePathBytes: bytes };
    } else if (baseline) {
      expect(bytes, "bytes of JS on the code path (Node bundle)").toBeLessThan(baseline.codePathBytes * 3);
    }
  });

  it("keeps the CPU cost of one code within the recorded ratios", () => {
    const bun = existsSync(join(ROOT, "dist/sparekey-bin"));
    const cmds: Record<string, { cmd: Cmd; k: number }> = {
      ageCli: { cmd: { argv: ["age", "-d", "-i", ids, entry], env }, k: 10 },
      nodeCode: {
        cmd: { argv: [BIN, "code", "github/alice"], env: { ...env, SPAREKEY_RUNTIME: "node" } },
        k: 2,
      },
      nodeBare: { cmd: { argv: ["node", "-e", "0"], env }, k: 2 },
    };
    if (bun) cmds.bunCode = { cmd: { argv: [BIN, "code", "github/alice"], env }, k: 6 };
    const t = measure(cmds);
    const got = {
      bunCodeOverAgeDecrypt: bun ? t.bunCode / t.ageCli : Number.NaN,
      nodeCodeExcessOverBareNode: (t.nodeCode - t.nodeBare) / t.nodeBare,
    };
    const shown = Object.entries(t)
      .map(([k, v]) => `${k} ${v.toFixed(1)} ms`)
      .join(", ");
    console.log(`perf guard: CPU per run: ${shown}; ratios ${JSON.stringify(got)}`);
    if (RECORD) {
      writeFileSync(
        BASELINE,
        `${JSON.stringify(
          {
            ...baseline,
            ...got,
            factor: baseline?.factor ?? 3,
            recorded: `${new Date().toISOString().slice(0, 10)}, ${cpus().length}x ${cpus()[0]?.model.trim()}; CPU ms: ${shown}`,
          },
          null,
          2,
        )}\n`,
      );
      return;
    }
    expect(
      baseline,
      "test/perf/baseline.json is missing; record it (see the top of this file)",
    ).toBeDefined();
    const b = baseline!;
    if (bun) expect(got.bunCodeOverAgeDecrypt).toBeLessThan(b.bunCodeOverAgeDecrypt * b.factor);
    expect(got.nodeCodeExcessOverBareNode).toBeLessThan(b.nodeCodeExcessOverBareNode * b.factor);
  });
});

// The CPU ratios above catch big regressions only (typage instead of the native age code costs
// the Bun binary 1.75x, less than the factor): check the choice itself exactly.
it("uses the native age implementation unless SPAREKEY_AGE_IMPL=typage", async () => {
  const { defaultAgeCrypto } = await import("../../src/stores/select.js");
  const { ageNative } = await import("../../src/stores/age-native.js");
  const { typageCrypto } = await import("../../src/stores/age-typage.js");
  const saved = process.env.SPAREKEY_AGE_IMPL;
  try {
    delete process.env.SPAREKEY_AGE_IMPL;
    expect(await defaultAgeCrypto()).toBe(ageNative);
    process.env.SPAREKEY_AGE_IMPL = "typage";
    expect(await defaultAgeCrypto()).toBe(typageCrypto);
  } finally {
    if (saved === undefined) delete process.env.SPAREKEY_AGE_IMPL;
    else process.env.SPAREKEY_AGE_IMPL = saved;
  }
});

// A sanity check of the measuring itself, so a broken `times` parse cannot pass silently.
it("measures CPU time with bash", () => {
  const ms = cpuPerRun(
    {
      argv: ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    },
    2,
  );
  expect(ms).toBeGreaterThan(1);
  expect(statSync(join(ROOT, "test/perf")).isDirectory()).toBe(true);
});
