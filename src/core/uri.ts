import { type Account, type Algorithm, DEFAULTS, makeAccount, type OtpKind } from "./account.js";
import { canonicalSecret } from "./base32.js";
import { UserError } from "./errors.js";

const KNOWN = new Set(["secret", "issuer", "algorithm", "digits", "period", "counter"]);

/** Percent-decoding that never throws: a stray `%` is kept as it is. */
function decodeLoose(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/%([0-9A-Fa-f]{2})/g, (m, h: string) => {
      const c = Number.parseInt(h, 16);
      return c < 0x80 ? String.fromCharCode(c) : m;
    });
  }
}

function parseIntParam(name: string, raw: string, min: number, max: number): number {
  const v = raw.trim();
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new UserError(`invalid otpauth URI: ${name} must be a whole number from ${min} to ${max}`);
  }
  return Number(v);
}

function parseAlgorithm(raw: string): Algorithm {
  const v = raw
    .trim()
    .toUpperCase()
    .replace(/^HMAC-?/, "")
    .replace("-", "");
  if (v === "SHA1" || v === "SHA256" || v === "SHA512") return v;
  throw new UserError("invalid otpauth URI: algorithm must be SHA1, SHA256 or SHA512");
}

/** Splits a label into issuer and account the way Aegis does: more than one colon means no issuer. */
function splitLabel(label: string): { issuer: string; account: string } {
  const parts = label.split(":");
  if (parts.length === 2) return { issuer: parts[0].trim(), account: parts[1].trim() };
  return { issuer: "", account: label.trim() };
}

/**
 * Parses an otpauth:// URI (or steam://SECRET) leniently, accepting every deviation seen
 * in real exports (FORMATS.md). Errors name the problem, never the secret.
 */
export function parseUri(text: string): Account {
  const uri = text.trim();
  const steam = /^steam:\/\/([^?#]*)$/i.exec(uri);
  if (steam) return makeAccount({ kind: "steam", secret: canonicalSecret(decodeLoose(steam[1])) });

  const m = /^otpauth:\/\/([A-Za-z]+)(\/[^?#]*)?(?:\?([^#]*))?(?:#.*)?$/i.exec(uri);
  if (!m) throw new UserError("invalid otpauth URI: it must look like otpauth://totp/LABEL?secret=...");
  const type = m[1].toLowerCase();
  if (type !== "totp" && type !== "hotp" && type !== "steam") {
    throw new UserError(`invalid otpauth URI: unknown type "${type.slice(0, 20)}" (expected totp or hotp)`);
  }
  let kind: OtpKind = type;
  const rawLabel = decodeLoose((m[2] ?? "").replace(/^\//, ""));
  const label = splitLabel(rawLabel);

  const params = new Map<string, string>();
  const extra: [string, string][] = [];
  for (const part of (m[3] ?? "").split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = (eq < 0 ? part : part.slice(0, eq)).toLowerCase();
    const raw = eq < 0 ? "" : part.slice(eq + 1);
    if (key === "encoder" && raw.toLowerCase() === "steam") {
      kind = "steam";
    } else if (KNOWN.has(key)) {
      if (!params.has(key)) params.set(key, raw);
    } else {
      extra.push([eq < 0 ? part : part.slice(0, eq), raw]);
    }
  }
  const value = (k: string): string | undefined => {
    const raw = params.get(k);
    return raw === undefined ? undefined : decodeLoose(raw.replace(/\+/g, " "));
  };

  const secretRaw = value("secret");
  if (secretRaw === undefined || secretRaw.trim() === "") {
    throw new UserError("invalid otpauth URI: it has no secret");
  }
  const secret = canonicalSecret(secretRaw);
  const issuerParam = value("issuer")?.trim();
  const issuer = issuerParam || label.issuer;
  // "Issuer:a:b" with issuer=Issuer is that issuer's account "a:b" (how formatUri writes a colon).
  if (issuerParam && label.issuer === "" && rawLabel.startsWith(`${issuerParam}:`)) {
    label.account = rawLabel.slice(issuerParam.length + 1).trim();
  }
  const algorithm = value("algorithm");
  const digits = value("digits");
  const period = value("period");
  let counter = value("counter");
  // Debian's pass-otp (bash 5.2) writes "counter=6counter=7": the last number is the real one.
  if (counter !== undefined && /^\s*\d+(?:counter=\d+)+\s*$/i.test(counter)) {
    counter = /(\d+)\s*$/.exec(counter)?.[1] ?? counter;
  }

  return makeAccount({
    kind,
    secret,
    issuer,
    account: label.account,
    algorithm: algorithm === undefined || algorithm.trim() === "" ? undefined : parseAlgorithm(algorithm),
    digits: digits === undefined || digits.trim() === "" ? undefined : parseIntParam("digits", digits, 1, 10),
    period:
      period === undefined || period.trim() === "" ? undefined : parseIntParam("period", period, 1, 86400),
    counter:
      kind !== "hotp" || counter === undefined || counter.trim() === ""
        ? undefined
        : parseIntParam("counter", counter, 0, Number.MAX_SAFE_INTEGER),
    extra,
  });
}

/** Percent-encodes a label or parameter part; a space becomes %20, as FORMATS.md asks. */
function enc(s: string): string {
  return encodeURIComponent(s);
}

/**
 * Formats the canonical otpauth URI: label `issuer:account`, then secret and issuer, then
 * only the parameters that differ from the defaults (HOTP always carries its counter).
 */
export function formatUri(a: Account): string {
  const label = a.issuer ? `${enc(a.issuer)}:${enc(a.account)}` : enc(a.account);
  const q = [`secret=${a.secret}`];
  if (a.issuer) q.push(`issuer=${enc(a.issuer)}`);
  if (a.kind !== "steam") {
    if (a.algorithm !== DEFAULTS.algorithm) q.push(`algorithm=${a.algorithm}`);
    if (a.digits !== DEFAULTS.digits) q.push(`digits=${a.digits}`);
  }
  if (a.kind === "hotp") q.push(`counter=${a.counter}`);
  else if (a.period !== DEFAULTS.period) q.push(`period=${a.period}`);
  for (const [k, v] of a.extra ?? []) q.push(v === "" ? k : `${k}=${v}`);
  return `otpauth://${a.kind}/${label}?${q.join("&")}`;
}
