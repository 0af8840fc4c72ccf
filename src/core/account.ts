/** The kinds of one-time password sparekey computes. Steam is TOTP with its own alphabet. */
export type OtpKind = "totp" | "hotp" | "steam";

/** HMAC algorithms allowed by RFC 6238 and the Key URI format. */
export type Algorithm = "SHA1" | "SHA256" | "SHA512";

/**
 * One 2FA account: everything needed to compute its codes and to name it.
 * Field names follow the Key URI format.
 */
export interface Account {
  kind: OtpKind;
  /** Canonical base32: upper case, no padding, no spaces. Never empty. */
  secret: string;
  /** "" when unknown. */
  issuer: string;
  /** The account name (the part after "issuer:" in the label); "" when unknown. */
  account: string;
  algorithm: Algorithm;
  digits: number;
  /** Seconds per step (TOTP and Steam). Kept at 30 for HOTP. */
  period: number;
  /**
   * HOTP moving factor as pass-otp keeps it: the counter of the last code shown, so `code` shows
   * the code for counter + 1 and stores that. Kept at 0 for TOTP.
   */
  counter: number;
  /**
   * URI parameters sparekey does not interpret (FreeOTP's image=, Ente's codeDisplay=),
   * kept raw (still percent-encoded) in their original order so that a rewrite loses nothing.
   */
  extra?: [string, string][];
}

/** Defaults of the Key URI format, and Steam's fixed shape. */
export const DEFAULTS = { algorithm: "SHA1", digits: 6, period: 30, counter: 0 } as const;

/** Builds an Account from the fields given, filling the Key URI defaults for the rest. */
export function makeAccount(fields: Partial<Account> & { secret: string }): Account {
  const kind = fields.kind ?? "totp";
  return {
    kind,
    secret: fields.secret,
    issuer: fields.issuer ?? "",
    account: fields.account ?? "",
    algorithm: kind === "steam" ? "SHA1" : (fields.algorithm ?? DEFAULTS.algorithm),
    digits: kind === "steam" ? 5 : (fields.digits ?? DEFAULTS.digits),
    period: kind === "hotp" ? DEFAULTS.period : (fields.period ?? DEFAULTS.period),
    counter: kind === "hotp" ? (fields.counter ?? 0) : 0,
    ...(fields.extra && fields.extra.length > 0 ? { extra: fields.extra } : {}),
  };
}

/** The label people see: "Issuer (account)", "Issuer", or "account". */
export function describeAccount(a: Account): string {
  if (a.issuer && a.account) return `${a.issuer} (${a.account})`;
  return a.issuer || a.account || "(unnamed)";
}

/** Two accounts hold the same key when they share the secret and the kind (the import match rule). */
export function sameKey(a: Account, b: Account): boolean {
  return a.secret === b.secret && a.kind === b.kind;
}
