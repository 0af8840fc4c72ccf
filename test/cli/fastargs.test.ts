import { parseArgs } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/cli/commands/index.js";
import { parsePlainArgs } from "../../src/cli/fastargs.js";
import { parseCommandArgs } from "../../src/cli/main.js";

type Options = Parameters<typeof parsePlainArgs>[0];

const OPTIONS: Options = {
  at: { type: "string" },
  clip: { type: "boolean", short: "c" },
  output: { type: "string", short: "o" },
  gpg: { type: "string", multiple: true },
  force: { type: "boolean", multiple: true },
  format: { type: "string", default: "aegis" },
  help: { type: "boolean", short: "h" },
};

/** The reference: node:util's parseArgs as main.ts calls it, or the error it throws. */
function reference(options: Options, argv: string[]) {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { positionals: r.positionals, values: { ...r.values } };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

const token = fc.oneof(
  fc.constantFrom("--at", "--clip", "-c", "-o", "--output", "--gpg", "--force", "--format", "-h", "--help"),
  fc.constantFrom("--at=5", "--", "-", "-ch", "-x", "--nope", "-5", "--clip=yes", "-o-", "", "github/alice"),
  fc.string({ maxLength: 6 }),
);

describe("parsePlainArgs", () => {
  it("agrees with parseArgs whenever it answers, and answers for plain lists", () => {
    fc.assert(
      fc.property(fc.array(token, { maxLength: 7 }), (argv) => {
        const fast = parsePlainArgs(OPTIONS, argv);
        if (fast === undefined) return;
        expect({ positionals: fast.positionals, values: { ...fast.values } }).toEqual(
          reference(OPTIONS, argv),
        );
      }),
      { numRuns: 3000 },
    );
    for (const argv of [
      ["github"],
      ["github/alice", "--at", "59", "-c"],
      ["--gpg", "A", "--gpg", "B", "dir"],
      ["-o", "out.pdf", "x", "--force", "--force"],
      [],
    ]) {
      expect(parsePlainArgs(OPTIONS, argv), argv.join(" ")).toBeDefined();
      expect({ ...parsePlainArgs(OPTIONS, argv) }.values).toEqual(
        (reference(OPTIONS, argv) as { values: unknown }).values,
      );
    }
  });

  it("leaves anything unusual to parseArgs", () => {
    for (const argv of [
      ["--at=5"],
      ["--"],
      ["-ch"],
      ["--nope"],
      ["-5"],
      ["--at"],
      ["--at", "-5"],
      ["--x=1"],
    ]) {
      expect(parsePlainArgs(OPTIONS, argv), argv.join(" ")).toBeUndefined();
    }
  });

  it("gives every real command the same result as parseArgs on a plain list", async () => {
    for (const [name, load] of Object.entries(COMMANDS)) {
      const mod = await load();
      const options: Options = { ...mod.options, help: { type: "boolean", short: "h" } };
      for (const [opt, spec] of Object.entries(options)) {
        const argv = spec.type === "string" ? ["x", `--${opt}`, "v"] : ["x", `--${opt}`];
        expect(parseCommandArgs(mod, argv), `${name} ${argv.join(" ")}`).toEqual({
          ...(reference(options, argv) as object),
        });
      }
    }
  });
});
