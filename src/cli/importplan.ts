import { type Account, describeAccount, sameKey } from "../core/account.js";
import { UserError } from "../core/errors.js";
import { deriveName, freeName, validateName } from "../core/names.js";
import type { BatchPart, ImportedAccount, Skipped } from "../formats/types.js";

/** One account read from one file. */
export interface Incoming {
  file: string;
  imported: ImportedAccount;
}

/** What the import will do with one account (or one thing it cannot import). */
export interface PlanRow {
  action: "add" | "rename" | "skip";
  /** The store name it gets ("add", "rename"), or the name of the matching entry ("skip" of a known key). */
  name: string;
  /** How the user recognises it: "GitHub (alice)". Never a secret. */
  what: string;
  file: string;
  why: string;
  /** Present for "add" and "rename". */
  account?: Account;
  recovery?: string[];
}

/** The whole plan, in the order of the input. */
export interface Plan {
  rows: PlanRow[];
  /** The rows that write an entry. */
  writes: PlanRow[];
}

/** An entry already in the store; a null account is an entry without a usable key (its name is still taken). */
export interface Existing {
  name: string;
  account: Account | null;
}

/** The store name an imported account asks for: the source's own name when valid, else issuer/account. */
function wantedName(imp: ImportedAccount): string {
  if (imp.name) {
    try {
      return validateName(imp.name);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
    }
  }
  return deriveName(imp.account.issuer, imp.account.account);
}

/**
 * Plans an import against the store. A key already in the store (same secret and kind) is skipped,
 * never duplicated; so is a key that an earlier file or line of this import already brings. A name
 * held by a different key gets the next free name ("github/alice-2") and is reported as renamed.
 */
export function planImport(
  incoming: readonly Incoming[],
  existing: readonly Existing[],
  skipped: readonly { file: string; skipped: Skipped }[] = [],
): Plan {
  const taken = existing.map((e) => e.name);
  const known: { name: string; account: Account; fromStore: boolean }[] = existing
    .filter((e): e is { name: string; account: Account } => e.account !== null)
    .map((e) => ({ ...e, fromStore: true }));
  const rows: PlanRow[] = [];
  for (const { file, imported } of incoming) {
    const what = describeAccount(imported.account);
    const match = known.find((k) => sameKey(k.account, imported.account));
    if (match) {
      rows.push({
        action: "skip",
        name: match.name,
        what,
        file,
        why: match.fromStore
          ? `already in the store as ${match.name}`
          : `same key as ${match.name}, earlier in this import`,
      });
      continue;
    }
    const wanted = wantedName(imported);
    const name = freeName(wanted, taken);
    const renamed = name !== wanted;
    taken.push(name);
    known.push({ name, account: imported.account, fromStore: false });
    rows.push({
      action: renamed ? "rename" : "add",
      name,
      what,
      file,
      why: renamed ? `${wanted} already holds a different key` : "",
      account: imported.account,
      ...(imported.recovery && imported.recovery.length > 0 ? { recovery: imported.recovery } : {}),
    });
  }
  for (const s of skipped) {
    rows.push({ action: "skip", name: "", what: s.skipped.what, file: s.file, why: s.skipped.why });
  }
  return { rows, writes: rows.filter((r) => r.action !== "skip") };
}

/** The parts missing from each Google export batch seen, as one message per incomplete batch. */
export function missingBatches(parts: readonly { file: string; part: BatchPart }[]): string[] {
  const groups = new Map<string, { size: number; seen: Set<number>; files: Set<string> }>();
  for (const { file, part } of parts) {
    const key = `${part.id}/${part.size}`;
    const g = groups.get(key) ?? { size: part.size, seen: new Set<number>(), files: new Set<string>() };
    g.seen.add(part.index);
    g.files.add(file);
    groups.set(key, g);
  }
  const out: string[] = [];
  for (const g of groups.values()) {
    const missing = Array.from({ length: g.size }, (_, i) => i).filter((i) => !g.seen.has(i));
    if (missing.length === 0) continue;
    const list = missing.map((i) => String(i + 1));
    const which =
      list.length === 1 ? `code ${list[0]}` : `codes ${list.slice(0, -1).join(", ")} and ${list.at(-1)}`;
    out.push(
      `${[...g.files].join(", ")}: Google export of ${g.size} QR codes; ${which} of ${g.size} ${missing.length === 1 ? "is" : "are"} missing (import those images too)`,
    );
  }
  return out;
}

const LABEL: Record<PlanRow["action"], string> = { add: "add", rename: "rename", skip: "skip" };

/**
 * The plan as table lines for stderr, grouped by file (in the order of `sources`, with each
 * file's format): action, name, the account, and why.
 */
export function formatPlan(plan: Plan, sources: readonly { file: string; label: string }[]): string[] {
  const rows = plan.rows;
  const nameWidth = Math.min(40, Math.max(4, ...rows.map((r) => r.name.length)));
  const whatWidth = Math.min(40, Math.max(7, ...rows.map((r) => r.what.length)));
  const lines: string[] = [];
  for (const { file, label } of sources) {
    lines.push(`${file} (${label}):`);
    const mine = rows.filter((x) => x.file === file);
    if (mine.length === 0) lines.push("  (no 2FA keys)");
    for (const r of mine) {
      lines.push(
        `  ${LABEL[r.action].padEnd(7)} ${(r.name || "-").padEnd(nameWidth)} ${r.what.padEnd(whatWidth)} ${r.why}`.trimEnd(),
      );
    }
  }
  return lines;
}

/** "1 key" / "3 keys". */
export function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
