// Writing to stdout/stderr without touching process.stdout: in the Bun-compiled binary the first
// use of process.stdout or process.stderr builds Node's stream machinery and costs ~17 ms of CPU,
// more than everything else `sparekey code` does. A synchronous write(2) costs microseconds.
import { writeSync } from "node:fs";

const mode: Record<1 | 2, "sync" | "stream" | "closed"> = { 1: "sync", 2: "sync" };

/**
 * Writes all of `text` to fd 1 or 2, synchronously while the descriptor accepts it. When it would
 * block (a non-blocking pipe whose reader is slow), the rest goes through process.stdout/stderr,
 * and so does every later write to that descriptor, which keeps the output in order. A reader
 * that went away (`sparekey list | head -1`) ends the output quietly, as with other CLI tools.
 */
export function writeOut(fd: 1 | 2, text: string | Uint8Array): void {
  let buf = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  if (buf.length === 0 || mode[fd] === "closed") return;
  if (mode[fd] === "sync") {
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EPIPE") {
        mode[fd] = "closed";
        return;
      }
      if (code !== "EAGAIN") throw e;
    }
    mode[fd] = "stream";
    buf = buf.subarray(off);
  }
  (fd === 1 ? process.stdout : process.stderr).write(buf);
}
