import { UsageError, UserError } from "../../core/errors.js";
import { findCaseCollision, validateName } from "../../core/names.js";
import type { Args, Ctx } from "../context.js";
import { resolveName } from "../util.js";

export const name = "mv";
export const summary = "Rename an account (NEW ending in / moves it into that folder)";
export const usage = "sparekey mv OLD NEW";

/** Renames one entry and commits; never replaces an existing entry. */
export async function run(ctx: Ctx, args: Args): Promise<number> {
  if (args.positionals.length !== 2) throw new UsageError("give OLD and NEW");
  const store = await ctx.openStore();
  const from = await resolveName(store, args.positionals[0]);
  let to = args.positionals[1];
  if (to.endsWith("/")) to += from.slice(from.lastIndexOf("/") + 1);
  validateName(to);
  if (to === from) throw new UserError(`${from} already has that name`);
  const names = await store.list();
  if (names.includes(to) || (await store.exists(to)))
    throw new UserError(`${to} already exists; remove it first`);
  const clash = findCaseCollision(
    to,
    names.filter((n) => n !== from),
  );
  if (clash) throw new UserError(`${to} differs only in case from ${clash}; pick another name`);
  await store.move(from, to);
  await store.commit(`Rename 2FA key ${from} to ${to}.`);
  ctx.stderr(`Renamed ${from} to ${to}.`);
  return 0;
}
