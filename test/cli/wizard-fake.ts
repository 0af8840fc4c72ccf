import type { Ctx } from "../../src/cli/context.js";
import { main } from "../../src/cli/main.js";
import type { MemoryStore } from "../../src/stores/memory.js";

/** A context over a MemoryStore with scripted prompt answers, recording everything printed. */
export interface FakeRun {
  code: number;
  stdout: string;
  stderr: string;
  prompts: string[];
}

export interface FakeOptions {
  stdin?: string;
  tty?: boolean;
  answers?: (string | null)[];
  nowMs?: number;
  cwd?: string;
  env?: Record<string, string | undefined>;
}

/** Builds the fake context; `answers` are handed out one per prompt, then null (end of input). */
export function fakeCtx(store: MemoryStore, opts: FakeOptions = {}): { ctx: Ctx; out: FakeRun } {
  const out: FakeRun = { code: 0, stdout: "", stderr: "", prompts: [] };
  const answers = [...(opts.answers ?? [])];
  const ctx: Ctx = {
    env: { ...opts.env },
    cwd: opts.cwd ?? "/nonexistent",
    stdout: (t) => {
      out.stdout += t;
    },
    stderr: (l) => {
      out.stderr += `${l}\n`;
    },
    readStdin: async () => opts.stdin ?? "",
    stdinIsTTY: opts.tty ?? false,
    stdoutIsTTY: opts.tty ?? false,
    now: () => opts.nowMs ?? Date.UTC(2026, 11, 4, 19, 2, 11),
    randomBytes: (n) => new Uint8Array(n),
    openStore: async () => store,
    prompt: async (q, o) => {
      out.prompts.push(o?.secret ? `${q}[secret]` : o?.paste ? `${q}[paste]` : q);
      out.stderr += q;
      const a = answers.shift();
      return a === undefined ? null : a;
    },
  };
  return { ctx, out };
}

/** Runs the CLI's `main` on the fake context. */
export async function runFake(store: MemoryStore, argv: string[], opts: FakeOptions = {}): Promise<FakeRun> {
  const { ctx, out } = fakeCtx(store, opts);
  out.code = await main(argv, () => ctx);
  return out;
}
