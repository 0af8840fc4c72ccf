import type { Account } from "../core/account.js";
import { UserError } from "../core/errors.js";
import { LIMITS } from "../core/limits.js";
import { formatUri } from "../core/uri.js";
import type { ExportFormat, ImportFormat } from "./types.js";
import { decodeUriList, keyLines } from "./uris.js";
import {
  fromBase64,
  isObject,
  needPassword,
  num,
  parseJson,
  SkipEntry,
  shownValue,
  str,
  textOf,
  tryJson,
  utf8,
  wrongPassword,
} from "./util.js";

function isEncryptedExport(
  v: unknown,
): v is Record<string, unknown> & { kdfParams: Record<string, unknown> } {
  return (
    isObject(v) && isObject(v.kdfParams) && typeof v.encryptedData === "string" && "encryptionNonce" in v
  );
}

/** Ente's own per-code state (pinned, trashed, tags, note), kept JSON-encoded in a URI parameter. */
function codeDisplay(a: Account): { trashed: boolean; rest: [string, string][] } {
  const extra = a.extra ?? [];
  const raw = extra.find(([k]) => k === "codeDisplay")?.[1];
  const rest = extra.filter(([k]) => k !== "codeDisplay");
  if (raw === undefined) return { trashed: false, rest };
  let trashed = false;
  try {
    const v: unknown = JSON.parse(decodeURIComponent(raw.replace(/\+/g, " ")));
    trashed = isObject(v) && v.trashed === true;
  } catch {
    // An unreadable codeDisplay only loses Ente's display state, never the key.
  }
  return { trashed, rest };
}

/** Drops Ente's display parameter and skips codes that sit in Ente's trash. */
function adjust(a: Account): Account {
  const { trashed, rest } = codeDisplay(a);
  if (trashed) throw new SkipEntry("it is in Ente's trash");
  const { extra: _drop, ...bare } = a;
  return rest.length > 0 ? { ...bare, extra: rest } : bare;
}

/** Derives Ente's key: Argon2id with its own limits (memLimit in bytes). */
async function deriveKey(password: string, kdf: Record<string, unknown>): Promise<Uint8Array> {
  const mem = num(kdf.memLimit);
  const ops = num(kdf.opsLimit);
  const salt = fromBase64(str(kdf.salt), "the salt");
  if (
    mem === undefined ||
    ops === undefined ||
    mem < 8192 ||
    ops < 1 ||
    mem > LIMITS.argon2MemoryKiB * 1024 ||
    ops > LIMITS.argon2Passes ||
    (mem / 1024) * ops > LIMITS.argon2Work
  ) {
    throw new UserError("damaged Ente export: its key derivation parameters are invalid");
  }
  const { argon2id } = await import("hash-wasm");
  return argon2id({
    password,
    salt,
    iterations: ops,
    memorySize: Math.floor(mem / 1024),
    parallelism: 1,
    hashLength: 32,
    outputType: "binary",
  });
}

/** Opens the single secretstream message Ente writes. libsodium is loaded only here. */
async function decryptData(key: Uint8Array, header: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const sodium = (await import("libsodium-wrappers")).default;
  await sodium.ready;
  if (header.length !== sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES) {
    throw new UserError("damaged Ente export: the nonce has the wrong length");
  }
  let out: { message: Uint8Array; tag: number } | false;
  try {
    const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(header, key);
    out = sodium.crypto_secretstream_xchacha20poly1305_pull(state, data, null);
  } catch {
    out = false;
  }
  if (!out) throw wrongPassword();
  return out.message;
}

/** Ente Auth exports: plain (URIs with `codeDisplay`) and encrypted (Argon2id + secretstream). */
export const enteImport: ImportFormat = {
  id: "ente",
  label: "Ente Auth export",
  detect(_bytes, text) {
    if (isEncryptedExport(tryJson(text))) return true;
    return text !== null && keyLines(text).some((l) => /[?&]codeDisplay=/.test(l.line));
  },
  isEncrypted: (_bytes, text) => isEncryptedExport(tryJson(text)),
  async decode({ bytes, password }) {
    const text = textOf(bytes);
    if (text === null) throw new UserError("not an Ente export: the file is not UTF-8 text");
    const json = tryJson(text);
    if (json === null) {
      if (keyLines(text).length === 0) throw new UserError("no otpauth:// URI found in the Ente export");
      return decodeUriList(text, adjust);
    }
    const v = parseJson(bytes, "Ente");
    if (!isEncryptedExport(v)) throw new UserError("not an Ente export: it has no encrypted data");
    if (num(v.version) !== 1) throw new UserError(`unsupported Ente export version ${shownValue(v.version)}`);
    const key = await deriveKey(needPassword(password), v.kdfParams);
    const plain = await decryptData(
      key,
      fromBase64(str(v.encryptionNonce), "the nonce"),
      fromBase64(str(v.encryptedData), "the encrypted data"),
    );
    const inner = textOf(plain);
    if (inner === null) throw new UserError("damaged Ente export: the decrypted data is not text");
    return decodeUriList(inner, adjust);
  },
};

/** The display state Ente writes for a fresh code, so the file reads as Ente's own export. */
const FRESH_DISPLAY = encodeURIComponent(
  JSON.stringify({ pinned: false, trashed: false, lastUsedAt: 0, tapCount: 0, tags: [] }),
);

/** Ente Auth's plain export: one otpauth URI a line with Ente's `codeDisplay`, as the app writes it. */
export const enteExport: ExportFormat = {
  id: "ente",
  label: "Ente Auth plain export",
  encrypted: false,
  limitation: () => null,
  async encode(accounts) {
    return utf8(
      accounts
        .map(({ account }) => {
          const { extra: _drop, ...bare } = account;
          return `${formatUri({ ...bare, extra: [["codeDisplay", FRESH_DISPLAY]] })}\n`;
        })
        .join(""),
    );
  },
};
