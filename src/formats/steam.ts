import { encodeBase32 } from "../core/base32.js";
import { UserError } from "../core/errors.js";
import { parseUri } from "../core/uri.js";
import type { ImportedAccount, ImportFormat } from "./types.js";
import { accountFrom, collect, fromBase64, isObject, parseJson, SkipEntry, str, tryJson } from "./util.js";

/** A Steam mobile authenticator record (an SDA `.maFile`, or one value of the app's `accounts` map). */
function isMaFile(v: unknown): v is Record<string, unknown> {
  return isObject(v) && typeof v.shared_secret === "string";
}

/** The maFiles inside a parsed file: the bare maFile, or the app's `{"accounts":{id: maFile}}` wrapper. */
function maFilesOf(json: unknown): Record<string, unknown>[] | null {
  if (isMaFile(json)) return [json];
  if (isObject(json) && isObject(json.accounts)) {
    const all = Object.values(json.accounts);
    if (all.length > 0 && all.every(isObject) && all.some(isMaFile)) return all as Record<string, unknown>[];
  }
  return null;
}

/** One maFile to an account: `shared_secret` is base64 of the raw key; its `uri` is the fallback. */
function accountOf(m: Record<string, unknown>): ImportedAccount {
  const name = str(m.account_name).trim();
  let secret = "";
  if (typeof m.shared_secret === "string" && m.shared_secret.trim() !== "") {
    let raw: Uint8Array;
    try {
      raw = fromBase64(m.shared_secret, "shared_secret");
    } catch (e) {
      if (e instanceof UserError) throw new SkipEntry("its shared_secret is not base64");
      throw e;
    }
    if (raw.length === 0) throw new SkipEntry("its shared_secret is empty");
    secret = encodeBase32(raw);
  } else if (typeof m.uri === "string" && m.uri.startsWith("otpauth://")) {
    secret = parseUri(m.uri).secret;
  }
  const account = accountFrom({ kind: "steam", secret, issuer: "Steam", account: name });
  // The revocation code removes Steam Guard from the account when the phone is lost: a recovery code.
  const revocation = str(m.revocation_code).trim();
  return { account, ...(revocation ? { recovery: [revocation] } : {}) };
}

/** Steam Guard maFile (Steam Desktop Authenticator, or the Steam app's own storage). */
export const steamImport: ImportFormat = {
  id: "steam",
  label: "Steam maFile",
  detect(_bytes, text) {
    return maFilesOf(tryJson(text)) !== null;
  },
  isEncrypted() {
    return false;
  },
  async decode({ bytes }) {
    const files = maFilesOf(parseJson(bytes, "Steam maFile"));
    if (files === null) {
      throw new UserError("not a Steam maFile: no shared_secret (an encrypted SDA maFile cannot be read)");
    }
    return collect(
      files,
      (m, i) => `Steam (${str(m.account_name) || `account ${i + 1}`})`,
      (m) => accountOf(m),
    );
  },
};
