import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { Account } from "./account.js";
import { decodeBase32 } from "./base32.js";
import { type Entry, parseEntry, withMeta } from "./entry.js";
import { formatUri } from "./uri.js";

/** Every finding the audit can report, in the order they are listed for one account. */
export const FINDING_IDS = [
  "unreadable-entry",
  "sync-conflict",
  "no-recovery-codes",
  "few-recovery-codes",
  "never-verified",
  "no-card",
  "card-stale",
  "duplicate-key",
  "short-secret",
  "not-mirrored",
  "mirror-stale",
  "no-git",
  "no-remote",
  "unpushed",
  "key-expiring",
] as const;
export type FindingId = (typeof FINDING_IDS)[number];

/**
 * "error": a step of the discipline was skipped, or data is at risk (no second copy, an entry that
 * cannot be read). "warning": the step was done, but has aged or could be better.
 */
export type Severity = "error" | "warning";

const SEVERITY: Record<FindingId, Severity> = {
  "unreadable-entry": "error",
  "sync-conflict": "error",
  "no-recovery-codes": "error",
  "few-recovery-codes": "warning",
  "never-verified": "error",
  "no-card": "error",
  "card-stale": "warning",
  "duplicate-key": "warning",
  "short-secret": "warning",
  "not-mirrored": "error",
  "mirror-stale": "warning",
  "no-git": "error",
  "no-remote": "error",
  unpushed: "warning",
  "key-expiring": "error",
};

/** One problem found: `account` is the entry name, or null for the store as a whole. */
export interface Finding {
  account: string | null;
  finding: FindingId;
  severity: Severity;
  /** One line, never a secret. */
  message: string;
  /** The command (or step) that makes the finding go away. */
  fix: string;
}

/** One entry as the audit sees it: its decrypted text, or why it could not be read. */
export interface AuditEntry {
  name: string;
  text?: string;
  error?: string;
}

/** What the last `mirror sync` wrote into one mirror (kept in the store, so no password is needed). */
export interface MirrorState {
  format: string;
  file: string;
  /** ISO 8601 instant of the last sync. */
  synced: string;
  /** Entry name -> mirrorHash of what was written. */
  entries: Record<string, string>;
  /** Entry name -> why the format could not hold it (left out at the last sync). */
  dropped?: Record<string, string>;
}

/** A mirror configured on this machine, with its recorded state (absent: never synced). */
export interface MirrorInfo {
  format: string;
  file: string;
  state?: MirrorState;
}

/** The git side of the store; null when it is not a git repository. */
export interface GitInfo {
  remotes: string[];
  /** Commits reachable from HEAD that no remote-tracking branch holds. */
  unpushed: number;
}

/** A recipient gpg key and when it (or its last encryption subkey) stops being usable. */
export interface RecipientKey {
  /** As written in .gpg-id. */
  recipient: string;
  fingerprint: string;
  /** Unix milliseconds; undefined: never. */
  expires?: number;
}

/** Everything the rules look at. The CLI gathers it; this module only judges. */
export interface AuditInput {
  entries: AuditEntry[];
  mirrors: MirrorInfo[];
  /** Undefined when the store is not a git repository. */
  git?: GitInfo;
  keys: RecipientKey[];
  /** Unix milliseconds. */
  now: number;
  /** The store directory, for the fix commands. */
  storeDir: string;
}

/** The smallest number of unused recovery codes that is not a finding. */
export const MIN_RECOVERY_CODES = 3;
/** Secrets shorter than this many bits are reported (RFC 4226 asks for 128). */
export const MIN_SECRET_BITS = 128;
/** How far ahead a recipient key's expiry is reported. */
export const KEY_WARN_DAYS = 30;

const CONFLICT = /\.conflict-(\d{4}-\d{2}-\d{2})(?:-\d+)?$/;

/** For a conflict copy left by `sparekey sync` ("github/alice.conflict-2026-12-04"), the entry it belongs to. */
export function conflictOf(name: string): { base: string; date: string } | null {
  const m = CONFLICT.exec(name);
  return m ? { base: name.slice(0, m.index), date: m[1] } : null;
}

/** The name of the conflict copy for `name` on a date, not clashing with `taken`. */
export function conflictName(name: string, date: string, taken: readonly string[]): string {
  const base = `${name}.conflict-${date}`;
  const set = new Set(taken.map((t) => t.toLowerCase()));
  if (!set.has(base.toLowerCase())) return base;
  for (let i = 2; ; i++) if (!set.has(`${base}-${i}`.toLowerCase())) return `${base}-${i}`;
}

/** A short, order-independent fingerprint of the recovery codes (used or not). */
export function recoveryFingerprint(e: Entry): string {
  const codes = [...new Set(e.recovery.map((r) => r.code))].sort();
  return bytesToHex(sha256(utf8ToBytes(codes.join("\n")))).slice(0, 8);
}

const PRINTED = /^(\d{4}-\d{2}-\d{2})(?:\s+#([0-9a-f]{8}))?\b/;

/**
 * Returns the entry marked as printed on `date` (YYYY-MM-DD). The `printed:` line also records a
 * fingerprint of the codes on the card ("printed: 2026-12-04 #1a2b3c4d"), so that the audit can
 * tell when the codes changed afterwards without any other command keeping a date.
 */
export function markPrinted(e: Entry, date: string): Entry {
  return withMeta(e, "printed", `${date} #${recoveryFingerprint(e)}`);
}

/** Parses a `printed:` value: its date, and the codes fingerprint when one was recorded. */
export function parsePrinted(value: string): { date: string; fingerprint?: string } | null {
  const m = PRINTED.exec(value.trim());
  if (!m) return null;
  return m[2] ? { date: m[1], fingerprint: m[2] } : { date: m[1] };
}

/**
 * What a mirror holds of one entry, hashed: the name, the canonical key URI and the recovery
 * codes. A changed counter, label or set of codes changes it. Truncated SHA-256: the state file
 * is plaintext in git, and a cryptographic hash of the secret reveals nothing usable.
 */
export function mirrorHash(name: string, account: Account, recovery: readonly string[]): string {
  const text = JSON.stringify([name, formatUri(account), [...recovery]]);
  return bytesToHex(sha256(utf8ToBytes(text))).slice(0, 16);
}

/** The secret's length in bits. */
function secretBits(a: Account): number {
  try {
    return decodeBase32(a.secret).length * 8;
  } catch {
    return 0;
  }
}

/** One gpg key from `gpg --list-keys --with-colons`. */
export interface GpgKey {
  fingerprint: string;
  /** The primary key's validity letter (field 2): "e" expired, "r" revoked. */
  validity: string;
  /** Unix milliseconds; undefined: never. */
  expires?: number;
  uids: string[];
  subkeys: { fingerprint: string; validity: string; expires?: number; capabilities: string }[];
}

/** Parses `gpg --list-keys --with-colons` output (field 7 is the expiry, in unix seconds). */
export function parseGpgKeys(text: string): GpgKey[] {
  const keys: GpgKey[] = [];
  let current: { fingerprint: string; validity: string; expires?: number; capabilities: string } | null =
    null;
  let key: GpgKey | null = null;
  for (const line of text.split("\n")) {
    const f = line.split(":");
    const expires = f[6] && /^\d+$/.test(f[6]) && f[6] !== "0" ? Number(f[6]) * 1000 : undefined;
    if (f[0] === "pub") {
      key = { fingerprint: "", validity: f[1] ?? "", expires, uids: [], subkeys: [] };
      keys.push(key);
      current = null;
    } else if (f[0] === "sub" && key) {
      current = { fingerprint: "", validity: f[1] ?? "", expires, capabilities: f[11] ?? "" };
      key.subkeys.push(current);
    } else if (f[0] === "fpr" && key) {
      if (current) current.fingerprint = f[9] ?? "";
      else if (key.fingerprint === "") key.fingerprint = f[9] ?? "";
    } else if (f[0] === "uid" && key) {
      key.uids.push(f[9] ?? "");
    }
  }
  return keys;
}

/**
 * When a key stops being usable as a recipient: the primary key's expiry, or the expiry of the
 * longest-lived encryption subkey when that comes first. Revoked subkeys do not count.
 */
export function keyUsableUntil(k: GpgKey): number | undefined {
  const enc = k.subkeys.filter((s) => /e/i.test(s.capabilities) && s.validity !== "r");
  let subUntil: number | undefined;
  if (enc.length > 0) {
    subUntil = enc.some((s) => s.expires === undefined) ? undefined : Math.max(...enc.map((s) => s.expires!));
  }
  if (k.expires === undefined) return subUntil;
  if (subUntil === undefined) return k.expires;
  return Math.min(k.expires, subUntil);
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./~-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

function date(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Runs every rule over the store and returns the findings, grouped by account (the store's last). */
export function auditStore(input: AuditInput): Finding[] {
  const out: Finding[] = [];
  const add = (account: string | null, finding: FindingId, message: string, fix: string): void => {
    out.push({ account, finding, severity: SEVERITY[finding], message, fix });
  };
  const q = shellQuote;

  const parsed = new Map<string, Entry>();
  for (const e of input.entries) {
    const conflict = conflictOf(e.name);
    if (conflict) {
      add(
        e.name,
        "sync-conflict",
        `another machine's version of ${conflict.base}, kept by sync on ${conflict.date}`,
        `compare with sparekey show, then sparekey rm ${q(e.name)} (to keep it instead: sparekey rm ${q(conflict.base)} && sparekey mv ${q(e.name)} ${q(conflict.base)})`,
      );
      continue;
    }
    if (e.text === undefined) {
      add(
        e.name,
        "unreadable-entry",
        `cannot be read: ${e.error ?? "unknown error"}`,
        `sparekey show ${q(e.name)}`,
      );
      continue;
    }
    let entry: Entry;
    try {
      entry = parseEntry(e.text);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      add(
        e.name,
        "unreadable-entry",
        `cannot be parsed: ${why}`,
        `fix its otpauth:// line, or sparekey rm ${q(e.name)}`,
      );
      continue;
    }
    if (!entry.account) {
      add(e.name, "unreadable-entry", "it holds no otpauth:// key line", `sparekey add ${q(e.name)} --force`);
      continue;
    }
    parsed.set(e.name, entry);
  }

  const bySecret = new Map<string, string[]>();
  for (const [name, entry] of parsed) {
    const list = bySecret.get(entry.account!.secret) ?? [];
    list.push(name);
    bySecret.set(entry.account!.secret, list);
  }

  for (const [name, entry] of parsed) {
    const a = entry.account!;
    const n = q(name);
    const unused = entry.recovery.filter((r) => !r.used).length;
    if (entry.recovery.length === 0) {
      add(name, "no-recovery-codes", "no recovery codes saved", `sparekey recovery add ${n}`);
    } else if (unused < MIN_RECOVERY_CODES) {
      add(
        name,
        "few-recovery-codes",
        `${unused} unused recovery code${unused === 1 ? "" : "s"} left`,
        `make new codes on the site, then sparekey recovery add ${n}`,
      );
    }
    if (!entry.meta.verified) {
      add(name, "never-verified", "the code was never checked against an app", `sparekey verify ${n} CODE`);
    }
    const printed = entry.meta.printed ? parsePrinted(entry.meta.printed) : null;
    if (!entry.meta.printed) {
      add(name, "no-card", "no card printed", `sparekey card ${n} -o card.pdf`);
    } else if (printed?.fingerprint && printed.fingerprint !== recoveryFingerprint(entry)) {
      add(
        name,
        "card-stale",
        `the recovery codes changed after the card printed on ${printed.date}`,
        `sparekey card ${n} -o card.pdf`,
      );
    }
    const twins = (bySecret.get(a.secret) ?? []).filter((o) => o !== name);
    if (twins.length > 0) {
      add(
        name,
        "duplicate-key",
        `the same secret is also saved as ${twins.join(", ")}`,
        `sparekey rm ${q(twins[0])} (if it is a copy)`,
      );
    }
    const bits = secretBits(a);
    if (bits < MIN_SECRET_BITS) {
      add(
        name,
        "short-secret",
        `the secret has ${bits} bits (RFC 4226 asks for at least ${MIN_SECRET_BITS})`,
        `turn 2FA off and on again at the site, then sparekey add ${n} --force`,
      );
    }
    for (const m of input.mirrors) {
      const where = `${m.format} mirror ${m.file}`;
      const recorded = m.state?.entries[name];
      const dropped = m.state?.dropped?.[name];
      const hash = mirrorHash(
        name,
        a,
        entry.recovery.map((r) => r.code),
      );
      if (recorded === undefined && dropped !== undefined) {
        add(
          name,
          "not-mirrored",
          `the ${where} cannot hold it: ${dropped}`,
          `keep it in a mirror that can (sparekey mirror add kdbx FILE), or drop this one (sparekey mirror rm ${q(m.file)})`,
        );
      } else if (recorded === undefined) {
        add(name, "not-mirrored", `not in the ${where}`, "sparekey mirror sync");
      } else if (recorded !== hash) {
        add(
          name,
          "mirror-stale",
          `the ${where} holds an older version (synced ${m.state!.synced.slice(0, 10)})`,
          "sparekey mirror sync",
        );
      }
    }
  }

  const dir = q(input.storeDir);
  if (!input.git) {
    add(
      null,
      "no-git",
      `the store ${input.storeDir} is not a git repository, so it has no history`,
      `git -C ${dir} init && git -C ${dir} add -A && git -C ${dir} commit -m "Start history."`,
    );
  } else {
    if (input.git.remotes.length === 0) {
      add(
        null,
        "no-remote",
        "the store has no git remote, so there is no copy off this machine",
        `git -C ${dir} remote add origin URL && sparekey sync`,
      );
    } else if (input.git.unpushed > 0) {
      const c = input.git.unpushed;
      add(null, "unpushed", `${c} commit${c === 1 ? " is" : "s are"} not on the remote`, "sparekey sync");
    }
  }
  const limit = input.now + KEY_WARN_DAYS * 86_400_000;
  for (const k of input.keys) {
    if (k.expires === undefined || k.expires > limit) continue;
    const when = k.expires <= input.now ? `expired on ${date(k.expires)}` : `expires on ${date(k.expires)}`;
    add(
      null,
      "key-expiring",
      `recipient key ${k.recipient} ${when}`,
      `gpg --quick-set-expire ${k.fingerprint} 2y && gpg --quick-set-expire ${k.fingerprint} 2y '*'`,
    );
  }

  const rank = (f: Finding): number => FINDING_IDS.indexOf(f.finding);
  const accounts = [...new Set(out.map((f) => f.account).filter((a): a is string => a !== null))].sort();
  const order = new Map<string | null, number>(accounts.map((a, i) => [a, i]));
  order.set(null, accounts.length);
  return out
    .map((f, i) => ({ f, i }))
    .sort((x, y) => order.get(x.f.account)! - order.get(y.f.account)! || rank(x.f) - rank(y.f) || x.i - y.i)
    .map((x) => x.f);
}

/**
 * The text report: findings grouped by account (the store's own last), one line each with its
 * severity, ID and message, and the command that fixes it on the line below.
 */
export function formatFindings(findings: readonly Finding[]): string {
  const idWidth = Math.max(...findings.map((f) => f.finding.length), 0);
  const lines: string[] = [];
  let group: string | null | undefined;
  for (const f of findings) {
    if (f.account !== group) {
      if (lines.length > 0) lines.push("");
      lines.push(f.account ?? "(store)");
      group = f.account;
    }
    lines.push(`  ${f.severity.padEnd(7)}  ${f.finding.padEnd(idWidth)}  ${f.message}`);
    lines.push(`  ${"".padEnd(7)}  ${"".padEnd(idWidth)}  fix: ${f.fix}`);
  }
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
}
