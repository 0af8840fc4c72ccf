import { UsageError } from "../../core/errors.js";
import { readMany } from "../../stores/store.js";
import { type Args, type Ctx, flag, has } from "../context.js";
import { type EntrySummary, errorLine, parseNamedEntry, summarizeEntry } from "../util.js";

export const name = "list";
export const summary = "List the accounts (names alone when piped; status columns on a terminal)";
export const usage = "sparekey list [QUERY] [--json | --codes [--at TIME]]";
export const options = {
  json: { type: "boolean" },
  codes: { type: "boolean" },
  at: { type: "string" },
} as const;

type Row = EntrySummary | { name: string; error: string };

/** Decrypts the entries and summarises them; a broken entry becomes a row with its error. */
async function summarize(store: Awaited<ReturnType<Ctx["openStore"]>>, names: string[]): Promise<Row[]> {
  const texts = await readMany(store, names);
  return names.map((n) => {
    const got = texts.get(n)!;
    try {
      if ("error" in got) throw got.error;
      return summarizeEntry(n, parseNamedEntry(n, got.text));
    } catch (e) {
      const msg = errorLine(e instanceof Error ? e : new Error(String(e)));
      return { name: n, error: msg.startsWith(`${n}: `) ? msg.slice(n.length + 2) : msg };
    }
  });
}

/** Lays out rows as left-aligned columns. */
function columns(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  "))
    .join("\n");
}

/** Lists names; status needs decryption, so it is only shown on a terminal or with --json. */
export async function run(ctx: Ctx, args: Args): Promise<number> {
  if (args.positionals.length > 1) throw new UsageError("give at most one QUERY");
  const store = await ctx.openStore();
  const query = args.positionals[0]?.toLowerCase();
  const names = (await store.list()).filter((n) => query === undefined || n.toLowerCase().includes(query));
  if (has(args, "codes")) return (await import("./watch.js")).printCodes(ctx, store, names, flag(args, "at"));
  if (flag(args, "at") !== undefined) throw new UsageError("--at goes with --codes");

  if (has(args, "json")) {
    ctx.stdout(`${JSON.stringify(await summarize(store, names), null, 2)}\n`);
    return 0;
  }
  if (names.length === 0) {
    ctx.stderr(
      query === undefined
        ? `No 2FA keys in ${store.location} yet; save one with: sparekey add`
        : `No entry matches "${args.positionals[0]}".`,
    );
    return 0;
  }
  if (!ctx.stdoutIsTTY) {
    ctx.stdout(names.map((n) => `${n}\n`).join(""));
    return 0;
  }
  const rows = await summarize(store, names);
  const table = [["NAME", "KIND", "VERIFIED", "RECOVERY", "PRINTED"]];
  for (const r of rows) {
    if ("error" in r) table.push([r.name, "unreadable", "-", "-", "-"]);
    else {
      const codes = r.recovery.unused + r.recovery.used;
      table.push([
        r.name,
        r.kind,
        r.verified ? "yes" : "no",
        codes === 0 ? "none" : `${r.recovery.unused} left`,
        r.printed?.slice(0, 10) ?? "no",
      ]);
    }
  }
  ctx.stdout(`${columns(table)}\n`);
  for (const r of rows) if ("error" in r) ctx.stderr(`sparekey: ${r.name}: ${r.error}`);
  return 0;
}
