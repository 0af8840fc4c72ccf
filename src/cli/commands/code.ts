// The command people run many times a day: import only the core and the store, nothing heavy.
import { withAccount } from "../../core/entry.js";
import { UsageError } from "../../core/errors.js";
import { codeAtCounter, generateCode } from "../../core/otp.js";
import { parseTime } from "../../core/time.js";
import { type Args, type Ctx, flag, has } from "../context.js";
import { loadEntry, parseNamedEntry, saveEntry } from "../util.js";

export const name = "code";
export const summary = "Print the current code of an account (HOTP: advance its counter)";
export const usage = "sparekey code QUERY [--at TIME] [-c|--clip]";
export const options = {
  at: { type: "string" },
  clip: { type: "boolean", short: "c" },
} as const;

/** Prints the code on stdout (or copies it), and nothing else on stdout. */
export async function run(ctx: Ctx, args: Args): Promise<number> {
  if (args.positionals.length !== 1) throw new UsageError("give exactly one QUERY");
  const at = flag(args, "at");
  const atMs = at === undefined ? ctx.now() : parseTime(at);
  const store = await ctx.openStore();
  const loaded = await loadEntry(store, args.positionals[0]);
  const { name: entryName } = loaded;
  let code: string;
  if (loaded.entry.account.kind === "hotp") {
    // pass otp increments the stored counter and then shows the code for the new value; doing
    // the same keeps the two tools in step on one entry. Re-read under the lock so that two
    // processes never hand out the same counter.
    code = await store.withLock(async () => {
      const entry = parseNamedEntry(entryName, await store.read(entryName));
      const next = entry.account.counter + 1;
      const value = codeAtCounter(entry.account, next);
      await saveEntry(
        store,
        entryName,
        withAccount(entry, { ...entry.account, counter: next }),
        `Increment HOTP counter for ${entryName}.`,
      );
      return value;
    });
  } else {
    code = generateCode(loaded.entry.account, atMs);
  }
  if (has(args, "clip")) {
    const { clipText } = await import("../../io/clipboard.js");
    const seconds = await clipText(code, ctx.env as NodeJS.ProcessEnv);
    ctx.stderr(`Copied ${entryName}'s code to the clipboard; it clears in ${seconds} s.`);
    return 0;
  }
  ctx.stdout(`${code}\n`);
  return 0;
}
