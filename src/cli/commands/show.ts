import { UsageError } from "../../core/errors.js";
import { formatUri } from "../../core/uri.js";
import { type Args, type Ctx, has } from "../context.js";
import { loadEntry, summarizeEntry, writePrivateFile } from "../util.js";

export const name = "show";
export const summary = "Show an account's details; the key only with --uri, --secret or --qr";
export const usage = "sparekey show QUERY [--uri | --secret | --qr [FILE.png|FILE.svg]] [--json]";
export const options = {
  uri: { type: "boolean" },
  secret: { type: "boolean" },
  qr: { type: "boolean" },
  json: { type: "boolean" },
} as const;

/** Prints a summary, or the key in the one form asked for. */
export async function run(ctx: Ctx, args: Args): Promise<number> {
  const qr = has(args, "qr");
  const max = qr ? 2 : 1;
  if (args.positionals.length < 1) throw new UsageError("give a QUERY");
  if (args.positionals.length > max)
    throw new UsageError(qr ? "give a QUERY and at most one FILE" : "give one QUERY");
  const picked = ["uri", "secret", "qr"].filter((f) => has(args, f));
  if (has(args, "json") ? qr : picked.length > 1) {
    throw new UsageError(
      has(args, "json") ? "--qr does not go with --json" : "give only one of --uri, --secret and --qr",
    );
  }

  const store = await ctx.openStore();
  const { name: entryName, entry } = await loadEntry(store, args.positionals[0]);
  const a = entry.account;
  const s = summarizeEntry(entryName, entry);

  if (has(args, "json")) {
    const out = {
      ...s,
      ...(has(args, "uri") ? { uri: formatUri(a) } : {}),
      ...(has(args, "secret") ? { secret: a.secret } : {}),
    };
    ctx.stdout(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  if (has(args, "uri")) {
    ctx.stdout(`${formatUri(a)}\n`);
    return 0;
  }
  if (has(args, "secret")) {
    ctx.stdout(`${a.secret}\n`);
    return 0;
  }
  if (qr) {
    const file = args.positionals[1];
    const qrmod = await import("../../render/qr.js");
    if (file === undefined) {
      // The code is the output asked for, so it goes to stdout like --uri, even into a pipe.
      const color = ctx.stdoutIsTTY && !ctx.env.NO_COLOR;
      ctx.stdout(qrmod.renderQrTerminal(formatUri(a), { color }));
      ctx.stderr(`Scan this with your authenticator app, then check: sparekey verify ${entryName} CODE`);
      return 0;
    }
    const lower = file.toLowerCase();
    if (!lower.endsWith(".png") && !lower.endsWith(".svg")) {
      throw new UsageError("the QR file name must end in .png or .svg");
    }
    const { resolve } = await import("node:path");
    const data = lower.endsWith(".png")
      ? await qrmod.renderQrPng(formatUri(a))
      : await qrmod.renderQrSvg(formatUri(a));
    await writePrivateFile(resolve(ctx.cwd, file), data);
    ctx.stderr(
      `Wrote the QR code of ${entryName} to ${file} (mode 0600); it holds the key, delete it when done.`,
    );
    return 0;
  }

  const kind =
    a.kind === "hotp"
      ? `hotp (${a.algorithm}, ${a.digits} digits, counter ${a.counter})`
      : a.kind === "steam"
        ? `steam (5 characters, every ${a.period} s)`
        : `totp (${a.algorithm}, ${a.digits} digits, every ${a.period} s)`;
  const total = s.recovery.unused + s.recovery.used;
  const rows: [string, string][] = [
    ["name", entryName],
    ["issuer", a.issuer || "-"],
    ["account", a.account || "-"],
    ["kind", kind],
    ["recovery", total === 0 ? "none saved" : `${s.recovery.unused} of ${total} codes left`],
    ["verified", s.verified ?? "no"],
    ["printed", s.printed ?? "no"],
  ];
  ctx.stdout(rows.map(([k, v]) => `${`${k}:`.padEnd(10)}${v}\n`).join(""));
  return 0;
}
