import type { AgeCrypto } from "./age-crypto.js";

type AgeModule = typeof import("age-encryption");

let loading: Promise<AgeModule> | undefined;

/** The age-encryption package, loaded on first use: it costs ~80 ms to import. */
function load(): Promise<AgeModule> {
  loading ??= import("age-encryption");
  return loading;
}

const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";

/** The binary age file, whether `file` is binary or ASCII-armored (`age -a`). */
export function unarmor(age: AgeModule, file: Uint8Array): Uint8Array {
  let i = 0;
  while (i < file.length && (file[i] === 0x20 || file[i] === 0x09 || file[i] === 0x0a || file[i] === 0x0d))
    i++;
  const head = new TextDecoder().decode(file.subarray(i, i + ARMOR_BEGIN.length));
  return head === ARMOR_BEGIN ? age.armor.decode(new TextDecoder().decode(file)) : file;
}

/** AgeCrypto on the `age-encryption` package (typage), the reference implementation in JS. */
export const typageCrypto: AgeCrypto = {
  async decrypt(identities, file) {
    const age = await load();
    const d = new age.Decrypter();
    for (const id of identities) d.addIdentity(id);
    return d.decrypt(unarmor(age, file));
  },
  async encrypt(recipients, plaintext) {
    const age = await load();
    const e = new age.Encrypter();
    for (const r of recipients) e.addRecipient(r);
    return e.encrypt(plaintext);
  },
  async decryptWithPassphrase(passphrase, file) {
    const age = await load();
    const d = new age.Decrypter();
    d.addPassphrase(passphrase);
    return d.decrypt(unarmor(age, file));
  },
  async generateIdentity() {
    const age = await load();
    // X25519, not the post-quantum hybrid: age 1.1 (Debian's) and passage cannot read hybrid keys.
    const identity = await age.generateX25519Identity();
    return { identity, recipient: await age.identityToRecipient(identity) };
  },
  async toRecipient(identity) {
    const age = await load();
    return age.identityToRecipient(identity);
  },
};
