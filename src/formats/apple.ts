import type { Account } from "../core/account.js";
import { UserError } from "../core/errors.js";
import { formatUri } from "../core/uri.js";
import { accountFromTotpField } from "./bitwarden.js";
import type { ExportFormat, ImportFormat } from "./types.js";
import { collect, parseRecoveryNote, recoveryNote, textOf, utf8 } from "./util.js";

/** The columns of the first line, lower-cased, when it is a header with an OTPAuth column. */
function header(text: string | null): string[] | null {
  if (text === null) return null;
  const first = text.replace(/^\uFEFF/, "").split(/\r?\n/, 1)[0];
  const cols = first.split(",").map((c) => c.trim().replace(/^"|"$/g, "").toLowerCase());
  return cols.includes("otpauth") && cols.includes("title") ? cols : null;
}

/** The host of a URL ("https://www.github.com/login" -> "github.com"), for an issuer. */
function hostOf(url: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/:?#]+)/i.exec(url.trim());
  return m ? m[1].replace(/^www\./i, "") : "";
}

/** Apple Passwords (and 1Password) CSV: a password list whose OTPAuth column holds otpauth URIs. */
export const appleImport: ImportFormat = {
  id: "apple",
  label: "Apple Passwords / 1Password CSV",
  detect: (_bytes, text) => header(text) !== null,
  isEncrypted: () => false,
  async decode({ bytes }) {
    const text = textOf(bytes);
    const cols = header(text);
    if (text === null || cols === null)
      throw new UserError("not an Apple Passwords CSV: it has no OTPAuth column");
    const { parse } = await import("csv-parse/sync");
    let rows: string[][];
    try {
      rows = parse(text, { relax_column_count: true, skip_empty_lines: true, bom: true }) as string[][];
    } catch {
      throw new UserError("damaged CSV file: it is not valid CSV");
    }
    const at = (name: string[]) => cols.findIndex((c) => name.includes(c));
    const [iTitle, iUrl, iUser, iOtp, iNotes] = [
      at(["title"]),
      at(["url", "website", "login_uri"]),
      at(["username", "login_username"]),
      at(["otpauth"]),
      at(["notes"]),
    ];
    const items = rows.slice(1).filter((r) => (r[iOtp] ?? "").trim() !== "");
    const out = collect(
      items,
      (r, i) => (r[iTitle] ?? "").trim() || `row ${i + 2}`,
      (r) => {
        const title = (r[iTitle] ?? "").trim() || hostOf(iUrl >= 0 ? (r[iUrl] ?? "") : "");
        const account = accountFromTotpField(r[iOtp], title, iUser >= 0 ? (r[iUser] ?? "") : "");
        const recovery = parseRecoveryNote(iNotes >= 0 ? r[iNotes] : "");
        return recovery.length > 0 ? { account, recovery } : { account };
      },
    );
    const without = rows.length - 1 - items.length;
    if (without > 0) {
      out.skipped.push({
        what: without === 1 ? "1 password" : `${without} passwords`,
        why: "no 2FA key (OTPAuth empty)",
      });
    }
    return out;
  },
};

/** Quotes a CSV field when it needs it (RFC 4180). */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Apple Passwords CSV: a row per account, the key in the OTPAuth column. */
export const appleExport: ExportFormat = {
  id: "apple",
  label: "Apple Passwords CSV",
  encrypted: false,
  limitation(a: Account) {
    if (a.kind !== "totp") {
      return {
        why: `Apple Passwords has only time-based codes, no ${a.kind === "hotp" ? "HOTP" : "Steam"}`,
        effect: "drop",
      };
    }
    return null;
  },
  async encode(accounts) {
    const lines = ["Title,URL,Username,Password,Notes,OTPAuth"];
    for (const { name, account: a, recovery } of accounts) {
      const notes = recoveryNote(recovery) ?? "";
      lines.push(
        [a.issuer || a.account || name, "", a.account, "", notes, formatUri(a)].map(csvField).join(","),
      );
    }
    return utf8(`${lines.join("\r\n")}\r\n`);
  },
};
