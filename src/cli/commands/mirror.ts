import { promises as fs } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { conflictOf, type MirrorState, mirrorHash } from "../../core/audit.js";
import { parseEntry } from "../../core/entry.js";
import { UsageError, UserError } from "../../core/errors.js";
import type { ExportFormat } from "../../formats/types.js";
import { isErr, tildePath, writeAtomic } from "../../stores/fsutil.js";
import {
  forgetMirrorState,
  MIRROR_FORMATS,
  type MirrorConfig,
  type MirrorFormat,
  type MirrorItem,
  mirrorsOf,
  openRootedStore,
  readKdbxOwn,
  readMirrorConfig,
  readMirrorStates,
  recordMirrorStates,
  sameMirror,
  updateKdbx,
  writeMirrorConfig,
} from "../../stores/mirrors.js";
import { readMany } from "../../stores/store.js";
import { type Args, type Ctx, flag, has } from "../context.js";
import { passwordFromFlags } from "../password.js";

export const name = "mirror";
export const summary = "Keep a second copy in another password manager: mirror add|list|rm|sync";
export const usage =
  "sparekey mirror add FORMAT FILE [--force] | mirror list | mirror rm FILE | mirror sync [--password-file F | --password-env NAME]   (FORMAT: kdbx, bitwarden, apple, aegis)";
export const options = {
  "password-file": { type: "string" },
  "password-env": { type: "string" },
  force: { type: "boolean" },
} as const;

/** Dispatches to the subcommand. */
export async function run(ctx: Ctx, args: Args): Promise<number> {
  const [sub, ...rest] = args.positionals;
  switch (sub) {
    case "add":
      return addMirror(ctx, rest, has(args, "force"));
    case "list":
    case "ls":
      if (rest.length > 0) throw new UsageError("mirror list takes no arguments");
      return listMirrors(ctx);
    case "rm":
    case "remove":
      if (rest.length !== 1) throw new UsageError("give the FILE of the mirror to remove");
      return removeMirror(ctx, rest[0]);
    case "sync":
      if (rest.length > 0) throw new UsageError("mirror sync takes no arguments");
      return syncMirrors(ctx, args);
    case undefined:
      throw new UsageError("give a subcommand: add, list, rm or sync");
    default:
      throw new UsageError(`unknown subcommand "${sub}" (add, list, rm, sync)`);
  }
}

async function exportFormat(format: string): Promise<ExportFormat> {
  const { EXPORT_FORMATS } = await import("../../formats/registry.js");
  const load = EXPORT_FORMATS[format];
  if (!load) throw new UserError(`the ${format} format is not available in this build`);
  return load();
}

async function addMirror(ctx: Ctx, rest: string[], force: boolean): Promise<number> {
  if (rest.length !== 2) throw new UsageError("give FORMAT and FILE: sparekey mirror add kdbx ~/keys.kdbx");
  const format = rest[0].toLowerCase() as MirrorFormat;
  if (!MIRROR_FORMATS.includes(format))
    throw new UsageError(`unknown mirror format "${rest[0]}" (choose: ${MIRROR_FORMATS.join(", ")})`);
  const file = resolve(ctx.cwd, rest[1]);
  const shown = tildePath(file, ctx.env.HOME);
  const { root } = await openRootedStore(ctx.env, ctx.storeOption, { cwd: ctx.cwd });
  const fmt = await exportFormat(format);
  const config = await readMirrorConfig(ctx.env);
  if (config.some((m) => m.file === file && resolve(m.store) === resolve(root)))
    throw new UserError(`${shown} is already a mirror of this store (see: sparekey mirror list)`);
  const st = await fs.stat(file).catch((e) => (isErr(e, "ENOENT") ? undefined : Promise.reject(e)));
  if (st?.isDirectory()) throw new UserError(`${shown} is a folder; give a file name`);
  if (!(await fs.stat(dirname(file)).catch(() => undefined))?.isDirectory())
    throw new UserError(`the folder of ${shown} does not exist`);
  if (st && format !== "kdbx" && !force)
    throw new UserError(
      `${shown} exists, and a ${format} mirror is rewritten whole at each sync; give a new file, or --force to replace it`,
    );
  await writeMirrorConfig(ctx.env, [...config, { format, file, store: root }]);
  ctx.stderr(
    `Added ${fmt.label} mirror ${shown}${st && format === "kdbx" ? " (its own entries will be kept)" : ""}.`,
  );
  if (!fmt.encrypted && format !== "kdbx")
    ctx.stderr(
      `Note: this file will hold the keys unencrypted; import it into the app, then keep it on an encrypted disk or delete it.`,
    );
  ctx.stderr("Write it now with: sparekey mirror sync");
  return 0;
}

async function listMirrors(ctx: Ctx): Promise<number> {
  const { root } = await openRootedStore(ctx.env, ctx.storeOption, { cwd: ctx.cwd });
  const mine = mirrorsOf(await readMirrorConfig(ctx.env), root);
  if (mine.length === 0) {
    ctx.stderr("No mirrors for this store; add one with: sparekey mirror add kdbx ~/keys.kdbx");
    return 0;
  }
  const states = await readMirrorStates(root);
  const rows = mine.map((m) => {
    const s = states.find((x) => sameMirror(x, m));
    const when = s
      ? `synced ${s.synced.replace("T", " ").replace(/:\d\dZ$/, "Z")}, ${plural(Object.keys(s.entries).length, "account")}`
      : "never synced";
    return [m.format, tildePath(m.file, ctx.env.HOME), when];
  });
  const w = [0, 1].map((i) => Math.max(...rows.map((r) => r[i].length)));
  ctx.stdout(rows.map((r) => `${r[0].padEnd(w[0])}  ${r[1].padEnd(w[1])}  ${r[2]}\n`).join(""));
  return 0;
}

async function removeMirror(ctx: Ctx, fileArg: string): Promise<number> {
  const { root } = await openRootedStore(ctx.env, ctx.storeOption, { cwd: ctx.cwd });
  const file = resolve(ctx.cwd, fileArg);
  const config = await readMirrorConfig(ctx.env);
  const gone = config.filter((m) => m.file === file && resolve(m.store) === resolve(root));
  if (gone.length === 0)
    throw new UserError(
      `${tildePath(file, ctx.env.HOME)} is not a mirror of this store (see: sparekey mirror list)`,
    );
  await writeMirrorConfig(
    ctx.env,
    config.filter((m) => !gone.includes(m)),
  );
  for (const m of gone) await forgetMirrorState(root, m, ctx.env);
  ctx.stderr(`Removed mirror ${tildePath(file, ctx.env.HOME)}; the file itself was left as it is.`);
  return 0;
}

/** Gets the password for one encrypted mirror: --password-file, --password-env, else a prompt. */
async function mirrorPassword(ctx: Ctx, args: Args, m: MirrorConfig, exists: boolean): Promise<string> {
  const fromFlag = await passwordFromFlags(ctx, args);
  if (fromFlag !== undefined) return fromFlag;
  const shown = tildePath(m.file, ctx.env.HOME);
  const pw = await ctx.prompt(`Password for the ${m.format} mirror ${shown}: `, { secret: true });
  if (!pw) throw new UserError(`no password given for ${shown}`);
  if (!exists && ctx.stdinIsTTY) {
    const again = await ctx.prompt("Repeat it: ", { secret: true });
    if (again !== pw) throw new UserError("the two passwords differ; nothing was written");
  }
  return pw;
}

/** The secret each mirror file holds per sparekey name, read back to check a write. */
async function checkWritten(
  format: MirrorFormat,
  bytes: Uint8Array,
  password: string | undefined,
  items: readonly MirrorItem[],
  file: string,
): Promise<void> {
  const missing = (have: Set<string>) => items.filter((i) => !have.has(i.account.secret)).map((i) => i.name);
  let have: Set<string>;
  if (format === "kdbx") {
    const own = await readKdbxOwn(bytes, password ?? "");
    have = new Set();
    for (const [, f] of own) {
      const otp = f.get("otp") ?? "";
      const m = /[?&]secret=([A-Z2-7]+)/i.exec(otp);
      if (m) have.add(m[1].toUpperCase());
      const h = f.get("HmacOtp-Secret-Base32");
      if (h) have.add(h);
    }
  } else {
    const { IMPORT_FORMATS } = await import("../../formats/registry.js");
    const load = IMPORT_FORMATS[format];
    if (!load) return;
    const codec = await load();
    const decoded = await codec.decode({ bytes, fileName: basename(file), password });
    have = new Set(decoded.accounts.map((x) => x.account.secret));
  }
  const lost = missing(have);
  if (lost.length > 0)
    throw new UserError(
      `the ${format} file read back lacks ${lost.slice(0, 3).join(", ")}; it was not written`,
    );
}

async function syncMirrors(ctx: Ctx, args: Args): Promise<number> {
  const { store, root } = await openRootedStore(ctx.env, ctx.storeOption, {
    cwd: ctx.cwd,
    prompt: ctx.prompt,
  });
  const mine = mirrorsOf(await readMirrorConfig(ctx.env), root);
  if (mine.length === 0) {
    ctx.stderr("No mirrors for this store; add one with: sparekey mirror add kdbx ~/keys.kdbx");
    return 0;
  }
  const names = (await store.list()).filter((n) => !conflictOf(n));
  const texts = await readMany(store, names);
  const items: MirrorItem[] = [];
  const unreadable = new Set<string>();
  for (const n of names) {
    const got = texts.get(n)!;
    try {
      if ("error" in got) throw got.error;
      const e = parseEntry(got.text);
      if (!e.account) throw new UserError("no otpauth:// line");
      items.push({ name: n, account: e.account, recovery: e.recovery.map((r) => r.code) });
    } catch (err) {
      unreadable.add(n);
      ctx.stderr(`sparekey: ${n}: ${(err as Error).message.split("\n")[0]} (left as it is in the mirrors)`);
    }
  }
  const previous = await readMirrorStates(root);
  const done: MirrorState[] = [];
  let failed = 0;
  for (const m of mine) {
    const shown = tildePath(m.file, ctx.env.HOME);
    try {
      done.push(
        await syncOne(
          ctx,
          args,
          m,
          items,
          unreadable,
          previous.find((s) => sameMirror(s, m)),
        ),
      );
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      failed++;
      ctx.stderr(`sparekey: ${shown}: ${e.message}`);
    }
  }
  if (done.length > 0) await recordMirrorStates(root, done, ctx.env, "Record mirror sync.");
  return failed > 0 || unreadable.size > 0 ? 1 : 0;
}

async function syncOne(
  ctx: Ctx,
  args: Args,
  m: MirrorConfig,
  items: readonly MirrorItem[],
  unreadable: ReadonlySet<string>,
  before: MirrorState | undefined,
): Promise<MirrorState> {
  const shown = tildePath(m.file, ctx.env.HOME);
  const fmt = await exportFormat(m.format);
  const dropped: Record<string, string> = {};
  const fits: MirrorItem[] = [];
  const degraded: string[] = [];
  for (const i of items) {
    const lim = fmt.limitation(i.account);
    if (lim?.effect === "drop") dropped[i.name] = lim.why;
    else fits.push(i);
    if (lim?.effect === "degrade") degraded.push(`Note: ${i.name}: ${lim.why}`);
  }
  const existing = await fs
    .readFile(m.file)
    .catch((e) => (isErr(e, "ENOENT") ? undefined : Promise.reject(e)));
  const needsPassword = m.format === "kdbx" || fmt.encrypted;
  const password = needsPassword ? await mirrorPassword(ctx, args, m, existing !== undefined) : undefined;
  const opts = { password, randomBytes: ctx.randomBytes, now: ctx.now() };
  let bytes: Uint8Array;
  let report: string;
  let unchanged = false;
  if (m.format === "kdbx") {
    // A new database starts from the codec's empty one, so it gets the codec's KDF settings.
    let base: Uint8Array | undefined = existing ? new Uint8Array(existing) : undefined;
    if (!base) {
      const empty = await fmt.encode([], opts);
      if (!(empty instanceof Uint8Array)) throw new UserError("the kdbx codec did not give one file");
      base = empty;
    }
    const { kdbxEntryFields } = await import("../../formats/kdbx.js");
    const r = await updateKdbx(base, password!, fits, unreadable, (i) =>
      kdbxEntryFields(i.name, i.account, i.recovery),
    );
    bytes = r.bytes;
    report = `${r.added} added, ${r.updated} updated, ${r.removed} removed`;
    // Nothing changed: leave the file (and its modification time, which file-sync tools watch) alone.
    unchanged = existing !== undefined && r.added + r.updated + r.removed === 0;
  } else {
    const out = await fmt.encode(fits, opts);
    if (!(out instanceof Uint8Array)) throw new UserError(`the ${m.format} codec did not give one file`);
    bytes = out;
    report = "rewritten";
  }
  if (!unchanged) {
    await checkWritten(m.format, bytes, password, fits, m.file);
    await writeAtomic(m.file, bytes, async (temp) => {
      const back = new Uint8Array(await fs.readFile(temp));
      if (back.length !== bytes.length || back.some((b, i) => b !== bytes[i]))
        throw new UserError(`writing ${shown} failed: the file read back differs`);
    });
  }
  for (const [n, why] of Object.entries(dropped)) ctx.stderr(`Left out ${n}: ${why}`);
  for (const line of degraded) ctx.stderr(line);
  ctx.stderr(
    `Mirrored ${fits.length} account${fits.length === 1 ? "" : "s"} to ${shown} (${m.format}): ${report}.`,
  );
  const entries: Record<string, string> = {};
  for (const i of fits) entries[i.name] = mirrorHash(i.name, i.account, i.recovery);
  // An entry that could not be read keeps what the mirror held of it (KDBX keeps the old copy).
  if (m.format === "kdbx")
    for (const n of unreadable) if (before?.entries[n] !== undefined) entries[n] = before.entries[n];
  const same = (a: object | undefined, b: object | undefined) => stableJson(a ?? {}) === stableJson(b ?? {});
  // The same content as recorded: keep the record (and its time), so an idle sync commits nothing.
  if (before && same(before.entries, entries) && same(before.dropped, dropped)) return before;
  return {
    format: m.format,
    file: m.file,
    synced: new Date(ctx.now()).toISOString().replace(/\.\d{3}Z$/, "Z"),
    entries,
    ...(Object.keys(dropped).length > 0 ? { dropped } : {}),
  };
}

function stableJson(o: object): string {
  return JSON.stringify(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
