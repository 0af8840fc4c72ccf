import type { ParseArgsConfig } from "node:util";
import { isTypedError, UsageError, UserError } from "../core/errors.js";
import { ALIASES, COMMANDS } from "./commands/index.js";
import type { Args, CommandModule, Ctx } from "./context.js";
import { parsePlainArgs } from "./fastargs.js";

export const VERSION = "0.1.0";

const TOP_USAGE = `usage: sparekey [--store DIR] COMMAND [ARGS]

Keep a spare key for every 2FA account.

commands:
`;

async function helpText(): Promise<string> {
  const mods = await Promise.all(Object.values(COMMANDS).map((load) => load()));
  const width = Math.max(...mods.map((m) => m.name.length));
  const lines = mods.map((m) => `  ${m.name.padEnd(width)}  ${m.summary}`);
  return `${TOP_USAGE}${lines.join("\n")}\n\nRun "sparekey COMMAND --help" for a command's options.\n`;
}

/** Splits off the options that come before the command name. */
function splitGlobal(argv: string[]): { store?: string; rest: string[]; help: boolean; version: boolean } {
  let store: string | undefined;
  let i = 0;
  let help = false;
  let version = false;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--store") {
      if (i + 1 >= argv.length) throw new UsageError("--store needs a directory");
      store = argv[++i];
    } else if (a.startsWith("--store=")) store = a.slice(8);
    else if (a === "-h" || a === "--help") help = true;
    else if (a === "--version" || a === "-V") version = true;
    else if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
    else break;
  }
  return { store, rest: argv.slice(i), help, version };
}

/** Parses a command's arguments with its option table; parseArgs' errors become usage errors. */
export function parseCommandArgs(mod: CommandModule, argv: string[]): Args {
  const options: NonNullable<ParseArgsConfig["options"]> = {
    ...mod.options,
    help: { type: "boolean", short: "h" },
  };
  // Plain argument lists skip node:util, which costs the Bun binary ~4 ms to load (issue 7).
  const plain = parsePlainArgs(options, argv);
  if (plain) return plain;
  const { parseArgs } = process.getBuiltinModule?.("node:util") ?? require("node:util");
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { positionals: parsed.positionals, values: parsed.values as Args["values"] };
  } catch (e) {
    const msg =
      e instanceof Error ? e.message.split("\n")[0].replace(/\. To specify a positional.*$/, "") : String(e);
    throw new UsageError(msg);
  }
}

/**
 * Runs sparekey with the given arguments and edges, and returns the exit status. Only here do
 * typed errors become messages: UsageError exits 2, UserError exits 1, anything else is a bug.
 */
export async function main(argv: string[], makeCtx: (store?: string) => Ctx): Promise<number> {
  let ctx: Ctx | undefined;
  let mod: CommandModule | undefined;
  try {
    const g = splitGlobal(argv);
    ctx = makeCtx(g.store);
    if (g.version) {
      ctx.stdout(`sparekey ${VERSION}\n`);
      return 0;
    }
    if (g.rest.length === 0 || (g.help && g.rest.length === 0) || g.rest[0] === "help") {
      const topic = g.rest[1];
      if (topic && (COMMANDS[topic] || ALIASES[topic])) {
        const m = await COMMANDS[ALIASES[topic] ?? topic]();
        ctx.stdout(`usage: ${m.usage}\n\n${m.summary}\n`);
        return 0;
      }
      const text = await helpText();
      if (g.rest.length === 0 && !g.help) {
        ctx.stderr(text.trimEnd());
        return 2;
      }
      ctx.stdout(text);
      return 0;
    }
    const name = ALIASES[g.rest[0]] ?? g.rest[0];
    const load = COMMANDS[name];
    if (!load) throw new UsageError(`unknown command "${g.rest[0]}" (see: sparekey --help)`);
    mod = await load();
    const args = parseCommandArgs(mod, g.rest.slice(1));
    if (args.values.help) {
      ctx.stdout(`usage: ${mod.usage}\n\n${mod.summary}\n`);
      return 0;
    }
    return (await mod.run(ctx, args)) ?? 0;
  } catch (e) {
    const err = (line: string) => (ctx ? ctx.stderr(line) : process.stderr.write(`${line}\n`));
    if (e instanceof UsageError) {
      err(`sparekey: ${e.message}`);
      if (mod) err(`usage: ${mod.usage}`);
      return 2;
    }
    if (e instanceof UserError) {
      err(`sparekey: ${oneLine(e.message)}`);
      return 1;
    }
    if (isTypedError(e)) return 1;
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    err(`sparekey: internal error (${oneLine(msg)}); this is a bug, please report it`);
    if (ctx?.env.SPAREKEY_DEBUG && e instanceof Error && e.stack) err(e.stack);
    return 1;
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}
