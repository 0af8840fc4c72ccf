import { encodeBase32 } from "../core/base32.js";
import { UserError } from "../core/errors.js";
import type { ImportFormat } from "./types.js";
import {
  accountFrom,
  collect,
  isObject,
  label,
  num,
  parseJson,
  SkipEntry,
  shownValue,
  str,
  tryJson,
} from "./util.js";

/** The tokens of a FreeOTP+ export, or null when the JSON is not one. */
function tokensOf(json: unknown): Record<string, unknown>[] | null {
  if (!isObject(json) || !Array.isArray(json.tokens)) return null;
  const tokens = json.tokens;
  if (tokens.length === 0) return Array.isArray(json.tokenOrder) ? [] : null;
  const looksRight = (t: unknown) => isObject(t) && Array.isArray(t.secret);
  return tokens.every(isObject) && tokens.some(looksRight) ? (tokens as Record<string, unknown>[]) : null;
}

/** Java's signed bytes (-128..127) back to raw key bytes. */
function bytesOf(v: unknown): Uint8Array {
  if (!Array.isArray(v) || v.length === 0) throw new SkipEntry("it has no secret");
  const out = new Uint8Array(v.length);
  v.forEach((b, i) => {
    if (typeof b !== "number" || !Number.isInteger(b) || b < -128 || b > 255) {
      throw new SkipEntry("its secret is not a list of bytes");
    }
    out[i] = b & 0xff;
  });
  return out;
}

/** FreeOTP+ JSON export (`tokens` with the secret as signed bytes). */
export const freeotpImport: ImportFormat = {
  id: "freeotp",
  label: "FreeOTP+ JSON",
  detect(_bytes, text) {
    return tokensOf(tryJson(text)) !== null;
  },
  isEncrypted() {
    return false;
  },
  async decode({ bytes }) {
    const tokens = tokensOf(parseJson(bytes, "FreeOTP+"));
    if (tokens === null) throw new UserError("not a FreeOTP+ export: it has no tokens list");
    return collect(
      tokens,
      (t, i) => label(t.issuerExt, t.label, `token ${i + 1}`),
      (t) => {
        const type = str(t.type).toUpperCase() || "TOTP";
        if (type !== "TOTP" && type !== "HOTP")
          throw new SkipEntry(`unsupported type ${shownValue(type, false)}`);
        const issuer = str(t.issuerExt) || str(t.issuerInt);
        // FreeOTP+ marks Steam only by the issuer; its HOTP counter is one behind the URI's.
        const kind = type === "HOTP" ? "hotp" : issuer === "Steam" ? "steam" : "totp";
        const counter = num(t.counter);
        return {
          account: accountFrom({
            kind,
            secret: encodeBase32(bytesOf(t.secret)),
            issuer,
            account: str(t.label),
            algorithm: t.algo,
            digits: t.digits,
            period: t.period,
            counter: kind === "hotp" && counter !== undefined ? counter + 1 : undefined,
          }),
        };
      },
    );
  },
};
