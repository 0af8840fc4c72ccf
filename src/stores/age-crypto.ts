/**
 * The age operations the age store needs, behind one interface so that the implementation
 * (the age-encryption package, or a native node:crypto path for fast start-up) can be swapped
 * and cross-tested.
 */
export interface AgeCrypto {
  /** Decrypts an age file, binary or ASCII-armored, with X25519 identities ("AGE-SECRET-KEY-1..."). */
  decrypt(identities: readonly string[], file: Uint8Array): Promise<Uint8Array>;
  /** Encrypts to X25519 recipients ("age1..."), binary format. */
  encrypt(recipients: readonly string[], plaintext: Uint8Array): Promise<Uint8Array>;
  /** Decrypts a passphrase-encrypted (scrypt) age file, such as an encrypted identities file. */
  decryptWithPassphrase(passphrase: string, file: Uint8Array): Promise<Uint8Array>;
  /** A new X25519 identity and its recipient. */
  generateIdentity(): Promise<{ identity: string; recipient: string }>;
  /** The recipient of an identity. */
  toRecipient(identity: string): Promise<string>;
}
