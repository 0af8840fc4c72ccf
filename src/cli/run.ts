import { writeOut } from "../io/output.js";
import type { Ctx } from "./context.js";
import { main } from "./main.js";

/** Builds the real context over process, the terminal and the file system. */
function makeCtx(storeOption?: string): Ctx {
  return {
    env: process.env,
    cwd: process.cwd(),
    // Sync writes: process.stdout costs Bun ~17 ms of start-up (see io/output.ts).
    stdout: (text) => writeOut(1, text),
    stderr: (line) => writeOut(2, `${line}\n`),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    },
    // Getters: the first touch of process.stdin/stdout costs Bun ~18 ms; `code` never asks.
    get stdinIsTTY() {
      return Boolean(process.stdin.isTTY);
    },
    get stdoutIsTTY() {
      return Boolean(process.stdout.isTTY);
    },
    now: () => Date.now(),
    // Web Crypto: node:crypto costs the Bun binary ~4 ms to load. 64 KiB is its limit per call.
    randomBytes: (n) => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i += 65536) globalThis.crypto.getRandomValues(b.subarray(i, i + 65536));
      return b;
    },
    openStore: async () =>
      (await import("../stores/select.js")).openStore(process.env, storeOption, {
        prompt: async (q, o) => (await import("../io/prompt.js")).prompt(q, o),
      }),
    prompt: async (question, opts) => (await import("../io/prompt.js")).prompt(question, opts),
    storeOption,
  };
}

const code = await main(process.argv.slice(2), makeCtx);
// Let pending stdout drain (pipes) before leaving; timers such as the clipboard clearer keep us alive.
process.exitCode = code;
