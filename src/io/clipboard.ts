import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { UserError } from "../core/errors.js";

/**
 * One clipboard program: how to put text on the clipboard (the text goes to its stdin) and how
 * to read the clipboard back (it prints it on stdout). Commands are argv arrays with no secret.
 */
export interface ClipboardTool {
  name: string;
  copy: string[];
  paste: string[];
  /** Empties the clipboard; when absent, `copy` is run with empty input. */
  clear?: string[];
}

/** The tools sparekey knows, in the order they are tried; each needs its display to be usable. */
export const CLIPBOARD_TOOLS: readonly (ClipboardTool & { needs?: string })[] = [
  {
    name: "wl-copy",
    copy: ["wl-copy"],
    paste: ["wl-paste", "-n"],
    clear: ["wl-copy", "--clear"],
    needs: "WAYLAND_DISPLAY",
  },
  {
    name: "xclip",
    copy: ["xclip", "-selection", "clipboard"],
    paste: ["xclip", "-selection", "clipboard", "-o"],
    needs: "DISPLAY",
  },
  {
    name: "xsel",
    copy: ["xsel", "--clipboard", "--input"],
    paste: ["xsel", "--clipboard", "--output"],
    clear: ["xsel", "--clipboard", "--delete"],
    needs: "DISPLAY",
  },
  { name: "pbcopy", copy: ["pbcopy"], paste: ["pbpaste"] },
];

/** Whether an executable of that name is on PATH. */
function onPath(cmd: string, path: string): boolean {
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/**
 * Picks the clipboard tool for this session: the first one installed whose display is set
 * (Wayland before X11, then macOS). Undefined when there is none.
 */
export function findClipboardTool(
  env: Readonly<Record<string, string | undefined>>,
): ClipboardTool | undefined {
  const path = env.PATH ?? "";
  for (const t of CLIPBOARD_TOOLS) {
    if (t.needs && !env[t.needs]) continue;
    if (onPath(t.copy[0], path) && onPath(t.paste[0], path)) return t;
  }
  return undefined;
}

/** Runs a tool with `input` on its stdin and waits for it; its output is not kept. */
function runWithInput(argv: string[], input: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    // stdout/stderr are not pipes: xclip and wl-copy fork a server that keeps them open.
    const child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "ignore", "ignore"], env });
    child.on("error", (e) => reject(new UserError(`could not run ${argv[0]}: ${e.message}`)));
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new UserError(`${argv[0]} failed (exit status ${code})`)),
    );
    child.stdin.end(input);
  });
}

/** Copies text to the clipboard; the text goes over the tool's stdin, never its argv. */
export async function copyToClipboard(
  tool: ClipboardTool,
  text: string,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  await runWithInput(tool.copy, text, env);
}

/** Quotes one word for sh. */
function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The shell script of the clearer: it reads the code from stdin, waits, and empties the clipboard
 * only if it still holds that code (so a password copied since is left alone).
 */
export function clearScript(tool: ClipboardTool, seconds: number): string {
  const paste = tool.paste.map(shQuote).join(" ");
  const clear = tool.clear
    ? `${tool.clear.map(shQuote).join(" ")} </dev/null`
    : `${tool.copy.map(shQuote).join(" ")} </dev/null`;
  return [
    "IFS= read -r code",
    "exec </dev/null",
    `sleep ${Math.max(0, Math.floor(seconds))}`,
    `now=$(${paste} 2>/dev/null)`,
    `[ "$now" = "$code" ] && ${clear} >/dev/null 2>&1`,
    "exit 0",
  ].join("\n");
}

/**
 * Starts a detached background process that clears the clipboard after `seconds` if it still
 * holds `text`. The text reaches it on stdin; the process outlives sparekey.
 */
export function scheduleClear(
  tool: ClipboardTool,
  text: string,
  seconds: number,
  env: NodeJS.ProcessEnv,
): void {
  const child = spawn("/bin/sh", ["-c", clearScript(tool, seconds)], {
    detached: true,
    stdio: ["pipe", "ignore", "ignore"],
    env,
  });
  child.on("error", () => {
    // Best effort: a clearer that cannot start must not turn a copied code into a failure.
  });
  child.stdin.end(`${text}\n`);
  child.unref();
}

/** PASSWORD_STORE_CLIP_TIME as pass reads it: whole seconds, 45 when unset or invalid. */
export function clipSeconds(env: Readonly<Record<string, string | undefined>>): number {
  const v = env.PASSWORD_STORE_CLIP_TIME;
  return v && /^\d+$/.test(v.trim()) ? Number(v.trim()) : 45;
}

/**
 * Copies `text` and schedules its clearing; returns the seconds until it clears.
 * A UserError when no clipboard tool is available.
 */
export async function clipText(text: string, env: NodeJS.ProcessEnv): Promise<number> {
  const tool = findClipboardTool(env);
  if (!tool) {
    throw new UserError("no clipboard tool found: install wl-clipboard (Wayland), xclip or xsel (X11)");
  }
  await copyToClipboard(tool, text, env);
  const seconds = clipSeconds(env);
  scheduleClear(tool, text, seconds, env);
  return seconds;
}
