import { Secret } from "otpauth";
import { UserError } from "./errors.js";

const ALPHABET = /^[A-Z2-7]*$/;

/**
 * Cleans a base32 secret as people paste it: lower case, spaces, dashes, `=` padding.
 * Throws a UserError that names the position of a bad character, never the secret itself.
 */
export function normalizeBase32(input: string): string {
  const cleaned = input.replace(/[\s\-=]/g, "").toUpperCase();
  if (!ALPHABET.test(cleaned)) {
    const at = [...cleaned].findIndex((c) => !/[A-Z2-7]/.test(c));
    throw new UserError(`invalid base32 secret: bad character at position ${at + 1}`);
  }
  if (cleaned.length === 0) throw new UserError("invalid base32 secret: it is empty");
  return cleaned;
}

/** Decodes lenient base32 to bytes; trailing bits that do not fill a byte are dropped. */
export function decodeBase32(input: string): Uint8Array {
  const bytes = Secret.fromBase32(normalizeBase32(input)).bytes;
  if (bytes.length === 0) throw new UserError("invalid base32 secret: too short to hold a key");
  return bytes;
}

/** Encodes bytes as canonical base32: upper case, no padding. */
export function encodeBase32(bytes: Uint8Array): string {
  return new Secret({ buffer: bytes.slice().buffer }).base32.replace(/=+$/, "");
}

/** The canonical spelling of a secret, so that equal keys compare equal. */
export function canonicalSecret(input: string): string {
  return encodeBase32(decodeBase32(input));
}
