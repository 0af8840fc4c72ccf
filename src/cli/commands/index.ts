import type { CommandModule } from "../context.js";

/**
 * Every command, loaded only when it runs: `sparekey code` must not pay for the PDF, QR or
 * KDBX libraries that other commands import. One line per command; keep them sorted.
 */
export const COMMANDS: Record<string, () => Promise<CommandModule>> = {};

/** Short names people type out of habit from pass and friends. */
export const ALIASES: Record<string, string> = { ls: "list", otp: "code", remove: "rm", move: "mv" };
