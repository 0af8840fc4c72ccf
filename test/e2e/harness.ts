import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The repository root, and the executable users run. */
export const ROOT = resolve(import.meta.dirname, "../..");
export const BIN = process.env.SPAREKEY_BIN ?? join(ROOT, "bin/sparekey");
/** The real exports, read in place (never copied into the repo). */
export const FIXTURES = resolve(ROOT, "../shared/fixtures");

/** A throwaway home: HOME, GNUPGHOME and XDG dirs inside one temp folder, git identity set. */
export interface Home {
  dir: string;
  env: Record<string, string>;
  cleanup(): void;
}

/** Creates a fresh temporary HOME with no store, no gpg key and a git identity. */
export function makeHome(): Home {
  const dir = mkdtempSync(join(tmpdir(), "sk-e2e-"));
  const home = join(dir, "home");
  const gnupg = join(dir, "gnupg");
  mkdirSync(home, { recursive: true });
  mkdirSync(gnupg, { recursive: true });
  chmodSync(gnupg, 0o700);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    GNUPGHOME: gnupg,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_DATA_HOME: join(home, ".local/share"),
    LANG: "C.UTF-8",
    GIT_AUTHOR_NAME: "Test",
    GIT_AUTHOR_EMAIL: "test@example.com",
    GIT_COMMITTER_NAME: "Test",
    GIT_COMMITTER_EMAIL: "test@example.com",
    GIT_CONFIG_NOSYSTEM: "1",
    ...(process.env.SPAREKEY_RUNTIME ? { SPAREKEY_RUNTIME: process.env.SPAREKEY_RUNTIME } : {}),
  };
  return {
    dir,
    env,
    cleanup() {
      spawnSync("gpgconf", ["--kill", "gpg-agent"], { env: { ...env } });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The outcome of one run of a command. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `bin/sparekey ARGS` in the given home, with optional stdin and extra environment. */
export function sk(
  home: Home,
  args: string[],
  opts: { input?: string; env?: Record<string, string> } = {},
): Run {
  const r = spawnSync(BIN, args, {
    env: { ...home.env, ...opts.env },
    input: opts.input ?? "",
    encoding: "utf8",
    cwd: home.dir,
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs any other program (pass, age, oathtool, zbarimg) in the same home. */
export function sh(home: Home, cmd: string, args: string[], opts: { input?: string | Buffer } = {}): Run {
  const r = spawnSync(cmd, args, {
    env: home.env,
    input: opts.input ?? "",
    encoding: "utf8",
    cwd: home.dir,
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Creates a gpg key with no passphrase in the home's GNUPGHOME and returns its fingerprint,
 * the way a pass user's machine looks.
 */
export function makeGpgKey(home: Home, email = "test@example.com"): string {
  const q = ["--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""];
  sh(home, "gpg", [...q, "--quick-gen-key", `Test <${email}>`, "ed25519", "cert,sign", "never"]);
  const fpr = /^fpr:+([0-9A-F]+):/m.exec(
    sh(home, "gpg", ["--list-keys", "--with-colons", email]).stdout,
  )?.[1];
  if (!fpr) throw new Error("gpg key generation failed");
  sh(home, "gpg", [...q, "--quick-add-key", fpr, "cv25519", "encr", "never"]);
  return fpr;
}

/** True when a program is on PATH; tests that need it fail in CI rather than skip. */
export function hasTool(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`]).status === 0;
}

/** Builds dist/ once when a test file runs alone (`npm test` builds before vitest). */
export function ensureBuilt(): void {
  if (!existsSync(join(ROOT, "dist/node/run.js"))) {
    execFileSync("node", ["scripts/build.mjs"], { cwd: ROOT, stdio: "inherit" });
  }
}
