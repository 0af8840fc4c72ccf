import { addRecoveryCodes, formatEntry, newEntry, parseEntry } from "../../core/entry.js";
import { isTypedError, UsageError, UserError } from "../../core/errors.js";
import { checkImportSize } from "../../core/limits.js";
import { IMPORT_FORMATS } from "../../formats/registry.js";
import type { BatchPart, Decoded, ImportFormat } from "../../formats/types.js";
import { WrongPasswordError } from "../../formats/util.js";
import { readMany, type Store } from "../../stores/store.js";
import { type Args, type Ctx, flag, has } from "../context.js";
import {
  count,
  type Existing,
  formatPlan,
  type Incoming,
  missingBatches,
  planImport,
} from "../importplan.js";
import { passwordFromFlags } from "../password.js";

export const name = "import";
export const summary =
  "Import 2FA keys from other apps' exports, Google transfer QR codes and otpauth URI lists";
export const usage =
  "sparekey import FILE... [--format F] [--password-file FILE | --password-env NAME] [--dry-run] [--yes]";
export const options = {
  format: { type: "string", short: "f" },
  "password-file": { type: "string" },
  "password-env": { type: "string" },
  "dry-run": { type: "boolean", short: "n" },
  yes: { type: "boolean", short: "y" },
} as const;

/** Above this many accounts the writes show a progress bar (on a terminal). */
const PROGRESS_FROM = 20;
/** Entries written at the same time (each is an encryption and a read-back). */
const CONCURRENCY = 4;

/** A file name for messages: as the user typed it. */
interface Source {
  file: string;
  bytes: Uint8Array;
}

async function readSource(ctx: Ctx, file: string): Promise<Source> {
  const { open } = await import("node:fs/promises");
  const { resolve } = await import("node:path");
  try {
    const h = await open(resolve(ctx.cwd, file), "r");
    try {
      // A file larger than any export is refused before it is read (core/limits.ts); a pipe or a
      // device (import <(cmd), /dev/zero) has no size, so it is read only up to the limit.
      const st = await h.stat();
      if (st.isFile()) checkImportSize(st.size, file);
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const buf = new Uint8Array(1 << 20);
        const { bytesRead } = await h.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        total += bytesRead;
        checkImportSize(total, file);
        chunks.push(buf.subarray(0, bytesRead));
      }
      const bytes = new Uint8Array(total);
      let at = 0;
      for (const c of chunks) {
        bytes.set(c, at);
        at += c.length;
      }
      return { file, bytes };
    } finally {
      await h.close();
    }
  } catch (e) {
    if (isTypedError(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read ${file}: ${code === "ENOENT" ? "no such file" : (code ?? String(e))}`);
  }
}

function textOf(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes).replace(/^\uFEFF/, "");
  } catch {
    return null;
  }
}

/** Finds the format of a file: --format when given, else the first codec (most specific first) that claims it. */
async function detectFormat(
  src: Source,
  text: string | null,
  forced: string | undefined,
): Promise<ImportFormat> {
  if (forced !== undefined) return IMPORT_FORMATS[forced]();
  for (const load of Object.values(IMPORT_FORMATS)) {
    let codec: ImportFormat;
    try {
      codec = await load();
    } catch {
      continue; // A codec that cannot load must not hide the others.
    }
    try {
      if (codec.detect(src.bytes, text, src.file)) return codec;
    } catch {
      // A detector that trips over odd content simply does not claim it.
    }
  }
  const t = text?.trim() ?? "";
  if (/^[[{]/.test(t)) {
    try {
      JSON.parse(t);
    } catch {
      throw new UserError(`${src.file}: damaged file: it is not valid JSON (cut short?)`);
    }
  }
  throw new UserError(
    `${src.file}: unknown format; name it with --format (${Object.keys(IMPORT_FORMATS).join(", ")})`,
  );
}

/** Puts the file name in front of a decoder's message, once. */
function inFile(file: string, message: string): string {
  return message.includes(file) ? message : `${file}: ${message}`;
}

/** Decodes one file, asking for its password when it is encrypted and no flag gave one. */
async function decodeSource(
  ctx: Ctx,
  src: Source,
  forced: string | undefined,
  flagPassword: () => Promise<string | undefined>,
): Promise<{ codec: ImportFormat; decoded: Decoded }> {
  const text = textOf(src.bytes);
  const codec = await detectFormat(src, text, forced);
  let password: string | undefined;
  let encrypted = false;
  try {
    encrypted = codec.isEncrypted(src.bytes, text);
  } catch {
    encrypted = false;
  }
  const readQr = async (image: Uint8Array) => (await import("../../io/qrimage.js")).readQrCodes(image);
  const fromFlag = encrypted ? await flagPassword() : undefined;
  // A typed password may be mistyped: ask again, up to three times in all.
  for (let attempt = 1; ; attempt++) {
    if (encrypted) {
      password = fromFlag;
      if (password === undefined) {
        const answer = await ctx.prompt(`Password for ${src.file}: `, { secret: true });
        if (answer === null || answer === "")
          throw new UserError(
            `${src.file}: no password given${ctx.stdinIsTTY ? "" : " (it is encrypted: give --password-file or --password-env)"}`,
          );
        password = answer;
      }
      // Key derivation can take seconds (Ente's Argon2id); say so when someone is watching.
      if (ctx.stdinIsTTY) ctx.stderr(`Decrypting ${src.file} (${codec.label})…`);
    }
    try {
      const decoded = await codec.decode({ bytes: src.bytes, fileName: src.file, password, readQr });
      return { codec, decoded };
    } catch (e) {
      if (e instanceof WrongPasswordError && fromFlag === undefined && ctx.stdinIsTTY && attempt < 3) {
        ctx.stderr("Wrong password; try again.");
        continue;
      }
      if (e instanceof UserError) throw new UserError(inFile(src.file, e.message));
      if (isTypedError(e)) throw e;
      // A file that trips a decoder is a damaged file to the user; the details help a bug report.
      const detail = ctx.env.SPAREKEY_DEBUG && e instanceof Error ? ` (${e.name}: ${e.message})` : "";
      throw new UserError(`${src.file}: damaged or unexpected ${codec.label} file${detail}`);
    }
  }
}

/** The entries already in the store, with their keys (an unreadable entry still holds its name). */
async function existingEntries(store: Store): Promise<Existing[]> {
  const names = await store.list();
  const texts = await readMany(store, names);
  return names.map((n) => {
    const r = texts.get(n);
    if (!r || "error" in r) return { name: n, account: null };
    try {
      return { name: n, account: parseEntry(r.text).account };
    } catch {
      return { name: n, account: null };
    }
  });
}

/** A progress bar on stderr, redrawn in place; only on a terminal. */
function progressBar(total: number): { tick(): void; done(): void } {
  const tty = Boolean(process.stderr.isTTY) && total > PROGRESS_FROM;
  let n = 0;
  const draw = () => {
    const width = 30;
    const full = Math.round((n / total) * width);
    process.stderr.write(`\r  [${"#".repeat(full)}${" ".repeat(width - full)}] ${n}/${total}`);
  };
  if (tty) draw();
  return {
    tick() {
      n++;
      if (tty) draw();
    },
    done() {
      if (tty) process.stderr.write("\n");
    },
  };
}

/** Runs `fn` over the items, a few at a time; after a failure no new item starts, and the first error is thrown once all have stopped. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      try {
        await fn(items[next++]);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}

/** The commit sentence: "Import 7 2FA keys from aegis.json." */
function commitMessage(n: number, files: string[]): string {
  const basename = (p: string) => p.replace(/\/+$/, "").split("/").pop() || p;
  const from = files.length <= 3 ? files.map(basename).join(", ") : `${files.length} files`;
  return `Import ${n} 2FA key${n === 1 ? "" : "s"} from ${from}.`;
}

export async function run(ctx: Ctx, args: Args): Promise<number> {
  const files = args.positionals;
  if (files.length === 0) throw new UsageError("name at least one file to import");
  const forced = flag(args, "format");
  if (forced !== undefined && !IMPORT_FORMATS[forced]) {
    throw new UsageError(`unknown format "${forced}" (one of: ${Object.keys(IMPORT_FORMATS).join(", ")})`);
  }
  if (flag(args, "password-file") !== undefined && flag(args, "password-env") !== undefined) {
    throw new UsageError("give either --password-file or --password-env, not both");
  }
  // Read only when a file turns out to be encrypted, then kept for the other files.
  let cached: Promise<string | undefined> | undefined;
  const flagPassword = () => {
    cached ??= passwordFromFlags(ctx, args);
    return cached;
  };
  const dryRun = has(args, "dry-run");

  // Decode every file before touching the store: a bad file leaves it unchanged.
  const sources: Source[] = [];
  for (const f of files) sources.push(await readSource(ctx, f));
  const incoming: Incoming[] = [];
  const skipped: { file: string; skipped: Decoded["skipped"][number] }[] = [];
  const batches: { file: string; part: BatchPart }[] = [];
  const labels: { file: string; label: string }[] = [];
  for (const src of sources) {
    const { codec, decoded } = await decodeSource(ctx, src, forced, flagPassword);
    labels.push({ file: src.file, label: codec.label });
    for (const imported of decoded.accounts) incoming.push({ file: src.file, imported });
    for (const s of decoded.skipped) skipped.push({ file: src.file, skipped: s });
    for (const part of decoded.batches ?? []) batches.push({ file: src.file, part });
  }
  for (const line of missingBatches(batches)) ctx.stderr(`warning: ${line}`);

  let store: Store | undefined;
  try {
    store = await ctx.openStore();
  } catch (e) {
    // A dry run previews a file even before `sparekey init`.
    if (!(dryRun && e instanceof UserError)) throw e;
  }
  const plan = planImport(incoming, store ? await existingEntries(store) : [], skipped);
  for (const line of formatPlan(plan, labels)) ctx.stderr(line);
  const renamed = plan.rows.filter((r) => r.action === "rename").length;
  const skips = plan.rows.length - plan.writes.length;
  const tally = `${count(plan.writes.length, "key")}${renamed ? ` (${renamed} under a new name)` : ""}, ${skips} skipped`;
  if (dryRun) {
    ctx.stderr(`Dry run: would import ${tally}; nothing written.`);
    return 0;
  }
  if (!store) throw new UserError("no store found; run: sparekey init");
  if (plan.writes.length === 0) {
    ctx.stderr(`Nothing to import (${skips} skipped).`);
    return 0;
  }
  if (ctx.stdinIsTTY && !has(args, "yes")) {
    const answer = await ctx.prompt(`Import ${count(plan.writes.length, "account")}? [Y/n] `);
    if (answer === null || /^\s*n/i.test(answer)) {
      ctx.stderr("Import cancelled; nothing written.");
      return 1;
    }
  }

  const target = store;
  await target.withLock(async () => {
    // Names taken meanwhile by another process would be overwritten: check again under the lock.
    const now = new Set((await target.list()).map((n) => n.toLowerCase()));
    const clash = plan.writes.find((w) => now.has(w.name.toLowerCase()));
    if (clash) throw new UserError(`${clash.name} appeared in the store meanwhile; run the import again`);
    const written: string[] = [];
    const bar = progressBar(plan.writes.length);
    try {
      await eachLimited(plan.writes, CONCURRENCY, async (w) => {
        let entry = newEntry(w.account!);
        if (w.recovery) entry = addRecoveryCodes(entry, w.recovery).entry;
        await target.write(w.name, formatEntry(entry));
        written.push(w.name);
        bar.tick();
      });
    } catch (e) {
      bar.done();
      // Take back what this import wrote, so that a failure leaves the store as it was.
      for (const n of written) await target.remove(n).catch(() => {});
      throw e;
    }
    bar.done();
    await target.commit(commitMessage(plan.writes.length, files));
  });
  ctx.stderr(`Imported ${tally}.`);
  return 0;
}
