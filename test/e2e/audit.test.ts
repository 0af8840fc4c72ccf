import { copyFileSync, existsSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { markPrinted } from "../../src/core/audit.js";
import { encodeBase32 } from "../../src/core/base32.js";
import { formatEntry, parseEntry } from "../../src/core/entry.js";
import { formatDate } from "../../src/core/time.js";
import { ensureBuilt, type Home, hasTool, makeHome, type Run, sh, sk } from "./harness.js";

const CI = Boolean(process.env.CI);
const T = "2026-12-01T00:00:00Z";
const CODES = ["7xk2-9fqa", "m3pd-81zc", "q4mz-77ab", "plok-2211"];

/** A distinct 160-bit secret per label. */
const secret = (label: string, bytes = 20): string =>
  encodeBase32(new TextEncoder().encode(label.padEnd(bytes, "#").slice(0, bytes)));
const uri = (issuer: string, s: string, kind = "totp") =>
  `otpauth://${kind}/${issuer}:me?secret=${s}&issuer=${issuer}${kind === "hotp" ? "&counter=1" : ""}`;

/** Entry text with the given parts; `printed` records the fingerprint of `printedCodes`. */
function entry(
  key: string,
  opts: { codes?: string[]; used?: string[]; verified?: boolean; printedCodes?: string[] | null } = {},
): string {
  const codes = opts.codes ?? CODES;
  const lines = [
    key,
    ...codes.map((c) => `recovery: ${c}${opts.used?.includes(c) ? " used 2026-11-01" : ""}`),
  ];
  if (opts.verified !== false) lines.push(`verified: ${T}`);
  let text = `${lines.join("\n")}\n`;
  if (opts.printedCodes !== null) {
    const forPrint = parseEntry(
      `${key}\n${(opts.printedCodes ?? codes).map((c) => `recovery: ${c}`).join("\n")}\n`,
    );
    const printed = markPrinted(forPrint, "2026-12-02").meta.printed!;
    text += `printed: ${printed}\n`;
  }
  return formatEntry(parseEntry(text));
}

beforeAll(ensureBuilt, 300_000);

function ok(r: Run): Run {
  expect(r.code, `${r.stderr}${r.stdout}`).toBe(0);
  return r;
}

type Finding = { account: string | null; finding: string; severity: string; message: string };

describe.skipIf(!CI && !(hasTool("gpg") && hasTool("pass")))("audit", () => {
  let home: Home;
  let store: string;
  let fpr: string;
  const pw = () => join(home.dir, "pw");
  const run = (args: string[], input?: string) => sk(home, ["--store", store, ...args], { input });
  const audit = (): { code: number; findings: Finding[] } => {
    const r = run(["audit", "--json"]);
    return { code: r.code, findings: JSON.parse(r.stdout).findings };
  };
  const ids = () => audit().findings.map((f) => `${f.account ?? "-"} ${f.finding}`);
  const pass = (args: string[], input?: string) =>
    sh({ ...home, env: { ...home.env, PASSWORD_STORE_DIR: store } }, "pass", args, { input });
  const insert = (name: string, text: string) => ok(pass(["insert", "-m", "-f", `2fa/${name}`], text));
  const git = (...args: string[]) => sh(home, "git", ["-C", store, ...args]);
  const conflict = `f/dup-a.conflict-${formatDate(Date.now())}`;

  beforeAll(() => {
    home = makeHome();
    // A recipient key (and its encryption subkey) that expires in 20 days.
    const q = ["--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""];
    ok(sh(home, "gpg", [...q, "--quick-gen-key", "Exp <exp@example.com>", "ed25519", "cert,sign", "20d"]));
    fpr = /^fpr:+([0-9A-F]+):/m.exec(sh(home, "gpg", ["--list-keys", "--with-colons"]).stdout)![1];
    ok(sh(home, "gpg", [...q, "--quick-add-key", fpr, "cv25519", "encr", "20d"]));
    store = join(home.dir, "store");
    ok(sk(home, ["init", "--gpg", fpr, store]));
    ok(sh(home, "git", ["init", "-q", "--bare", join(home.dir, "remote.git")]));
    ok(git("remote", "add", "origin", join(home.dir, "remote.git")));
    writeFileSync(pw(), "mirror password\n");

    insert("ok/fine", entry(uri("Fine", secret("fine"))));
    insert("f/norecovery", entry(uri("NoRec", secret("norec")), { codes: [] }));
    insert(
      "f/few",
      entry(uri("Few", secret("few")), {
        codes: ["aaaa-1111", "bbbb-2222", "cccc-3333"],
        used: ["aaaa-1111"],
      }),
    );
    insert("f/unverified", entry(uri("Unver", secret("unver")), { verified: false }));
    insert("f/nocard", entry(uri("NoCard", secret("nocard")), { printedCodes: null }));
    insert("f/stale", entry(uri("Stale", secret("stale")), { printedCodes: ["old1-0000", "old2-0000"] }));
    insert("f/dup-a", entry(uri("DupA", secret("dup"))));
    insert("f/dup-b", entry(uri("DupB", secret("dup"))));
    insert("f/short", entry(uri("Short", secret("short", 10))));
    insert("f/hotp", entry(uri("Hotp", secret("hotp"), "hotp")));
    ok(run(["mirror", "add", "aegis", join(home.dir, "aegis.json")]));
    ok(run(["mirror", "sync", "--password-file", pw()]));
    ok(run(["sync"]));
    // Changes after the last mirror sync and push.
    insert("f/new", entry(uri("New", secret("new"))));
    ok(run(["code", "f/hotp"]));
    writeFileSync(join(store, "2fa/f/broken.gpg"), "this is not a gpg file\n");
    copyFileSync(join(store, "2fa/f/dup-a.gpg"), join(store, `2fa/${conflict}.gpg`));
    ok(git("add", "-A"));
    ok(git("commit", "-q", "-m", "Test fixtures."));
  });
  afterAll(() => home.cleanup());

  it("a store with every finding gives exactly the expected IDs", () => {
    const { code, findings } = audit();
    expect(code).toBe(1);
    expect(findings.map((f) => `${f.account ?? "-"} ${f.finding}`)).toEqual([
      "f/broken unreadable-entry",
      "f/dup-a duplicate-key",
      `${conflict} sync-conflict`,
      "f/dup-b duplicate-key",
      "f/few few-recovery-codes",
      "f/hotp mirror-stale",
      "f/new not-mirrored",
      "f/nocard no-card",
      "f/norecovery no-recovery-codes",
      "f/short short-secret",
      "f/stale card-stale",
      "f/unverified never-verified",
      "- unpushed",
      "- key-expiring",
    ]);
    for (const f of findings) {
      expect(["error", "warning"]).toContain(f.severity);
      expect(f.message).not.toMatch(/[A-Z2-7]{16}|7xk2|aaaa-1111/);
    }
    expect(findings.find((f) => f.finding === "key-expiring")!.message).toMatch(
      /^recipient key \S+ expires on \d{4}-/,
    );
    expect(findings.find((f) => f.finding === "short-secret")!.message).toMatch(/80 bits/);
  });

  it("the text report groups by account and names the fixing command; exit 1", () => {
    const r = run(["audit"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^f\/few\n {2}warning {2}few-recovery-codes +2 unused recovery codes left\n +fix: .*sparekey recovery add f\/few$/m,
    );
    expect(r.stdout).toMatch(/^\(store\)\n(.*\n)* +fix: gpg --quick-set-expire /m);
    expect(r.stderr).toMatch(/^14 findings \(\d+ errors, \d+ warnings\)/);
  });

  it("no-remote and no-git replace unpushed when the store has no remote, or no git", () => {
    ok(git("remote", "rename", "origin", "saved"));
    ok(git("remote", "remove", "saved"));
    expect(ids().filter((i) => i.startsWith("- "))).toEqual(["- no-remote", "- key-expiring"]);
    ok(git("remote", "add", "origin", join(home.dir, "remote.git")));
    ok(git("fetch", "-q", "origin"));
    renameSync(join(store, ".git"), join(store, ".git-aside"));
    try {
      expect(ids().filter((i) => i.startsWith("- "))).toEqual(["- no-git", "- key-expiring"]);
    } finally {
      renameSync(join(store, ".git-aside"), join(store, ".git"));
    }
    expect(ids().filter((i) => i.startsWith("- "))).toEqual(["- unpushed", "- key-expiring"]);
  });

  it("gives no findings once each is fixed", () => {
    const text = run(["audit"]).stdout;
    ok(run(["rm", "f/broken"], "y\n"));
    ok(run(["rm", conflict], "y\n"));
    ok(run(["rm", "f/dup-b"], "y\n"));
    ok(run(["recovery", "add", "f/few"], "dddd-4444\neeee-5555\n"));
    ok(run(["recovery", "add", "f/norecovery"], "ffff-6666\ngggg-7777\nhhhh-8888\n"));
    const code = ok(run(["code", "f/unverified", "--at", T])).stdout.trim();
    ok(run(["verify", "f/unverified", code, "--at", T]));
    ok(run(["add", "f/short", "--force"], `${uri("Short", secret("long enough now"))}\n`));
    const shortCode = ok(run(["code", "f/short", "--at", T])).stdout.trim();
    ok(run(["verify", "f/short", shortCode, "--at", T]));
    // The card goes stale when the codes change: a new card for every account whose codes moved.
    expect(ids()).toEqual(expect.arrayContaining(["f/few card-stale", "f/norecovery card-stale"]));
    ok(run(["card", "f/nocard", "f/stale", "f/few", "f/norecovery", "-o", join(home.dir, "cards.pdf")]));
    // The key: run exactly the fix the audit printed.
    const fix = /fix: (gpg --quick-set-expire .*)$/m.exec(text)![1];
    ok(sh(home, "sh", ["-c", fix]));
    ok(run(["mirror", "sync", "--password-file", pw()]));
    ok(run(["sync"]));
    const r = run(["audit", "--json"]);
    expect(JSON.parse(r.stdout)).toEqual({ findings: [] });
    expect(r.code).toBe(0);
    const t = run(["audit"]);
    expect(t).toMatchObject({ code: 0, stdout: "" });
    expect(t.stderr).toMatch(/^No findings: 10 accounts checked/);
  });

  it("an age store has no key-expiring check and needs no gpg", () => {
    const other = makeHome();
    try {
      ok(sk(other, ["init"]));
      const f = JSON.parse(sk(other, ["audit", "--json"]).stdout).findings as Finding[];
      expect(f.map((x) => x.finding)).toEqual(["no-remote"]);
      expect(existsSync(join(other.env.HOME, ".passage/store/.git"))).toBe(true);
    } finally {
      other.cleanup();
    }
  });
});
