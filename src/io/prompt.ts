import { once } from "node:events";

/**
 * Line input for prompts. One reader for the life of the process, so that several lines that
 * arrive together on a pipe are handed out one per question instead of being lost.
 */
class LineReader {
  private buffer = "";
  private ended = false;
  private started = false;

  private start(): void {
    if (this.started) return;
    this.started = true;
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (d: string) => {
      this.buffer += d;
    });
    process.stdin.on("end", () => {
      this.ended = true;
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
      process.stdin.resume();
      await Promise.race([once(process.stdin, "data"), once(process.stdin, "end")]);
    }
  }

  pause(): void {
    if (this.started) process.stdin.pause();
  }
}

const reader = new LineReader();

/** Reads a line on a TTY in raw mode without echoing it; Ctrl-C raises SIGINT, Ctrl-D ends input. */
async function readHidden(): Promise<string | null> {
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.setEncoding("utf8");
  stdin.resume();
  let value = "";
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
          process.kill(process.pid, "SIGINT");
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
    stdin.setRawMode(false);
    stdin.pause();
  }
}

/**
 * Asks a question on stderr and reads the answer from stdin; null on end of input.
 * Secret answers are not echoed when stdin is a terminal.
 */
export async function prompt(question: string, opts: { secret?: boolean } = {}): Promise<string | null> {
  process.stderr.write(question);
  if (opts.secret && process.stdin.isTTY) return readHidden();
  const line = await reader.readLine();
  reader.pause();
  return line;
}
