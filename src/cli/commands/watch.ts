import type { Account } from "../../core/account.js";
import { conflictOf } from "../../core/audit.js";
import { parseEntry } from "../../core/entry.js";
import { UsageError } from "../../core/errors.js";
import { generateCode, secondsLeft } from "../../core/otp.js";
import { parseTime } from "../../core/time.js";
import { readMany, type Store } from "../../stores/store.js";
import { type Args, type Ctx, flag } from "../context.js";

export const name = "watch";
export const summary = "Show every code live, with a countdown; type to filter, Enter copies, q quits";
export const usage = "sparekey watch [QUERY] [--at TIME]";
export const options = {
  at: { type: "string" },
} as const;

/** One account on screen; `error` when its entry could not be read. */
export interface CodeRow {
  name: string;
  account?: Account;
  error?: string;
}

/** Decrypts the named entries in parallel (bounded) and keeps their keys; broken ones keep their error. */
export async function loadCodeRows(store: Store, names: readonly string[]): Promise<CodeRow[]> {
  const texts = await readMany(store, names);
  return names.map((n) => {
    const got = texts.get(n)!;
    if ("error" in got) return { name: n, error: got.error.message.split("\n")[0] };
    try {
      const e = parseEntry(got.text);
      return e.account ? { name: n, account: e.account } : { name: n, error: "no otpauth:// line" };
    } catch (err) {
      return { name: n, error: err instanceof Error ? err.message : String(err) };
    }
  });
}

/** The code shown for a row: HOTP shows "-" so that looking never uses up a counter. */
export function rowCode(r: CodeRow, atMs: number): string {
  if (!r.account) return "?";
  return r.account.kind === "hotp" ? "-" : generateCode(r.account, atMs);
}

/** `list --codes`: name and current code of every account, aligned; unreadable entries go to stderr. */
export async function printCodes(
  ctx: Ctx,
  store: Store,
  names: readonly string[],
  at: string | undefined,
): Promise<number> {
  const atMs = at === undefined ? ctx.now() : parseTime(at);
  const rows = await loadCodeRows(
    store,
    names.filter((n) => !conflictOf(n)),
  );
  const width = Math.max(0, ...rows.map((r) => r.name.length));
  const out = rows.filter((r) => r.account).map((r) => `${r.name.padEnd(width)}  ${rowCode(r, atMs)}\n`);
  ctx.stdout(out.join(""));
  let failed = 0;
  for (const r of rows)
    if (r.error) {
      failed++;
      ctx.stderr(`sparekey: ${r.name}: ${r.error}`);
    }
  return failed > 0 ? 1 : 0;
}

/** What the watch screen shows besides the codes. */
export interface WatchState {
  filter: string;
  /** Index into the filtered rows. */
  selected: number;
  /** First filtered row on screen. */
  top: number;
  message: string;
}

/** The rows the filter keeps: every word of the filter is a case-insensitive part of the name or issuer. */
export function filterRows(rows: readonly CodeRow[], filter: string): CodeRow[] {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  return rows.filter((r) => {
    const hay = `${r.name} ${r.account?.issuer ?? ""} ${r.account?.account ?? ""}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

/** A code split in two halves as phone apps show it ("123 456"); Steam and odd lengths stay whole. */
function spaced(code: string): string {
  if (!/^\d{6,}$/.test(code) || code.length % 2 !== 0) return code;
  return `${code.slice(0, code.length / 2)} ${code.slice(code.length / 2)}`;
}

const BAR = 10;

/**
 * Draws one frame, as the text for a full-screen terminal of `cols`×`lines`: a title, the
 * filter line, one line per visible account with its code and countdown bar, and a help line.
 * Adjusts `state.top` so that the selected row is visible.
 */
export function renderWatch(
  rows: readonly CodeRow[],
  state: WatchState,
  atMs: number,
  cols: number,
  lines: number,
  color: boolean,
): string {
  const shown = filterRows(rows, state.filter);
  const clip = (s: string) => (s.length > cols ? `${s.slice(0, Math.max(0, cols - 1))}…` : s);
  const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const out: string[] = [];
  const stamp = new Date(atMs).toISOString().slice(11, 19);
  out.push(clip(`sparekey watch  ${shown.length}/${rows.length} accounts  ${stamp} UTC`));
  out.push(clip(`filter: ${state.filter}`));
  const room = Math.max(1, lines - 4);
  if (state.selected >= shown.length) state.selected = Math.max(0, shown.length - 1);
  if (state.selected < state.top) state.top = state.selected;
  if (state.selected >= state.top + room) state.top = state.selected - room + 1;
  if (state.top > Math.max(0, shown.length - room)) state.top = Math.max(0, shown.length - room);
  const width = Math.min(40, Math.max(4, ...shown.map((r) => r.name.length)));
  for (let i = state.top; i < Math.min(shown.length, state.top + room); i++) {
    const r = shown[i];
    const mark = i === state.selected ? ">" : " ";
    const label = r.name.length > width ? `${r.name.slice(0, width - 1)}…` : r.name.padEnd(width);
    let tail: string;
    if (!r.account) tail = paint("31", `unreadable: ${r.error ?? ""}`);
    else if (r.account.kind === "hotp") tail = `${"-".padEnd(9)}  (HOTP: sparekey code ${r.name})`;
    else {
      const left = secondsLeft(r.account, atMs);
      const fill = Math.ceil((left / r.account.period) * BAR);
      const bar = "█".repeat(fill) + "░".repeat(BAR - fill);
      const code = spaced(generateCode(r.account, atMs)).padEnd(9);
      tail = `${left <= 5 ? paint("31", code) : paint("1", code)}  ${left <= 5 ? paint("31", bar) : bar} ${String(left).padStart(2)}s`;
    }
    const line = `${mark} ${label}  ${tail}`;
    out.push(i === state.selected && color ? `\x1b[7m${mark}\x1b[0m${line.slice(1)}` : line);
  }
  if (shown.length === 0) out.push(rows.length === 0 ? "  (no accounts)" : "  (nothing matches the filter)");
  while (out.length < lines - 1) out.push("");
  out.push(clip(state.message || "type to filter · ↑↓ move · Enter copy · Esc clear · q quit"));
  return out.slice(0, lines).join("\r\n");
}

/** How a key press changes the state; "quit" and "copy" are for the caller. */
export function applyKey(
  state: WatchState,
  key: string,
  visible: number,
): "quit" | "copy" | "redraw" | "none" {
  switch (key) {
    case "\x03":
    case "\x04":
      return "quit";
    case "\x1b":
      if (state.filter === "") return "quit";
      state.filter = "";
      state.selected = 0;
      return "redraw";
    case "\r":
    case "\n":
      return "copy";
    case "\x1b[A":
    case "\x1bOA":
    case "\x10":
      state.selected = Math.max(0, state.selected - 1);
      return "redraw";
    case "\x1b[B":
    case "\x1bOB":
    case "\x0e":
      state.selected = Math.min(Math.max(0, visible - 1), state.selected + 1);
      return "redraw";
    case "\x1b[5~":
      state.selected = Math.max(0, state.selected - 10);
      return "redraw";
    case "\x1b[6~":
      state.selected = Math.min(Math.max(0, visible - 1), state.selected + 10);
      return "redraw";
    case "\x7f":
    case "\b":
      state.filter = state.filter.slice(0, -1);
      state.selected = 0;
      return "redraw";
    case "\x15":
      state.filter = "";
      state.selected = 0;
      return "redraw";
  }
  if (key === "q" && state.filter === "") return "quit";
  if (key.length === 1 && key >= " ") {
    state.filter += key;
    state.selected = 0;
    state.message = "";
    return "redraw";
  }
  return "none";
}

/** Splits a chunk of terminal input into keys (escape sequences kept whole). */
export function splitKeys(chunk: string): string[] {
  const keys: string[] = [];
  // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences are what we parse
  const re = /\x1b\[[0-9;]*[A-Za-z~]|\x1bO[A-Za-z]|\x1b|[\s\S]/gu;
  for (const m of chunk.matchAll(re)) keys.push(m[0]);
  return keys;
}

/**
 * The phone app's main screen in the terminal. Needs a terminal on stdin and stdout: without one
 * it is a usage error that points at `list --codes`, which prints the same codes once.
 */
export async function run(ctx: Ctx, args: Args): Promise<number> {
  if (args.positionals.length > 1) throw new UsageError("give at most one QUERY");
  const at = flag(args, "at");
  const offset = at === undefined ? 0 : parseTime(at) - ctx.now();
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UsageError("watch needs a terminal; to print every code once, use: sparekey list --codes");
  }
  const store = await ctx.openStore();
  const names = (await store.list()).filter((n) => !conflictOf(n));
  const rows = await loadCodeRows(store, names);
  const state: WatchState = { filter: args.positionals[0] ?? "", selected: 0, top: 0, message: "" };
  const color = !ctx.env.NO_COLOR && ctx.env.TERM !== "dumb";
  const out = process.stdout;
  const stdin = process.stdin;

  const draw = (): void => {
    const frame = renderWatch(rows, state, ctx.now() + offset, out.columns || 80, out.rows || 24, color);
    out.write(`\x1b[H\x1b[2J${frame}`);
  };

  return await new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const tick = (): void => {
      draw();
      // Redraw just after each second boundary, so the countdown and code flip on time.
      timer = setTimeout(tick, 1000 - ((ctx.now() + offset) % 1000) + 5);
    };
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      stdin.off("data", onData);
      out.off("resize", draw);
      process.off("SIGTERM", onSignal);
      process.off("SIGHUP", onSignal);
      try {
        stdin.setRawMode(false);
      } catch {
        // The terminal may already be gone (SIGHUP).
      }
      stdin.pause();
      // Leave the alternate screen and show the cursor again: the shell gets its screen back.
      out.write("\x1b[?25h\x1b[?1049l");
      resolve(code);
    };
    const onSignal = (): void => finish(130);
    const onData = (chunk: string): void => {
      for (const key of splitKeys(chunk)) {
        const visible = filterRows(rows, state.filter);
        const what = applyKey(state, key, visible.length);
        if (what === "quit") {
          finish(0);
          return;
        }
        if (what === "copy") {
          const r = visible[state.selected];
          if (!r?.account) state.message = r ? `${r.name} cannot be read` : "nothing selected";
          else if (r.account.kind === "hotp") state.message = `HOTP: run sparekey code ${r.name}`;
          else {
            const code = generateCode(r.account, ctx.now() + offset);
            state.message = "copying…";
            import("../../io/clipboard.js")
              .then(({ clipText }) => clipText(code, ctx.env as NodeJS.ProcessEnv))
              .then((s) => {
                state.message = `Copied ${r.name}'s code; the clipboard clears in ${s} s.`;
              })
              .catch((e: unknown) => {
                state.message = e instanceof Error ? e.message : String(e);
              })
              .finally(() => {
                if (!done) draw();
              });
          }
        }
      }
      draw();
    };
    stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    stdin.on("data", onData);
    stdin.resume();
    out.on("resize", draw);
    process.on("SIGTERM", onSignal);
    process.on("SIGHUP", onSignal);
    out.write("\x1b[?1049h\x1b[?25l");
    tick();
  });
}
