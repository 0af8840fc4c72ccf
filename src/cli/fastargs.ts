// A parser for the plain argument lists people type every day (`code github --at 59 -c`), so
// that node:util is not loaded for them: inside the Bun binary that module costs ~4 ms of CPU,
// a fifth of `sparekey code`. It accepts only a strict subset of parseArgs' syntax and gives the
// same result there; anything else (`--x=y`, `--`, grouped or unknown flags, a value that looks
// like a flag) returns undefined and goes to the real parseArgs, which also words the errors.
import type { ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Value = string | boolean | (string | boolean)[] | undefined;

/** parseArgs' result for `argv` when it is plain enough to be sure of it; else undefined. */
export function parsePlainArgs(
  options: Options,
  argv: readonly string[],
): { positionals: string[]; values: Record<string, Value> } | undefined {
  const values: Record<string, Value> = Object.create(null);
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg.length < 2 || !arg.startsWith("-")) {
      positionals.push(arg);
      continue;
    }
    let name: string | undefined;
    if (arg.startsWith("--")) {
      name = arg.slice(2);
      if (name === "" || name.includes("=") || !Object.hasOwn(options, name)) return undefined;
    } else {
      if (arg.length !== 2) return undefined;
      name = Object.keys(options).find((k) => options[k].short === arg[1]);
      if (name === undefined) return undefined;
    }
    const opt = options[name];
    let value: string | boolean = true;
    if (opt.type === "string") {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("-")) return undefined;
      value = next;
      i++;
    }
    if (opt.multiple) values[name] = [...((values[name] as (string | boolean)[] | undefined) ?? []), value];
    else values[name] = value;
  }
  for (const [name, opt] of Object.entries(options)) {
    if (values[name] === undefined && opt.default !== undefined) values[name] = opt.default;
  }
  return { positionals, values };
}
