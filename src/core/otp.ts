import { HOTP, Secret } from "otpauth";
import type { Account } from "./account.js";

const STEAM_ALPHABET = "23456789BCDFGHJKMNPQRTVWXY";

/** The TOTP time step that holds the instant `atMs` (unix milliseconds). */
export function timeStep(a: Account, atMs: number): number {
  return Math.floor(atMs / 1000 / a.period);
}

/** Seconds left before the code shown at `atMs` changes. */
export function secondsLeft(a: Account, atMs: number): number {
  return a.period - (Math.floor(atMs / 1000) % a.period);
}

/** The HOTP value for one counter, with the account's algorithm and digits (RFC 4226). */
function hotpAt(a: Account, counter: number, digits: number): string {
  return HOTP.generate({
    secret: Secret.fromBase32(a.secret),
    algorithm: a.algorithm,
    digits,
    counter,
  });
}

/** A Steam Guard code: the 31-bit truncated HOTP value spelled in Steam's 26-letter alphabet. */
function steamAt(a: Account, counter: number): string {
  // With 10 digits the decimal truncation keeps the whole 31-bit value (< 2^31 < 10^10).
  let c = Number(hotpAt({ ...a, algorithm: "SHA1" }, counter, 10));
  let out = "";
  for (let i = 0; i < 5; i++) {
    out += STEAM_ALPHABET[c % 26];
    c = Math.floor(c / 26);
  }
  return out;
}

/** The code for a counter value (HOTP) or a time step (TOTP, Steam). */
export function codeAtCounter(a: Account, counter: number): string {
  return a.kind === "steam" ? steamAt(a, counter) : hotpAt(a, counter, a.digits);
}

/**
 * The code an app shows at `atMs` (unix milliseconds). HOTP uses the account's counter and
 * ignores the time; advancing the counter is the caller's job.
 */
export function generateCode(a: Account, atMs: number): string {
  if (a.kind === "hotp") return codeAtCounter(a, a.counter);
  return codeAtCounter(a, timeStep(a, atMs));
}

/** Compares two codes in time that does not depend on where they differ. */
export function equalCodes(a: string, b: string): boolean {
  const x = a.toUpperCase();
  const y = b.toUpperCase();
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    diff |= (x.charCodeAt(i) | 0) ^ (y.charCodeAt(i) | 0);
  }
  return diff === 0;
}

/**
 * Checks a code typed from an app within ±`window` steps (TOTP, Steam) or the next `window`+1
 * counters (HOTP). Returns the offset that matched (-1: the app is one step behind), or null.
 * Every candidate is compared, so the time taken does not reveal which one matched.
 */
export function verifyCode(a: Account, code: string, atMs: number, window = 1): number | null {
  const typed = code.replace(/\s/g, "");
  let found: number | null = null;
  if (a.kind === "hotp") {
    for (let i = 0; i <= window; i++) {
      if (equalCodes(codeAtCounter(a, a.counter + i), typed) && found === null) found = i;
    }
    return found;
  }
  const step = timeStep(a, atMs);
  const offsets = [0];
  for (let i = 1; i <= window; i++) offsets.push(-i, i);
  for (const d of offsets) {
    if (equalCodes(codeAtCounter(a, step + d), typed) && found === null) found = d;
  }
  return found;
}
