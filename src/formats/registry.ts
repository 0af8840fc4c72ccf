import type { ExportFormat, ImportFormat } from "./types.js";

/**
 * Every import format, in detection order (the most specific first). Each codec module is
 * loaded only when an import runs, so list the loaders here, one line each.
 */
export const IMPORT_FORMATS: Record<string, () => Promise<ImportFormat>> = {
  // Images first: the check is a few magic bytes, and no other format is an image.
  qr: async () => (await import("./google.js")).qrImageImport,
  // Binary containers and JSON with a distinctive shape.
  aegis: async () => (await import("./aegis.js")).aegisImport,
  "2fas": async () => (await import("./twofas.js")).twofasImport,
  ente: async () => (await import("./ente.js")).enteImport,
  bitwarden: async () => (await import("./bitwarden.js")).bitwardenImport,
  // Other formats (andOTP, FreeOTP+, LastPass, Steam, Proton, KDBX, Authy) go here.
  kdbx: async () => (await import("./kdbx.js")).kdbxImport,
  "proton-pass": async () => (await import("./proton.js")).protonPassImport,
  "proton-authenticator": async () => (await import("./proton.js")).protonAuthenticatorImport,
  andotp: async () => (await import("./andotp.js")).andotpImport,
  freeotp: async () => (await import("./freeotp.js")).freeotpImport,
  lastpass: async () => (await import("./lastpass.js")).lastpassImport,
  steam: async () => (await import("./steam.js")).steamImport,
  authy: async () => (await import("./authy.js")).authyImport,
  // Text and CSV formats last.
  apple: async () => (await import("./apple.js")).appleImport,
  google: async () => (await import("./google.js")).googleImport,
  uris: async () => (await import("./uris.js")).urisImport,
};

/** Every export format, by its `--format` name. */
export const EXPORT_FORMATS: Record<string, () => Promise<ExportFormat>> = {
  uris: async () => (await import("./uris.js")).urisExport,
  google: async () => (await import("./google.js")).googleExport,
  aegis: async () => (await import("./aegis.js")).aegisExport,
  "2fas": async () => (await import("./twofas.js")).twofasExport,
  bitwarden: async () => (await import("./bitwarden.js")).bitwardenExport,
  apple: async () => (await import("./apple.js")).appleExport,
  ente: async () => (await import("./ente.js")).enteExport,
  kdbx: async () => (await import("./kdbx.js")).kdbxExport,
};
