// Running a child process cheaply in both runtimes. Inside the Bun binary, node:child_process is
// a JS shim over Node's streams that costs ~10 ms of CPU to load, more than the gpg decrypt it
// runs; Bun.spawn is built in. Under Node, node:child_process is loaded on first use only.

/** What a child process left behind. */
export interface ProcessResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Options for {@link runProcess}. */
export interface ProcessOptions {
  env: Readonly<Record<string, string | undefined>>;
  input?: Uint8Array | string;
  cwd?: string;
}

/** The part of Bun's API used here (no @types/bun in this project). */
interface BunSpawn {
  spawn(
    cmd: string[],
    opts: {
      env: Record<string, string | undefined>;
      cwd?: string;
      stdin: Uint8Array;
      stdout: "pipe";
      stderr: "pipe";
    },
  ): {
    stdout: ReadableStream<Uint8Array>;
    stderr: ReadableStream<Uint8Array>;
    exited: Promise<number>;
    signalCode: string | null;
  };
}

function isEnoent(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

const notFound = (cmd: string): ProcessResult => ({
  code: 127,
  stdout: Buffer.alloc(0),
  stderr: `${cmd}: not found`,
});

/**
 * Runs a program with arguments (never a shell) and optional stdin bytes, collecting stdout as
 * bytes. A missing program is code 127; death by a signal is 128.
 */
export async function runProcess(
  cmd: string,
  args: readonly string[],
  opts: ProcessOptions,
): Promise<ProcessResult> {
  const input =
    typeof opts.input === "string" ? Buffer.from(opts.input, "utf8") : (opts.input ?? new Uint8Array(0));
  const bun = (globalThis as { Bun?: BunSpawn }).Bun;
  if (bun) {
    let child: ReturnType<BunSpawn["spawn"]>;
    try {
      child = bun.spawn([cmd, ...args], {
        env: Object.fromEntries(Object.entries(opts.env).filter(([, v]) => v !== undefined)),
        cwd: opts.cwd,
        stdin: input,
        stdout: "pipe",
        stderr: "pipe",
      });
    } catch (e) {
      if (isEnoent(e)) return notFound(cmd);
      throw e;
    }
    const [out, err, code] = await Promise.all([
      new Response(child.stdout).arrayBuffer(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    return { code: child.signalCode ? 128 : code, stdout: Buffer.from(out), stderr: err };
  }
  const { spawn } = await import("node:child_process");
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env as NodeJS.ProcessEnv,
      cwd: opts.cwd,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => (isEnoent(e) ? resolve(notFound(cmd)) : reject(e)));
    child.on("close", (code, signal) => {
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
    // A child that exits before reading stdin (gpg with a bad option) must not crash us with EPIPE.
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  });
}
