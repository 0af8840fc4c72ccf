import { UsageError, UserError } from "../core/errors.js";
import { type Args, type Ctx, flag } from "./context.js";

const taken = new WeakMap<Args, Promise<string | undefined>>();

/**
 * The password a flag gives (--password-file: its first line; --password-env: a variable), if any.
 * Read once per command run: the variable is removed from the environment after reading.
 */
export function passwordFromFlags(ctx: Ctx, args: Args): Promise<string | undefined> {
  let p = taken.get(args);
  if (!p) {
    p = readPasswordFlags(ctx, args);
    taken.set(args, p);
  }
  return p;
}

async function readPasswordFlags(ctx: Ctx, args: Args): Promise<string | undefined> {
  const file = flag(args, "password-file");
  const env = flag(args, "password-env");
  if (file !== undefined && env !== undefined) {
    throw new UsageError("give either --password-file or --password-env, not both");
  }
  if (env !== undefined) {
    const v = ctx.env[env];
    if (v === undefined || v === "") throw new UserError(`the environment variable ${env} is not set`);
    // gpg and git inherit our environment: the password must not travel on to them.
    delete (ctx.env as Record<string, string | undefined>)[env];
    return v;
  }
  if (file !== undefined) {
    const { readFile } = await import("node:fs/promises");
    const { resolve } = await import("node:path");
    let text: string;
    try {
      text = await readFile(resolve(ctx.cwd, file), "utf8");
    } catch (e) {
      throw new UserError(`cannot read the password file ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
    const line = text.split(/\r?\n/, 1)[0];
    if (line === "") throw new UserError(`the password file ${file} is empty`);
    return line;
  }
  return undefined;
}
