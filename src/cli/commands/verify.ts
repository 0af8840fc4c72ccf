import type { Account } from "../../core/account.js";
import { formatEntry, withAccount, withMeta } from "../../core/entry.js";
import { UsageError } from "../../core/errors.js";
import { verifyCode } from "../../core/otp.js";
import { formatInstant, parseTime } from "../../core/time.js";
import { type Args, type Ctx, flag } from "../context.js";
import { parseNamedEntry, resolveName, saveText } from "../util.js";

export const name = "verify";
export const summary = "Check a code from your phone app against the stored key, and record it";
export const usage = "sparekey verify QUERY CODE [--at TIME]";
export const options = { at: { type: "string" } } as const;

/** What a match at `offset` steps says about the app's clock (or HOTP counter). */
export function describeDrift(a: Account, offset: number): string {
  if (a.kind === "hotp") {
    return offset === 0
      ? "the app and the store are at the same counter"
      : `the app was ${offset} code(s) ahead`;
  }
  if (offset === 0) return "the app's clock agrees with this computer's";
  const s = Math.abs(offset) * a.period;
  return `your app is ${s} s ${offset > 0 ? "ahead of" : "behind"} this computer's clock`;
}

/** The usual reasons a code from an app does not match, for the mismatch message. */
export const MISMATCH_CAUSES = [
  "the app shows another account (the wrong QR code was scanned, or an old one)",
  "a clock is off by more than 30 s (turn on automatic time on the phone)",
  "the app ignores the key's period or digits (Google Authenticator does)",
];

/**
 * Checks a code against an account at `atMs` and, on a match, returns the updated entry text:
 * `verified:` set to `nowMs`, and an HOTP counter moved past the code that matched (as a server
 * would, so the code cannot be used twice). Null when the code does not match.
 */
export function applyVerification(
  entryName: string,
  text: string,
  code: string,
  atMs: number,
  nowMs: number,
): { text: string; offset: number; account: Account } | null {
  const entry = parseNamedEntry(entryName, text);
  const a = entry.account;
  const offset = verifyCode(a, code, atMs, 1);
  if (offset === null) return null;
  let next = withMeta(entry, "verified", formatInstant(nowMs));
  if (a.kind === "hotp") next = withAccount(next, { ...a, counter: a.counter + offset + 1 });
  return { text: formatEntry(next), offset, account: a };
}

export async function run(ctx: Ctx, args: Args): Promise<number> {
  const [query, code, ...rest] = args.positionals;
  if (query === undefined || code === undefined)
    throw new UsageError("give the entry and the code your app shows");
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0].slice(0, 20)}"`);
  const atFlag = flag(args, "at");
  const at = atFlag === undefined ? ctx.now() : parseTime(atFlag);
  const store = await ctx.openStore();
  const entryName = await resolveName(store, query);
  const result = await store.withLock(async () => {
    const r = applyVerification(entryName, await store.read(entryName), code, at, ctx.now());
    if (r) await saveText(store, entryName, r.text, `Record a verified code for ${entryName}.`);
    return r;
  });
  if (!result) {
    ctx.stderr(`sparekey: the code does not match ${entryName} (checked ±1 step). Usual causes:`);
    for (const cause of MISMATCH_CAUSES) ctx.stderr(`  - ${cause}`);
    return 1;
  }
  ctx.stderr(`code matches ${entryName}; ${describeDrift(result.account, result.offset)}`);
  return 0;
}
