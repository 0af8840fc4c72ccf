import { UserError } from "../core/errors.js";
import type { ImportFormat } from "./types.js";
import { accountFrom, collect, isObject, label, parseJson, SkipEntry, str, tryJson } from "./util.js";

/** The accounts of a LastPass Authenticator export, or null when the JSON is not one. */
function accountsOf(json: unknown): Record<string, unknown>[] | null {
  if (!isObject(json) || !Array.isArray(json.accounts)) return null;
  const all = json.accounts;
  const looksRight = (a: unknown) =>
    isObject(a) && "secret" in a && ("timeStep" in a || "issuerName" in a || "originalIssuerName" in a);
  // An empty export still has LastPass's own keys beside `accounts`.
  if (all.length === 0) return "folders" in json && "deviceName" in json ? [] : null;
  return all.every(isObject) && all.some(looksRight) ? (all as Record<string, unknown>[]) : null;
}

/** LastPass Authenticator JSON export (Android and iOS). */
export const lastpassImport: ImportFormat = {
  id: "lastpass",
  label: "LastPass Authenticator JSON",
  detect(_bytes, text) {
    return accountsOf(tryJson(text)) !== null;
  },
  isEncrypted() {
    return false;
  },
  async decode({ bytes }) {
    const accounts = accountsOf(parseJson(bytes, "LastPass Authenticator"));
    if (accounts === null)
      throw new UserError("not a LastPass Authenticator export: it has no accounts list");
    return collect(
      accounts,
      (a, i) =>
        label(a.issuerName || a.originalIssuerName, a.userName || a.originalUserName, `account ${i + 1}`),
      (a) => {
        // LastPass's own push-login accounts carry no TOTP secret.
        if (str(a.secret).trim() === "") throw new SkipEntry("it has no secret (a LastPass push account?)");
        // The names shown in the app win; the originals (from the QR code) fill in when both are empty.
        const shown = str(a.issuerName).trim() !== "" || str(a.userName).trim() !== "";
        return {
          account: accountFrom({
            kind: "totp",
            secret: str(a.secret),
            issuer: shown ? str(a.issuerName) : str(a.originalIssuerName),
            account: shown ? str(a.userName) : str(a.originalUserName),
            algorithm: a.algorithm,
            digits: a.digits,
            period: a.timeStep,
          }),
        };
      },
    );
  },
};
