import { markPrinted } from "../../core/audit.js";
import { formatEntry, parseEntry, unusedCodes } from "../../core/entry.js";
import { UsageError, UserError } from "../../core/errors.js";
import { matchQueries } from "../../core/names.js";
import { formatDate, parseTime } from "../../core/time.js";
import { formatUri } from "../../core/uri.js";
import type { CardData, Paper } from "../../render/card.js";
import { readMany, type Store } from "../../stores/store.js";
import { type Args, type Ctx, flag, has } from "../context.js";
import { writePrivateFile } from "../util.js";

export const name = "card";
export const summary = "Print 3x5 inch recovery cards (PDF): unused recovery codes, optionally the key";
export const usage =
  "sparekey card [QUERY...] -o FILE.pdf [--with-secret] [--paper card|letter|a4] [--at TIME]";
export const options = {
  output: { type: "string", short: "o" },
  "with-secret": { type: "boolean" },
  paper: { type: "string" },
  at: { type: "string" },
} as const;

const PAPERS: readonly Paper[] = ["card", "letter", "a4"];

/** How printCards prints. */
export interface PrintOptions {
  /** The PDF to write, relative to ctx.cwd. */
  output: string;
  /** Put the key on the card (QR code and base32). */
  withSecret?: boolean;
  paper?: Paper;
  /** The date printed, as unix milliseconds; ctx.now() by default. */
  at?: number;
  /** An already opened store (the guided add has one); else ctx.openStore(). */
  store?: Store;
}

/** What printCards did. */
export interface PrintResult {
  file: string;
  accounts: number;
  pages: number;
  date: string;
}

/** Reads the entries and turns each into a card's data; the key is left out unless asked for. */
async function collectCards(
  store: Store,
  names: readonly string[],
  withSecret: boolean,
): Promise<CardData[]> {
  const texts = await readMany(store, names);
  return names.map((entryName) => {
    const got = texts.get(entryName)!;
    if ("error" in got) throw new UserError(`${entryName}: ${got.error.message.split("\n")[0]}`);
    let entry: ReturnType<typeof parseEntry>;
    try {
      entry = parseEntry(got.text);
    } catch (e) {
      if (e instanceof UserError) throw new UserError(`${entryName}: ${e.message}`);
      throw e;
    }
    const a = entry.account;
    return {
      name: entryName,
      issuer: a?.issuer ?? "",
      account: a?.account ?? "",
      codes: unusedCodes(entry).map((r) => r.code),
      // The secret never enters the renderer without --with-secret, so it cannot leak into the PDF.
      ...(withSecret && a ? { key: { uri: formatUri(a), secret: a.secret } } : {}),
    };
  });
}

/** Counts the pages of a PDF pdfkit wrote (one `/Type /Page` object per page). */
function countPages(pdf: Uint8Array): number {
  return (new TextDecoder("latin1").decode(pdf).match(/\/Type \/Page\b/g) ?? []).length;
}

/**
 * Prints cards for the named entries (exact store names) into one PDF, written atomically with
 * mode 0600, then records `printed: DATE` in each entry and commits once.
 */
export async function printCards(
  ctx: Ctx,
  names: readonly string[],
  opts: PrintOptions,
): Promise<PrintResult> {
  const { resolve } = await import("node:path");
  const file = resolve(ctx.cwd, opts.output);
  const store = opts.store ?? (await ctx.openStore());
  const date = formatDate(opts.at ?? ctx.now());
  const cards = await collectCards(store, names, opts.withSecret === true);
  const [{ renderCards }, { loadCardFonts }] = await Promise.all([
    import("../../render/card.js"),
    import("../../render/fonts.js"),
  ]);
  const pdf = await renderCards(cards, { paper: opts.paper ?? "card", date, fonts: await loadCardFonts() });
  await writePrivateFile(file, pdf);
  const { readFile } = await import("node:fs/promises");
  const back = new Uint8Array(await readFile(file));
  if (back.length !== pdf.length || back.some((b, i) => b !== pdf[i])) {
    throw new UserError(`cannot write ${file}: the file read back differs from what was written`);
  }

  await store.withLock(async () => {
    let changed = 0;
    for (const entryName of names) {
      // Re-read under the lock: an HOTP counter may have moved since the cards were made.
      const entry = parseEntry(await store.read(entryName));
      const marked = markPrinted(entry, date);
      if (entry.meta.printed === marked.meta.printed) continue;
      await store.write(entryName, formatEntry(marked));
      changed++;
    }
    const n = names.length;
    if (changed > 0) await store.commit(`Print recovery cards for ${n} account${n === 1 ? "" : "s"}.`);
  });
  return { file, accounts: names.length, pages: countPages(pdf), date };
}

export async function run(ctx: Ctx, args: Args): Promise<number> {
  const output = flag(args, "output");
  if (!output) throw new UsageError("say where to write the PDF: -o FILE.pdf");
  const paper = (flag(args, "paper") ?? "card").toLowerCase();
  if (!PAPERS.includes(paper as Paper)) throw new UsageError("--paper must be card, letter or a4");
  const at = flag(args, "at");
  const store = await ctx.openStore();
  const all = await store.list();
  if (all.length === 0) throw new UserError("the store has no 2FA entries yet (add one: sparekey add)");
  const names = matchQueries(all, args.positionals);
  const withSecret = has(args, "with-secret");
  const r = await printCards(ctx, names, {
    output,
    withSecret,
    paper: paper as Paper,
    at: at === undefined ? undefined : parseTime(at),
    store,
  });
  const sheets = paper === "card" ? "" : ` on ${r.pages} ${paper} sheet${r.pages === 1 ? "" : "s"}`;
  ctx.stderr(
    `wrote ${output}: cards for ${r.accounts} account${r.accounts === 1 ? "" : "s"}${sheets}` +
      ` (${paper === "card" ? `${r.pages} card${r.pages === 1 ? "" : "s"}, ` : ""}print at actual size)`,
  );
  if (withSecret) {
    ctx.stderr(
      `warning: ${output} holds the 2FA keys themselves; print it, then delete it (it is as sensitive as the keys)`,
    );
  }
  return 0;
}
