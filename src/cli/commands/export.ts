import type { Account } from "../../core/account.js";
import { describeAccount } from "../../core/account.js";
import { parseEntry } from "../../core/entry.js";
import { UsageError, UserError } from "../../core/errors.js";
import { matchQueries } from "../../core/names.js";
import { EXPORT_FORMATS } from "../../formats/registry.js";
import type { ExportFormat } from "../../formats/types.js";
import { readMany } from "../../stores/store.js";
import { type Args, type Ctx, flag, has } from "../context.js";
import { count } from "../importplan.js";
import { passwordFromFlags } from "../password.js";
import { writePrivateFile } from "../util.js";

export const name = "export";
export const summary =
  "Export 2FA keys for another app: URIs, Google QR codes, Aegis, 2FAS, Bitwarden, Apple, Ente, KeePass";
export const usage =
  "sparekey export --format F [-o FILE|DIR] [QUERY...] [--password-file FILE | --password-env NAME] [--plain] [--yes]";
export const options = {
  format: { type: "string", short: "f" },
  output: { type: "string", short: "o" },
  "password-file": { type: "string" },
  "password-env": { type: "string" },
  plain: { type: "boolean" },
  yes: { type: "boolean", short: "y" },
} as const;

/** The accounts to export, by name; an entry that cannot be read is reported and left out. */
async function selectAccounts(
  ctx: Ctx,
  queries: string[],
): Promise<{ name: string; account: Account; recovery: string[] }[]> {
  const store = await ctx.openStore();
  const names = matchQueries(await store.list(), queries);
  if (names.length === 0) throw new UserError("the store has no 2FA keys to export");
  const texts = await readMany(store, names);
  const out: { name: string; account: Account; recovery: string[] }[] = [];
  for (const n of names) {
    const r = texts.get(n)!;
    if ("error" in r) {
      ctx.stderr(`warning: ${n}: cannot be read (${r.error.message.split("\n")[0]}); not exported`);
      continue;
    }
    try {
      const e = parseEntry(r.text);
      if (!e.account) {
        ctx.stderr(`warning: ${n}: it has no otpauth:// line; not exported`);
        continue;
      }
      out.push({
        name: n,
        account: e.account,
        recovery: e.recovery.filter((c) => !c.used).map((c) => c.code),
      });
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      ctx.stderr(`warning: ${n}: ${e.message}; not exported`);
    }
  }
  return out;
}

/** The password of an encrypted export: from a flag, or asked twice on the terminal. */
async function exportPassword(ctx: Ctx, args: Args, fmt: ExportFormat): Promise<string> {
  const fromFlag = await passwordFromFlags(ctx, args);
  if (fromFlag !== undefined) return fromFlag;
  if (!ctx.stdinIsTTY) {
    throw new UsageError(
      `--format ${fmt.id} is encrypted: give --password-file or --password-env${fmt.canPlain ? " (or --plain)" : ""}`,
    );
  }
  const first = await ctx.prompt(`New password for the ${fmt.label}: `, { secret: true });
  if (first === null || first === "") throw new UserError("no password given; nothing written");
  const second = await ctx.prompt("Repeat the password: ", { secret: true });
  if (second !== first) throw new UserError("the passwords differ; nothing written");
  return first;
}

/** Asks before writing keys in the clear (on a terminal, unless --yes). */
async function confirmPlain(ctx: Ctx, args: Args, n: number, where: string): Promise<boolean> {
  if (!ctx.stdinIsTTY || has(args, "yes")) return true;
  ctx.stderr(
    `This writes ${count(n, "2FA key")} UNENCRYPTED to ${where}: anyone who reads it can make your codes.`,
  );
  const answer = await ctx.prompt("Write it? [y/N] ");
  return answer !== null && /^\s*y/i.test(answer);
}

/** Writes a file 0600 atomically and reads it back. */
async function writeChecked(path: string, bytes: Uint8Array): Promise<void> {
  await writePrivateFile(path, bytes);
  const { readFile } = await import("node:fs/promises");
  const back = new Uint8Array(await readFile(path));
  if (back.length !== bytes.length || back.some((b, i) => b !== bytes[i])) {
    throw new UserError(`${path}: the file read back differs from what was written`);
  }
}

/** Shows QR codes on the terminal one after another, for scanning with the phone. */
async function showCodes(ctx: Ctx, texts: string[]): Promise<void> {
  const { renderQrTerminal } = await import("../../render/qr.js");
  for (let i = 0; i < texts.length; i++) {
    ctx.stdout(`\n${renderQrTerminal(texts[i])}`);
    const last = i === texts.length - 1;
    const answer = await ctx.prompt(
      `Code ${i + 1} of ${texts.length}: scan it in Google Authenticator (Transfer accounts > Import)${last ? ", then press Enter " : "; Enter for the next "}`,
    );
    if (answer === null) break;
  }
}

export async function run(ctx: Ctx, args: Args): Promise<number> {
  const id = flag(args, "format");
  if (id === undefined)
    throw new UsageError(`name the format with --format (${Object.keys(EXPORT_FORMATS).join(", ")})`);
  if (!EXPORT_FORMATS[id]) {
    throw new UsageError(`unknown format "${id}" (one of: ${Object.keys(EXPORT_FORMATS).join(", ")})`);
  }
  const fmt = await EXPORT_FORMATS[id]();
  const output = flag(args, "output");
  const plain = has(args, "plain");
  if (plain && fmt.encrypted && !fmt.canPlain)
    throw new UsageError(`--format ${fmt.id} is always encrypted; drop --plain`);
  const encrypt = fmt.encrypted && !plain;
  const multi = fmt.id === "google";
  if (output === undefined && !multi && fmt.id !== "uris") {
    throw new UsageError(`--format ${fmt.id} needs -o FILE`);
  }
  if (output === undefined && multi && !(ctx.stdinIsTTY && ctx.stdoutIsTTY)) {
    throw new UsageError("--format google needs -o DIR (or a terminal to show the codes on)");
  }

  const selected = await selectAccounts(ctx, args.positionals);
  // Say what the target cannot hold, or will show wrongly, before anything is written.
  const keep: typeof selected = [];
  for (const s of selected) {
    const lim = fmt.limitation(s.account);
    if (lim?.effect === "drop")
      ctx.stderr(`not exported: ${s.name} (${describeAccount(s.account)}): ${lim.why}`);
    else {
      if (lim) ctx.stderr(`warning: ${s.name} (${describeAccount(s.account)}): ${lim.why}`);
      keep.push(s);
    }
  }
  if (keep.length === 0)
    throw new UserError(`none of the selected keys fits the ${fmt.label} format; nothing written`);

  const { resolve } = await import("node:path");
  const target = output === undefined ? undefined : resolve(ctx.cwd, output);
  let password: string | undefined;
  if (encrypt) password = await exportPassword(ctx, args, fmt);
  else if (target !== undefined && !(await confirmPlain(ctx, args, keep.length, output!))) {
    ctx.stderr("Export cancelled; nothing written.");
    return 1;
  }

  const encoded = await fmt.encode(keep, { password, randomBytes: ctx.randomBytes, now: ctx.now() });
  const how = `${fmt.label}${encrypt ? ", encrypted" : ""}`;
  if (encoded instanceof Uint8Array) {
    if (target === undefined) {
      ctx.stdout(new TextDecoder().decode(encoded));
      ctx.stderr(`Exported ${count(keep.length, "key")} (${how}).`);
      return 0;
    }
    await writeChecked(target, encoded);
    ctx.stderr(`Exported ${count(keep.length, "key")} to ${output} (${how}).`);
    return 0;
  }
  if (target !== undefined) {
    const { mkdir } = await import("node:fs/promises");
    const { join } = await import("node:path");
    try {
      await mkdir(target, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new UserError(`cannot create ${output}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
    for (const f of encoded.files) await writeChecked(join(target, f.name), f.bytes);
    ctx.stderr(
      `Exported ${count(keep.length, "key")} as ${count(encoded.files.length, "QR code")} in ${output}: ${encoded.files.map((f) => f.name).join(", ")}`,
    );
  }
  const texts = encoded.files.map((f) => f.text).filter((t): t is string => t !== undefined);
  if (texts.length > 0 && ctx.stdinIsTTY && ctx.stdoutIsTTY) {
    if (target !== undefined) {
      const answer = await ctx.prompt("Show the codes here to scan them now? [y/N] ");
      if (answer === null || !/^\s*y/i.test(answer)) return 0;
    }
    await showCodes(ctx, texts);
  }
  return 0;
}
