import type { Account } from "../core/account.js";
import { UserError } from "../core/errors.js";
import { formatUri, parseUri } from "../core/uri.js";
import type { Decoded, ExportFormat, ImportedAccount, ImportFormat } from "./types.js";
import { collect, textOf, utf8 } from "./util.js";

const KEY_LINE = /^\s*(otpauth|steam):\/\//i;

/** The key lines of a text (otpauth:// and steam:// URIs), with their 1-based line numbers. */
export function keyLines(text: string): { line: string; at: number }[] {
  return text
    .split(/\r?\n/)
    .map((line, i) => ({ line: line.trim(), at: i + 1 }))
    .filter((l) => KEY_LINE.test(l.line));
}

/**
 * Reads a list of key URIs, one a line; other lines (blank, comments, headers) are ignored.
 * `adjust` lets a format built on this one (Ente) look at each account first: it returns the
 * account to keep, or throws SkipEntry saying why the line is left out.
 */
export function decodeUriList(text: string, adjust: (a: Account) => Account = (a) => a): Decoded {
  return collect(
    keyLines(text),
    (l) => `line ${l.at}`,
    (l): ImportedAccount => ({ account: adjust(parseUri(l.line)) }),
  );
}

/** otpauth:// URIs, one a line (what most apps export as "plain text", and QR codes hold). */
export const urisImport: ImportFormat = {
  id: "uris",
  label: "otpauth URI list",
  detect: (_bytes, text) => text !== null && keyLines(text).length > 0,
  isEncrypted: () => false,
  async decode({ bytes }) {
    const text = textOf(bytes);
    if (text === null) throw new UserError("not a URI list: the file is not UTF-8 text");
    if (keyLines(text).length === 0) throw new UserError("no otpauth:// URI found in the file");
    return decodeUriList(text);
  },
};

/** One canonical otpauth URI a line: every account fits. */
export const urisExport: ExportFormat = {
  id: "uris",
  label: "otpauth URI list",
  encrypted: false,
  limitation: () => null,
  async encode(accounts) {
    return utf8(accounts.map((a) => `${formatUri(a.account)}\n`).join(""));
  },
};
