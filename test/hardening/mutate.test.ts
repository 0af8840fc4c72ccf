// Mutated real exports through the real CLI (issue 8): every file in ../shared/fixtures is cut
// short, bit-flipped, has fields swapped and values of the wrong type, and is imported. The only
// outcomes allowed: a clean import, or exit 1 with one line (no stack, no "internal error").
// A share of the runs writes for real, and the store must stay whole.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadFixtures, type MutationKind, mutateAs } from "./mutators.js";
import { ageStore, ensureBuilt, gitFsck, readStore, type StoreHome } from "./stores.js";

const KINDS: MutationKind[] = ["truncate", "flip", "swap", "types"];
/** Mutants per fixture and kind; SPAREKEY_MUTANTS overrides. */
const PER = Number(process.env.SPAREKEY_MUTANTS ?? 2);
const SEED = Number(process.env.MUTATE_SEED ?? 20261204);
const fixtures = loadFixtures();

let s: StoreHome;
const tally = { runs: 0, imported: 0, refused: 0, written: 0 };
beforeAll(async () => {
  ensureBuilt();
  s = await ageStore();
}, 120_000);
afterAll(() => {
  console.log(`mutated imports: ${JSON.stringify(tally)} over ${fixtures.length} files`);
  s?.home.cleanup();
});

/** Runs jobs a few at a time (each is a process; the machine has two cores). */
async function pool<T>(items: T[], n: number, fn: (item: T, i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

describe("mutated real exports through `sparekey import`", () => {
  it(`${fixtures.length} files x ${KINDS.length} mutations: a clean import or one line`, async () => {
    const jobs = fixtures.flatMap((f, fi) =>
      KINDS.flatMap((kind, ki) =>
        Array.from({ length: PER }, (_, j) => ({ f, kind, seed: SEED + fi * 1000 + ki * 100 + j })),
      ),
    );
    const failures: string[] = [];
    await pool(jobs, 4, async ({ f, kind, seed }, i) => {
      const name = `${f.rel.replace(/[/]/g, "_")}.${kind}.${seed}`;
      const ext = f.rel.slice(f.rel.lastIndexOf("."));
      const file = join(s.home.dir, `${name}${ext}`);
      writeFileSync(file, mutateAs(f, kind, seed));
      // One run in four writes for real (the store must stay whole); the rest are dry runs.
      const real = i % 4 === 0;
      const args = [
        "import",
        file,
        ...(real ? ["--yes"] : ["--dry-run"]),
        ...(f.password ? ["--password-env", "PW"] : []),
      ];
      const r = await s.run(args, { env: f.password ? { PW: f.password } : {} });
      tally.runs++;
      const lines = r.stderr.trimEnd().split("\n");
      const what = `${f.rel} (${kind}, seed ${seed}): exit ${r.code}: ${r.stderr.slice(0, 300)}`;
      if (/internal error|\n\s+at |Error:/.test(r.stderr)) failures.push(what);
      else if (r.code === 0) {
        tally.imported++;
        if (real && /Imported [1-9]/.test(r.stderr)) tally.written++;
      } else if (r.code === 1 && lines.length === 1 && /^(Password for [^\n]*?: )?sparekey: /.test(lines[0]))
        // (A damaged file that looks encrypted asks for its password first, on the same line.)
        tally.refused++;
      // Warnings and the import plan (a file name, then indented rows) may come before the one line;
      // two real imports side by side can find each other's names taken ("appeared meanwhile").
      else if (
        r.code === 1 &&
        lines.at(-1)!.startsWith("sparekey: ") &&
        lines.slice(0, -1).every((l) => /^(warning: | {2}|\S.* \(.*\):$)/.test(l))
      )
        tally.refused++;
      else failures.push(what);
    });
    expect(failures).toEqual([]);
    expect(tally.runs).toBe(jobs.length);
    // The store survived every real import.
    const entries = await readStore(s);
    for (const [n, e] of entries) expect(e.entry.account, n).not.toBeNull();
    await gitFsck(s);
  }, 280_000);
});
