import type { CommandModule } from "../context.js";

/**
 * Every command, loaded only when it runs: `sparekey code` must not pay for the PDF, QR or
 * KDBX libraries that other commands import. One line per command; keep them sorted.
 */
export const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  add: () => import("./add.js"),
  audit: () => import("./audit.js"),
  card: () => import("./card.js"),
  code: () => import("./code.js"),
  demo: () => import("./demo.js"),
  export: () => import("./export.js"),
  import: () => import("./import.js"),
  init: () => import("./init.js"),
  list: () => import("./list.js"),
  mirror: () => import("./mirror.js"),
  mv: () => import("./mv.js"),
  recovery: () => import("./recovery.js"),
  rm: () => import("./rm.js"),
  show: () => import("./show.js"),
  sync: () => import("./sync.js"),
  verify: () => import("./verify.js"),
  watch: () => import("./watch.js"),
};

/** Short names people type out of habit from pass and friends. */
export const ALIASES: Record<string, string> = { ls: "list", otp: "code", remove: "rm", move: "mv" };
