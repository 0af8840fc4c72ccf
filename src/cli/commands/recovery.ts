import { addRecoveryCodes, formatEntry, parseEntry, unusedCodes } from "../../core/entry.js";
import { UsageError, UserError } from "../../core/errors.js";
import { parseRecoveryCodes, useRecoveryCode } from "../../core/recovery.js";
import { formatDate } from "../../core/time.js";
import type { Store } from "../../stores/store.js";
import { type Args, type Ctx, has } from "../context.js";
import { resolveName, saveText } from "../util.js";

export const name = "recovery";
export const summary = "Save, list and cross off the recovery codes of an account";
export const usage = "sparekey recovery add|list|use QUERY [CODE] [--all]";
export const options = { all: { type: "boolean" } } as const;

/** Below this many unused codes, `use` warns that it is time to get new ones. */
const LOW = 3;

/**
 * Reads recovery codes pasted on the terminal, up to an empty line typed by hand (blank lines
 * inside the paste do not end it). [] when Enter alone was pressed or nothing looked like a code;
 * null when input ended (Ctrl-D) before anything was pasted.
 */
export async function promptCodes(ctx: Ctx): Promise<string[] | null> {
  const text = await ctx.prompt("", { paste: true });
  return text === null ? null : parseRecoveryCodes(text);
}

/** Adds codes to an entry under the store lock and commits; returns how many were new, and the total unused. */
export async function saveCodes(
  store: Store,
  entryName: string,
  codes: string[],
): Promise<{ added: number; unused: number }> {
  return store.withLock(async () => {
    const { entry, added } = addRecoveryCodes(parseEntry(await store.read(entryName)), codes);
    if (added.length > 0) {
      const message = `Add ${added.length} recovery code${added.length === 1 ? "" : "s"} for ${entryName}.`;
      await saveText(store, entryName, formatEntry(entry), message);
    }
    return { added: added.length, unused: unusedCodes(entry).length };
  });
}

async function add(ctx: Ctx, store: Store, entryName: string): Promise<number> {
  let codes: string[];
  if (ctx.stdinIsTTY) {
    ctx.stderr(`Paste the recovery codes for ${entryName}, then press Enter on an empty line:`);
    codes = (await promptCodes(ctx)) ?? [];
  } else {
    codes = parseRecoveryCodes(await ctx.readStdin());
  }
  if (codes.length === 0) throw new UserError("no recovery codes found in the input (one or more per line)");
  const { added, unused } = await saveCodes(store, entryName, codes);
  const dup = codes.length - added;
  ctx.stderr(
    `added ${added} recovery code${added === 1 ? "" : "s"} to ${entryName}` +
      `${dup > 0 ? ` (${dup} already there)` : ""}; ${unused} unused`,
  );
  return 0;
}

async function list(ctx: Ctx, store: Store, entryName: string, all: boolean): Promise<number> {
  const entry = parseEntry(await store.read(entryName));
  const shown = all ? entry.recovery : unusedCodes(entry);
  ctx.stdout(shown.map((r) => (r.used ? `${r.code}\tused ${r.used}\n` : `${r.code}\n`)).join(""));
  if (entry.recovery.length === 0)
    ctx.stderr(`${entryName} has no recovery codes (add them: sparekey recovery add ${entryName})`);
  else if (shown.length === 0) ctx.stderr(`every recovery code of ${entryName} has been used`);
  return 0;
}

async function use(ctx: Ctx, store: Store, entryName: string, code: string | undefined): Promise<number> {
  const { used, left } = await store.withLock(async () => {
    const r = useRecoveryCode(parseEntry(await store.read(entryName)), code, formatDate(ctx.now()));
    await saveText(store, entryName, formatEntry(r.entry), `Mark a recovery code of ${entryName} as used.`);
    return { used: r.used, left: unusedCodes(r.entry).length };
  });
  ctx.stdout(`${used.code}\n`);
  ctx.stderr(`marked as used on ${used.used}; ${left} unused recovery code${left === 1 ? "" : "s"} left`);
  if (left < LOW) {
    ctx.stderr(
      `warning: only ${left} recovery code${left === 1 ? "" : "s"} left for ${entryName}; ` +
        `get new ones from the site and save them: sparekey recovery add ${entryName}`,
    );
  }
  return 0;
}

export async function run(ctx: Ctx, args: Args): Promise<number> {
  const [sub, query, ...rest] = args.positionals;
  if (sub !== "add" && sub !== "list" && sub !== "use") throw new UsageError("say add, list or use");
  if (query === undefined) throw new UsageError(`recovery ${sub} needs the entry`);
  if (rest.length > 0 && sub !== "use") throw new UsageError("too many arguments");
  // A Google code typed without quotes ("7041 0682") arrives as two arguments.
  const code = rest.length > 0 ? rest.join(" ") : undefined;
  if (has(args, "all") && sub !== "list") throw new UsageError("--all goes with recovery list");
  const store = await ctx.openStore();
  const entryName = await resolveName(store, query);
  if (sub === "add") return add(ctx, store, entryName);
  if (sub === "list") return list(ctx, store, entryName, has(args, "all"));
  return use(ctx, store, entryName, code);
}
