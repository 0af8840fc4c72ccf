import type { ParseArgsConfig } from "node:util";
import type { Store } from "../stores/store.js";

/** Everything a command may touch: the edges are injected, so commands stay testable. */
export interface Ctx {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Writes data to stdout, as is (add the newline yourself). */
  stdout(text: string): void;
  /** Writes one message line to stderr (the newline is added). */
  stderr(line: string): void;
  /** Reads all of stdin as UTF-8. */
  readStdin(): Promise<string>;
  readonly stdinIsTTY: boolean;
  readonly stdoutIsTTY: boolean;
  /** The clock, in unix milliseconds. */
  now(): number;
  /** Cryptographic randomness. */
  randomBytes(n: number): Uint8Array;
  /**
   * Opens the selected store (DESIGN.md's rules, `--store` first), scoped to the 2FA folder
   * (`SPAREKEY_PREFIX`, `2fa` by default). Throws a UserError that says to run `sparekey init`.
   */
  openStore(): Promise<Store>;
  /**
   * Asks one question on the terminal and returns the answer line; null on end of input (Ctrl-D).
   * With `secret`, the answer is not echoed. With `paste`, it is every line up to an empty one.
   */
  prompt(question: string, opts?: { secret?: boolean; paste?: boolean }): Promise<string | null>;
  /** The `--store DIR` given before the command, if any. */
  readonly storeOption?: string;
}

/** Parsed arguments, as node:util parseArgs returns them. */
export interface Args {
  positionals: string[];
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
}

/** What every file in cli/commands/ exports. */
export interface CommandModule {
  name: string;
  summary: string;
  usage: string;
  options?: NonNullable<ParseArgsConfig["options"]>;
  run(ctx: Ctx, args: Args): Promise<number | undefined>;
}

/** The string value of a flag, or undefined. */
export function flag(args: Args, name: string): string | undefined {
  const v = args.values[name];
  if (Array.isArray(v)) return v.length > 0 ? String(v[v.length - 1]) : undefined;
  return typeof v === "string" ? v : undefined;
}

/** The values of a flag that may be repeated. */
export function flags(args: Args, name: string): string[] {
  const v = args.values[name];
  if (Array.isArray(v)) return v.map(String);
  return typeof v === "string" ? [v] : [];
}

/** Whether a boolean flag was given. */
export function has(args: Args, name: string): boolean {
  return args.values[name] === true;
}
