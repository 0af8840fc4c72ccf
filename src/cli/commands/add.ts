import type { Account } from "../../core/account.js";
import { describeAccount } from "../../core/account.js";
import { canonicalSecret } from "../../core/base32.js";
import { type Entry, newEntry, parseEntry, withAccount, withMeta } from "../../core/entry.js";
import { UsageError, UserError } from "../../core/errors.js";
import { checkImportSize } from "../../core/limits.js";
import { deriveName, findCaseCollision, validateName } from "../../core/names.js";
import { formatUri, parseUri } from "../../core/uri.js";
import { type Args, type Ctx, flag, has } from "../context.js";
import { ACCOUNT_OPTIONS, accountFromFlags, saveEntry } from "../util.js";

export const name = "add";
export const summary = "Save a 2FA key (from stdin, --uri, --qr or --secret-stdin) before you scan it";
export const usage =
  "sparekey add [NAME] [--uri URI | --qr IMAGE | --secret-stdin] [--issuer I] [--account A] " +
  "[--algorithm SHA1|SHA256|SHA512] [--digits N] [--period S] [--hotp --counter N] [--steam] [--force]";
export const options = {
  uri: { type: "string" },
  qr: { type: "string" },
  "secret-stdin": { type: "boolean" },
  force: { type: "boolean", short: "f" },
  ...ACCOUNT_OPTIONS,
} as const;

/** The first non-empty line of a text, trimmed. */
function firstLine(text: string): string | undefined {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l !== "");
}

/** Turns one line of input (a URI or a bare base32 secret) into an account, applying the flags. */
export function accountFromLine(line: string, args: Args, source: string): Account {
  if (/^otpauth-migration:/i.test(line)) {
    throw new UserError(`${source} holds a Google Authenticator export; use: sparekey import`);
  }
  if (/^(otpauth|steam):\/\//i.test(line)) {
    const base = parseUri(line);
    return accountFromFlags(args, base.secret, base);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(line)) {
    throw new UserError(`invalid otpauth URI in ${source}: it must start with otpauth://`);
  }
  return accountFromFlags(args, canonicalSecret(line));
}

/** Reads the texts of the QR codes in an image through the image decoder (io/qrimage). */
async function readQrImage(ctx: Ctx, file: string): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  const { resolve } = await import("node:path");
  let bytes: Uint8Array;
  try {
    const { stat } = await import("node:fs/promises");
    checkImportSize((await stat(resolve(ctx.cwd, file))).size, file);
    bytes = new Uint8Array(await readFile(resolve(ctx.cwd, file)));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const { readQrCodes } = await import("../../io/qrimage.js");
  let found: string[];
  try {
    found = await readQrCodes(bytes);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${file}: ${e.message}`);
    throw e;
  }
  const texts = found.filter((t) => t.trim() !== "");
  if (texts.length === 0) throw new UserError(`${file}: no QR code found in the image`);
  const keys = texts.filter((t) => /^(otpauth|steam):\/\//i.test(t.trim()));
  if (keys.length === 0 && texts.some((t) => /^otpauth-migration:/i.test(t.trim()))) {
    throw new UserError(`${file} holds a Google Authenticator export; use: sparekey import ${file}`);
  }
  if (keys.length === 0) throw new UserError(`${file}: the QR code holds no otpauth:// key`);
  if (keys.length > 1) throw new UserError(`${file} holds ${keys.length} keys; use: sparekey import ${file}`);
  return keys[0].trim();
}

/**
 * The entry to write: a new one, or with --force the existing entry with its key replaced, so that
 * a password line, notes and recovery codes survive (a new key is not verified yet).
 */
function replaceKey(existing: string, account: Account): Entry {
  const lines = existing.split("\n");
  const at = lines.findIndex((l) => l.startsWith("otpauth://"));
  if (at >= 0) lines[at] = formatUri(account);
  else {
    // Append like `pass otp append`, so that a password on line 1 stays on line 1.
    if (lines.length > 0 && lines[lines.length - 1] === "")
      lines.splice(lines.length - 1, 0, formatUri(account));
    else lines.push(formatUri(account));
  }
  return withMeta(withAccount(parseEntry(lines.join("\n")), account), "verified", undefined);
}

/** Saves a key into the store; never overwrites without --force. */
export async function run(ctx: Ctx, args: Args): Promise<number> {
  if (args.positionals.length > 1) throw new UsageError("give at most one NAME");
  const sources = ["uri", "qr", "secret-stdin"].filter((s) => args.values[s] !== undefined);
  if (sources.length > 1) throw new UsageError("give only one of --uri, --qr and --secret-stdin");

  if (sources.length === 0 && ctx.stdinIsTTY && ctx.stdoutIsTTY) {
    // A literal path, so that esbuild and bun bundle the wizard.
    return (await import("../wizard.js")).runGuidedAdd(ctx, args);
  }

  let account: Account;
  const uri = flag(args, "uri");
  const qr = flag(args, "qr");
  if (uri !== undefined) {
    ctx.stderr(
      "sparekey: warning: the key is now in your shell history and was visible to other processes; " +
        "next time pipe it on stdin",
    );
    if (!/^(otpauth|steam):\/\//i.test(uri.trim()))
      throw new UserError("invalid otpauth URI: it must start with otpauth://");
    account = accountFromLine(uri.trim(), args, "--uri");
  } else if (qr !== undefined) {
    account = accountFromLine(await readQrImage(ctx, qr), args, qr);
  } else {
    const secretOnly = has(args, "secret-stdin");
    let line: string | undefined;
    if (ctx.stdinIsTTY) {
      const answer = await ctx.prompt(secretOnly ? "Base32 secret: " : "otpauth:// URI or base32 secret: ", {
        secret: true,
      });
      line = answer === null ? undefined : firstLine(answer);
    } else {
      line = firstLine(await ctx.readStdin());
    }
    if (line === undefined) {
      throw new UsageError(
        secretOnly ? "no secret on stdin" : "nothing on stdin: pipe an otpauth:// URI or a base32 secret",
      );
    }
    if (secretOnly && /^[a-z][a-z0-9+.-]*:/i.test(line)) {
      throw new UserError("--secret-stdin takes a bare base32 secret; pipe a URI without --secret-stdin");
    }
    account = accountFromLine(line, args, "stdin");
  }

  let entryName = args.positionals[0];
  if (entryName === undefined) {
    if (!account.issuer && !account.account) {
      throw new UsageError(
        "the key names no issuer or account; give a NAME (e.g. sparekey add github/alice)",
      );
    }
    entryName = deriveName(account.issuer, account.account);
  }
  validateName(entryName);
  // An app that shows no label (and pass otp, which needs one) would be left with nothing to show.
  if (!account.issuer && !account.account) account = { ...account, account: entryName };

  const store = await ctx.openStore();
  const names = await store.list();
  const clash = findCaseCollision(entryName, names);
  if (clash) {
    throw new UserError(`${entryName} differs only in case from ${clash}; pick another name or use ${clash}`);
  }
  const exists = names.includes(entryName) || (await store.exists(entryName));
  if (exists && !has(args, "force")) {
    throw new UserError(`${entryName} already exists in ${store.location}; add --force to replace its key`);
  }
  const entry = exists ? replaceKey(await store.read(entryName), account) : null;
  await saveEntry(
    store,
    entryName,
    entry ?? newEntry(account),
    `${exists ? "Replace" : "Add"} 2FA key for ${entryName}.`,
  );
  ctx.stderr(`Saved the key for ${describeAccount(account)} as ${entryName} in ${store.location}.`);
  ctx.stderr(`Next: sparekey show ${entryName} --qr, scan it, then sparekey verify ${entryName} CODE`);
  return 0;
}
