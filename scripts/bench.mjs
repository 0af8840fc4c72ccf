// npm run bench: the speed targets of issue 7, measured side by side against the real tools.
// Builds a gpg key, a 200-entry pass store (pass insert) and the same 200 entries in an age store
// (sparekey add) in a temporary directory, then times each row as alternating A/B pairs (the
// order flips every pair) and reports the median of the pair ratios, which stays meaningful on a
// busy machine where absolute times do not.
//
// Options: --pairs N (short rows, default 30), --heavy-pairs N (loops and imports, default 3),
// --quick (10 and 2), --bin PATH (default: bin/sparekey, snapshotted so a concurrent rebuild of
// dist/ cannot disturb the run), --keep (leave the temp dir), --readme (also write the table into
// README.md between the BENCH markers).
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: opt } = parseArgs({
  options: {
    pairs: { type: "string" },
    "heavy-pairs": { type: "string" },
    quick: { type: "boolean" },
    bin: { type: "string" },
    keep: { type: "boolean" },
    readme: { type: "boolean" },
  },
});
const PAIRS = Number(opt.pairs ?? (opt.quick ? 10 : 30));
const HEAVY = Number(opt["heavy-pairs"] ?? (opt.quick ? 2 : 3));
const N = 200;
const GOOGLE_SHOT = join(ROOT, "../shared/fixtures/more-exports/qr/GoogleAuthenticator_ScreenshotBigQR.jpeg");

// ----------------------------------------------------------------------------------- helpers

const log = (s) => process.stderr.write(`${s}\n`);

function tool(name) {
  return spawnSync("sh", ["-c", `command -v ${name}`]).status === 0;
}

function must(cmd, args, env, input) {
  const r = spawnSync(cmd, args, { env, input: input ?? "", encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Runs async jobs with bounded concurrency (store set-up only; nothing here is timed). */
async function pool(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

function spawnAsync(cmd, args, env, input) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    p.stderr.on("data", (d) => {
      err += d;
    });
    p.on("error", reject);
    p.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} failed (${code}): ${err}`)),
    );
    p.stdin.end(input ?? "");
  });
}

/** Wall time of one run in ms; a non-zero exit fails the benchmark (a broken A is not fast). */
function timeOnce(c) {
  c.before?.();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(c.cmd, c.args, { env: c.env, input: c.input ?? "", stdio: ["pipe", "ignore", "pipe"] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${c.cmd} ${c.args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Alternating A/B pairs (A B, B A, A B, ...), after one warm-up run of each. */
function pairs(a, b, n) {
  timeOnce(a);
  timeOnce(b);
  const ta = [];
  const tb = [];
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      ta.push(timeOnce(a));
      tb.push(timeOnce(b));
    } else {
      tb.push(timeOnce(b));
      ta.push(timeOnce(a));
    }
  }
  return { a: median(ta), b: median(tb), ratio: median(ta.map((x, i) => x / tb[i])), n };
}

/** Whether a sparekey command line exists yet (a usage error about it means: not built). */
function available(c) {
  c.before?.();
  const r = spawnSync(c.cmd, c.args, { env: c.env, input: c.input ?? "", encoding: "utf8" });
  if (r.status === 2 && /unknown (command|option)/i.test(r.stderr)) return false;
  if (r.status !== 0) throw new Error(`${c.cmd} ${c.args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return true;
}

/** Peak resident memory in MB of one run: GNU time when present, else /proc polling. */
async function peakMB(c) {
  if (existsSync("/usr/bin/time")) {
    const r = spawnSync("/usr/bin/time", ["-f", "%M", c.cmd, ...c.args], { env: c.env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`peak memory run failed: ${r.stderr}`);
    return Number(r.stderr.trim().split("\n").pop()) / 1024;
  }
  // VmHWM vanishes once the process is a zombie, so poll tightly and keep the last value seen.
  const p = spawn(c.cmd, c.args, { env: c.env, stdio: "ignore" });
  let kb = 0;
  const read = () => {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, "utf8"));
      if (m) kb = Math.max(kb, Number(m[1]));
    } catch {}
  };
  const t = setInterval(read, 1);
  await new Promise((r) => p.on("exit", r));
  clearInterval(t);
  return kb / 1024;
}

// ----------------------------------------------------------------------------------- set-up

const work = mkdtempSync(join(tmpdir(), "sk-bench-"));
const cleanup = () => {
  spawnSync("gpgconf", ["--kill", "gpg-agent"], { env: baseEnv });
  if (!opt.keep) rmSync(work, { recursive: true, force: true });
};

// Snapshot the build: other work may rebuild dist/ while the benchmark runs.
let BIN = opt.bin;
if (!BIN) {
  if (!existsSync(join(ROOT, "dist/node/run.js")))
    must("node", [join(ROOT, "scripts/build.mjs")], process.env);
  const inst = join(work, "inst");
  mkdirSync(inst);
  cpSync(join(ROOT, "bin"), join(inst, "bin"), { recursive: true });
  cpSync(join(ROOT, "dist"), join(inst, "dist"), { recursive: true });
  cpSync(join(ROOT, "package.json"), join(inst, "package.json"));
  symlinkSync(join(ROOT, "node_modules"), join(inst, "node_modules"));
  BIN = join(inst, "bin/sparekey");
}
const hasBunBinary = existsSync(join(dirname(BIN), "../dist/sparekey-bin"));

const home = join(work, "home");
const gnupg = join(work, "gnupg");
mkdirSync(home);
mkdirSync(gnupg, { mode: 0o700 });
chmodSync(gnupg, 0o700);
const baseEnv = {
  PATH: process.env.PATH,
  HOME: home,
  GNUPGHOME: gnupg,
  LANG: "C.UTF-8",
  GIT_AUTHOR_NAME: "Bench",
  GIT_AUTHOR_EMAIL: "bench@example.com",
  GIT_COMMITTER_NAME: "Bench",
  GIT_COMMITTER_EMAIL: "bench@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
};

process.on("exit", cleanup);
process.on("SIGINT", () => process.exit(130));

for (const t of ["gpg", "pass", "age", "age-keygen", "oathtool", "git"]) {
  if (!tool(t)) throw new Error(`bench: ${t} is not installed`);
}
const passOtpOk = spawnSync("pass", ["otp", "--help"], { env: baseEnv }).status === 0;
if (!passOtpOk) throw new Error("bench: pass-otp (pass otp) is not installed");

log(`bench: setting up in ${work}`);
const q = ["--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""];
must("gpg", [...q, "--quick-gen-key", "Bench <bench@example.com>", "ed25519", "cert,sign", "never"], baseEnv);
const fpr = /^fpr:+([0-9A-F]+):/m.exec(
  must("gpg", ["--list-keys", "--with-colons", "bench@example.com"], baseEnv),
)[1];
must("gpg", [...q, "--quick-add-key", fpr, "cv25519", "encr", "never"], baseEnv);

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const secretOf = (i) =>
  Array.from({ length: 32 }, (_, j) => B32[(i * 7 + j * 13 + ((i * j) % 5)) % 32]).join("");
const nameOf = (i) => `svc${String(i).padStart(4, "0")}`;
const uriOf = (i) => `otpauth://totp/Svc${i}:user${i}%40example.com?secret=${secretOf(i)}&issuer=Svc${i}`;
const names = Array.from({ length: N }, (_, i) => nameOf(i));

// pass store, the way a pass-otp user makes it.
const passDir = join(work, "pass");
const passEnv = { ...baseEnv, PASSWORD_STORE_DIR: passDir };
must("pass", ["init", fpr], passEnv);
await pool(names, 4, (n, i) => spawnAsync("pass", ["insert", "-m", `2fa/${n}`], passEnv, `${uriOf(i)}\n`));
const skPass = { ...passEnv, SPAREKEY_STORE_DIR: passDir };

/** An age store (passage layout) with its identities file; entries are added by the caller. */
function makeAgeStore(dir) {
  mkdirSync(dir, { recursive: true });
  const ids = `${dir}.identities`;
  must("age-keygen", ["-o", ids], baseEnv);
  writeFileSync(join(dir, ".age-recipients"), must("age-keygen", ["-y", ids], baseEnv));
  return { ...baseEnv, SPAREKEY_STORE_DIR: dir, PASSAGE_IDENTITIES_FILE: ids };
}

// The same 200 entries in an age store, written by sparekey itself.
const ageDir = join(work, "age");
const skAge = makeAgeStore(ageDir);
await pool(names, 4, (n, i) => spawnAsync(BIN, ["add", n], skAge, `${uriOf(i)}\n`));

/** An age store of `count` entries written with the age CLI (faster to build; same files). */
async function ageStoreOf(count) {
  const dir = join(work, `age${count}`);
  const env = makeAgeStore(dir);
  mkdirSync(join(dir, "2fa"));
  const rcp = readFileSync(join(dir, ".age-recipients"), "utf8").trim();
  await pool(
    Array.from({ length: count }, (_, i) => i),
    4,
    (i) => spawnAsync("age", ["-r", rcp, "-o", join(dir, "2fa", `${nameOf(i)}.age`)], env, `${uriOf(i)}\n`),
  );
  return env;
}

// Sanity: both tools agree on a code (retry once across a 30 s boundary).
const probe = nameOf(100);
for (let attempt = 0; ; attempt++) {
  const mine = must(BIN, ["code", probe], skAge).trim();
  const mineGpg = must(BIN, ["code", probe], skPass).trim();
  const theirs = must("pass", ["otp", `2fa/${probe}`], passEnv).trim();
  if (mine === theirs && mineGpg === theirs) break;
  if (attempt > 0) throw new Error(`bench: codes differ (sparekey ${mine}/${mineGpg}, pass otp ${theirs})`);
}

// ----------------------------------------------------------------------------------- rows

const rows = [];
const sk = (env, args, extra = {}) => ({ cmd: BIN, args, env, ...extra });
const passOtp = { cmd: "pass", args: ["otp", `2fa/${probe}`], env: passEnv };
writeFileSync(join(work, "names.txt"), `${names.join("\n")}\n`);
const passLoop = {
  cmd: "bash",
  args: ["-c", `while read -r n; do pass otp "2fa/$n" >/dev/null; done < '${join(work, "names.txt")}'`],
  env: passEnv,
};

function row(metric, base, must, aim, measure) {
  log(`bench: ${metric}`);
  try {
    const r = measure();
    if (r === null) rows.push({ metric, base, must, aim, na: "n/a (command not built yet)" });
    else rows.push({ metric, base, must, aim, ...r });
  } catch (e) {
    rows.push({ metric, base, must, aim, error: e.message.split("\n")[0].slice(0, 160) });
  }
}

const codeName = hasBunBinary ? "one code, gpg store (Bun binary)" : "one code, gpg store (Node)";
row(codeName, "`pass otp`", 1.0, 0.75, () => pairs(sk(skPass, ["code", probe]), passOtp, PAIRS));
row(codeName.replace("gpg", "age"), "`pass otp`, gpg store", 1.0, 0.5, () =>
  pairs(sk(skAge, ["code", probe]), passOtp, PAIRS),
);
row("one code, age store, Node runtime (info)", "`pass otp`, gpg store", null, null, () =>
  pairs(sk({ ...skAge, SPAREKEY_RUNTIME: "node" }, ["code", probe]), passOtp, PAIRS),
);
row("one code, age store (info)", "`age -d` of the entry", null, null, () =>
  pairs(
    sk(skAge, ["code", probe]),
    {
      cmd: "age",
      args: ["-d", "-i", skAge.PASSAGE_IDENTITIES_FILE, join(ageDir, "2fa", `${probe}.age`)],
      env: baseEnv,
    },
    PAIRS,
  ),
);
for (const [label, env] of [
  ["gpg", skPass],
  ["age", skAge],
]) {
  row(`all ${N} codes (\`list --codes\`), ${label} store`, `loop of ${N} \`pass otp\``, 0.1, 0.05, () =>
    available(sk(env, ["list", "--codes"])) ? pairs(sk(env, ["list", "--codes"]), passLoop, HEAVY) : null,
  );
}

// Import of a 1000-account Aegis file into a fresh git-backed age store, against 100 `pass otp
// insert` runs (also git-backed) scaled by 10.
const aegis = join(work, "aegis-1000.json");
writeFileSync(
  aegis,
  JSON.stringify({
    version: 1,
    header: { slots: null, params: null },
    db: {
      version: 2,
      entries: Array.from({ length: 1000 }, (_, i) => ({
        type: "totp",
        uuid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
        name: `user${i}@example.com`,
        issuer: `Svc${i}`,
        note: "",
        favorite: false,
        icon: null,
        info: { secret: secretOf(i), algo: "SHA1", digits: 6, period: 30 },
        groups: [],
      })),
      groups: [],
    },
  }),
);
writeFileSync(
  join(work, "uris100.txt"),
  `${names
    .slice(0, 100)
    .map((n, i) => `${n} ${uriOf(i)}`)
    .join("\n")}\n`,
);
let fresh = 0;
const freshAgeImport = () => {
  const dir = join(work, `imp${fresh++}`);
  const env = makeAgeStore(dir);
  must("git", ["init", "-q", dir], env);
  return env;
};
const importA = { cmd: BIN, args: ["import", aegis], env: undefined };
importA.before = () => {
  importA.env = freshAgeImport();
};
const importB = {
  cmd: "bash",
  args: [
    "-c",
    `while read -r n uri; do printf '%s\\n' "$uri" | pass otp insert "2fa/$n" >/dev/null; done < '${join(work, "uris100.txt")}'`,
  ],
  env: undefined,
};
importB.before = () => {
  const dir = join(work, `pimp${fresh++}`);
  importB.env = { ...passEnv, PASSWORD_STORE_DIR: dir };
  must("pass", ["init", fpr], importB.env);
  must("pass", ["git", "init", "-q"], importB.env);
};
row("importing a 1000-account Aegis file, age store", "100 `pass otp insert` ×10", 0.1, 0.02, () => {
  if (!available(importA)) return null;
  const r = pairs(importA, importB, HEAVY);
  return { a: r.a, b: r.b * 10, ratio: r.ratio / 10, n: r.n };
});

row("decoding the large Google screenshot (`import --dry-run`)", "`zbarimg`", 3, 1.5, () => {
  if (!tool("zbarimg")) throw new Error("zbarimg is not installed");
  const a = sk(skAge, ["import", "--dry-run", GOOGLE_SHOT]);
  return available(a) ? pairs(a, { cmd: "zbarimg", args: ["-q", GOOGLE_SHOT], env: baseEnv }, PAIRS) : null;
});

// Peak memory and scaling of list --codes on age stores built with the age CLI.
const scaling = [];
const listCodesOk = (() => {
  try {
    return available(sk(skAge, ["list", "--codes"]));
  } catch {
    return false;
  }
})();
if (listCodesOk) {
  for (const count of [10, 100, 1000]) {
    log(`bench: list --codes scaling, ${count} entries`);
    const env = await ageStoreOf(count);
    const runs = Array.from({ length: count >= 1000 ? Math.max(3, HEAVY) : 7 }, () =>
      timeOnce(sk(env, ["list", "--codes"])),
    );
    scaling.push({ count, ms: median(runs), mb: await peakMB(sk(env, ["list", "--codes"])) });
  }
}
const mem1000 = scaling.find((s) => s.count === 1000);
rows.push(
  mem1000
    ? { metric: "peak memory, `list --codes` on 1000 entries", mem: mem1000.mb, must: 150, aim: 80 }
    : {
        metric: "peak memory, `list --codes` on 1000 entries",
        na: "n/a (command not built yet)",
        must: 150,
        aim: 80,
        unit: " MB",
      },
);

// ----------------------------------------------------------------------------------- report

const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
let failed = false;
const verdict = (value, must, aim) => {
  if (must == null) return "info";
  if (value <= aim) return "meets aim";
  if (value <= must) return "meets must";
  failed = true;
  return "**FAILS must**";
};
const cpu = cpus();
const out = [];
out.push(
  `sparekey benchmark, ${new Date().toISOString().slice(0, 10)}, ${cpu.length}× ${cpu[0]?.model.trim()}, ` +
    `Node ${process.versions.node}, load average ${loadavg()[0].toFixed(2)} at the end; ` +
    `${PAIRS} pairs per row (${HEAVY} for loops and imports), median of A/B pair ratios.`,
);
out.push("");
out.push("| metric | sparekey (median) | compared with | that (median) | ratio | must | aim | verdict |");
out.push("|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  const lim = (x, u = r.unit ?? "×") => (x == null ? "–" : `≤ ${x}${u}`);
  if (r.na)
    out.push(`| ${r.metric} | ${r.na} | ${r.base ?? "–"} | | | ${lim(r.must)} | ${lim(r.aim)} | n/a |`);
  else if (r.error) {
    failed = true;
    out.push(
      `| ${r.metric} | error: ${r.error} | ${r.base} | | | ${lim(r.must)} | ${lim(r.aim)} | **ERROR** |`,
    );
  } else if (r.mem !== undefined)
    out.push(
      `| ${r.metric} | ${r.mem.toFixed(1)} MB | – | | | ${lim(r.must, " MB")} | ${lim(r.aim, " MB")} | ${verdict(r.mem, r.must, r.aim)} |`,
    );
  else
    out.push(
      `| ${r.metric} | ${fmt(r.a)} | ${r.base} | ${fmt(r.b)} | ${r.ratio.toFixed(3)}× | ${lim(r.must)} | ${lim(r.aim)} | ${verdict(r.ratio, r.must, r.aim)} |`,
    );
}
out.push("");
if (scaling.length > 0) {
  out.push("`list --codes` scaling (age store):");
  out.push("");
  out.push("| entries | median time | per entry | peak memory |");
  out.push("|---|---|---|---|");
  for (const s of scaling)
    out.push(`| ${s.count} | ${fmt(s.ms)} | ${(s.ms / s.count).toFixed(2)} ms | ${s.mb.toFixed(1)} MB |`);
} else out.push("`list --codes` scaling: n/a (command not built yet)");
process.stdout.write(`${out.join("\n")}\n`);
if (opt.readme) {
  const readme = join(ROOT, "README.md");
  const text = readFileSync(readme, "utf8");
  const begin = "<!-- BENCH:begin -->";
  const end = "<!-- BENCH:end -->";
  const block = `${begin}\n${out.join("\n")}\n${end}`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  writeFileSync(
    readme,
    i >= 0 && j > i
      ? text.slice(0, i) + block + text.slice(j + end.length)
      : `${text.trimEnd()}\n\n## Speed\n\nMeasured with \`npm run bench\` (see scripts/bench.mjs).\n\n${block}\n`,
  );
  log("bench: README.md updated");
}
process.exitCode = failed ? 1 : 0;
