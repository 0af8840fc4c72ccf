import { UsageError } from "../../core/errors.js";
import { type Args, type Ctx, has } from "../context.js";
import { resolveName } from "../util.js";

export const name = "rm";
export const summary = "Remove an account (asks first on a terminal, unless -f)";
export const usage = "sparekey rm QUERY [-f|--force]";
export const options = {
  force: { type: "boolean", short: "f" },
} as const;

/** Removes one entry and commits. Like `pass rm`, it asks only when stdin is a terminal. */
export async function run(ctx: Ctx, args: Args): Promise<number> {
  if (args.positionals.length !== 1) throw new UsageError("give exactly one QUERY");
  const store = await ctx.openStore();
  const target = await resolveName(store, args.positionals[0]);
  if (!has(args, "force") && ctx.stdinIsTTY) {
    const answer = await ctx.prompt(`Remove the 2FA key ${target} from ${store.location}? [y/N] `);
    if (!answer || !/^y(es)?$/i.test(answer.trim())) {
      ctx.stderr("Nothing removed.");
      return 1;
    }
  }
  await store.remove(target);
  await store.commit(`Remove 2FA key ${target}.`);
  ctx.stderr(`Removed ${target}.`);
  return 0;
}
