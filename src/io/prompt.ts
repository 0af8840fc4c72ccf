import { once } from "node:events";

/**
 * Line input for prompts. One reader for the life of the process, so that several lines that
 * arrive together on a pipe are handed out one per question instead of being lost.
 */
class LineReader {
  private buffer = "";
  private ended = false;
  private started = false;
  /** Wakes the one pending wait when input arrives or ends (one listener pair, never one per wait). */
  private wake: (() => void) | undefined;

  private start(): void {
    if (this.started) return;
    this.started = true;
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (d: string) => {
      // Keystrokes of a hidden answer belong to readHidden alone, never to the next line read.
      if (!hiddenActive) this.buffer += d;
      this.wake?.();
    });
    process.stdin.on("end", () => {
      this.ended = true;
      this.wake?.();
    });
  }

  async readLine(): Promise<string | null> {
    this.start();
    for (;;) {
      const nl = this.buffer.indexOf("\n");
      if (nl >= 0) {
        const line = this.buffer.slice(0, nl).replace(/\r$/, "");
        this.buffer = this.buffer.slice(nl + 1);
        return line;
      }
      if (this.ended) {
        if (this.buffer === "") return null;
        const line = this.buffer;
        this.buffer = "";
        return line;
      }
      await this.wait();
    }
  }

  /** Resumes stdin until input arrives or ends, or `ms` pass. */
  private async wait(ms?: number): Promise<void> {
    process.stdin.resume();
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      if (ms !== undefined) timer = setTimeout(resolve, ms);
    });
    this.wake = undefined;
    clearTimeout(timer);
  }

  /** Whether more input is buffered or arrives within `ms` (the rest of a paste, not a keypress). */
  async moreWithin(ms: number): Promise<boolean> {
    this.start();
    if (this.buffer !== "") return true;
    if (this.ended) return false;
    await this.wait(ms);
    return this.buffer !== "";
  }

  pause(): void {
    if (this.started) process.stdin.pause();
  }
}

/**
 * Reads pasted lines up to an empty line that nothing follows at once: blank lines inside a
 * paste arrive together with the text after them, an Enter typed by hand does not. So a pasted
 * codes file is read whole, and none of it is left over for the next question or the shell.
 */
async function readPaste(): Promise<string | null> {
  const lines: string[] = [];
  for (;;) {
    const line = await reader.readLine();
    if (line === null) return lines.length === 0 ? null : lines.join("\n");
    if (line.trim() === "" && !(await reader.moreWithin(150))) return lines.join("\n");
    lines.push(line);
  }
}

const reader = new LineReader();
let hiddenActive = false;

/** Reads a line on a TTY in raw mode without echoing it; Ctrl-C raises SIGINT, Ctrl-D ends input. */
async function readHidden(question: string): Promise<string | null> {
  const stdin = process.stdin;
  hiddenActive = true;
  stdin.setRawMode(true);
  // Only now ask: a key pasted the moment the question shows must not be echoed.
  process.stderr.write(question);
  stdin.setEncoding("utf8");
  stdin.resume();
  let value = "";
  let interrupted = false;
  try {
    for (;;) {
      const [chunk] = (await once(stdin, "data")) as [string];
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") {
          process.stderr.write("\n");
          return value;
        }
        if (ch === "\u0003") {
          process.stderr.write("\n");
          interrupted = true;
          return null;
        }
        if (ch === "\u0004") {
          if (value === "") return null;
          continue;
        }
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else if (ch >= " ") value += ch;
      }
    }
  } finally {
    hiddenActive = false;
    stdin.setRawMode(false);
    stdin.pause();
    // Raw mode turned Ctrl-C into a byte; raise it as the signal it would have been, once the
    // terminal is back to normal. Listeners run now, so a handler's exit wins over the null.
    if (interrupted) {
      if (process.listenerCount("SIGINT") > 0) process.emit("SIGINT", "SIGINT");
      else process.kill(process.pid, "SIGINT");
    }
  }
}

/**
 * Asks a question on stderr and reads the answer from stdin; null on end of input.
 * Secret answers are not echoed when stdin is a terminal. With `paste`, the answer is every
 * line up to an empty one (see readPaste), joined with newlines.
 */
export async function prompt(
  question: string,
  opts: { secret?: boolean; paste?: boolean } = {},
): Promise<string | null> {
  if (opts.secret && process.stdin.isTTY) return readHidden(question);
  // A password piped in needs no question; and when none comes, the error stays one clean line.
  if (!opts.secret) process.stderr.write(question);
  const line = opts.paste ? await readPaste() : await reader.readLine();
  reader.pause();
  return line;
}
