import type { Entry, RecoveryCode } from "./entry.js";
import { UserError } from "./errors.js";

// Fields on a line are separated by commas, tabs or runs of two or more spaces; a single space
// stays inside a field because Google prints its codes as "7041 0682".
const FIELD_SEPARATOR = /,|\t| {2,}/;
// List numbering ("1.", "2)", "- ", "* ", "• ") before a code; it needs the space after it, so a
// code itself is never cut.
const NUMBERING = /^(?:\d{1,3}[.)]|[-*\u2022\u00b7])\s+/;
const NUMBERING_ALONE = /^(?:\d{1,3}[.)]|[-*\u2022\u00b7])$/;
// A code is letters, digits, `-` and `_`, with at most one single space inside.
const CODE = /^[A-Za-z0-9][A-Za-z0-9_-]*(?: [A-Za-z0-9_-]*[A-Za-z0-9])?$/;

type Field = { code: string; strong: boolean; shape: string };

/** The layout of a code ("5-5", "4 4", "16"), used to tell a real code from a stray word. */
function shapeOf(code: string): string {
  return code.replace(/[A-Za-z0-9_]+/g, (m) => String(m.length));
}

/**
 * Classifies one field: null when it cannot be a code (prose, punctuation, too short). A code
 * holding a digit in each space-separated half is "strong"; one without is kept only if it has
 * the layout of the strong codes around it, so that headers like "Backup codes" are dropped.
 */
function classifyField(raw: string): Field | null {
  const code = raw.trim().replace(NUMBERING, "").trim();
  if (!CODE.test(code)) return null;
  if (code.replace(/[^A-Za-z0-9]/g, "").length < 4) return null;
  const strong = code.split(" ").every((half) => /\d/.test(half));
  return { code, strong, shape: shapeOf(code) };
}

/** The layouts that occur most often in `fields` (all of them on a tie). */
function commonShapes(fields: readonly Field[]): Set<string> {
  const counts = new Map<string, number>();
  for (const f of fields) counts.set(f.shape, (counts.get(f.shape) ?? 0) + 1);
  const max = Math.max(0, ...counts.values());
  return new Set([...counts].filter(([, n]) => n === max).map(([s]) => s));
}

/**
 * Extracts recovery codes from text pasted from a site or a downloaded codes file: one or more
 * codes per line (separated by commas, tabs or two or more spaces), list numbering dropped,
 * duplicates, blank lines and header or prose lines ignored. A line that holds anything that
 * is not a code is treated as prose and ignored as a whole ("Generated: Jan 01, 2024").
 */
export function parseRecoveryCodes(text: string): string[] {
  const seen = new Set<string>();
  const fields: Field[] = [];
  for (const line of text.split(/\r?\n|\r/)) {
    if (line.trim() === "") continue;
    const parts = line
      .replace(/\u00a0/g, " ")
      .trim()
      .replace(NUMBERING, "")
      .split(FIELD_SEPARATOR)
      .map((p) => p.trim())
      .filter((p) => p !== "" && !NUMBERING_ALONE.test(p));
    const classified = parts.map(classifyField);
    if (classified.length === 0 || classified.some((f) => f === null)) continue;
    for (const f of classified as Field[]) {
      if (seen.has(f.code)) continue;
      seen.add(f.code);
      fields.push(f);
    }
  }
  const strong = fields.filter((f) => f.strong);
  // With no code holding a digit (rare: a list of letter-only codes), keep the layout that repeats.
  const reference = strong.length > 0 ? strong : fields;
  const shapes = commonShapes(reference);
  const repeats = strong.length > 0 || reference.filter((f) => shapes.has(f.shape)).length >= 2;
  return fields.filter((f) => f.strong || (repeats && shapes.has(f.shape))).map((f) => f.code);
}

/** How a typed code is compared with a stored one: case, spaces and dashes do not matter. */
function foldCode(code: string): string {
  return code.replace(/[\s-]/g, "").toUpperCase();
}

/**
 * Marks a recovery code as used on `date` (YYYY-MM-DD): the given one, or the first unused one.
 * Throws a UserError, without repeating the code, when it is unknown or already used.
 */
export function useRecoveryCode(
  e: Entry,
  code: string | undefined,
  date: string,
): { entry: Entry; used: RecoveryCode } {
  let index: number;
  if (code === undefined) {
    index = e.recovery.findIndex((r) => !r.used);
    if (index < 0) throw new UserError("no unused recovery codes are left");
  } else {
    const want = foldCode(code);
    index = e.recovery.findIndex((r) => foldCode(r.code) === want && !r.used);
    if (index < 0) {
      const used = e.recovery.find((r) => foldCode(r.code) === want);
      if (used) throw new UserError(`that recovery code was already used on ${used.used}`);
      throw new UserError("that recovery code is not in the entry");
    }
  }
  const used = { code: e.recovery[index].code, used: date };
  const recovery = e.recovery.map((r, i) => (i === index ? used : r));
  return { entry: { ...e, recovery }, used };
}
