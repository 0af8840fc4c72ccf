// Disk full during a write (issue 8): on a small tmpfs filled to the last byte, every command
// that writes fails with one line and leaves the old entry intact; once space is back, the next
// command works. The tmpfs lives in a private mount namespace (unshare), so it vanishes with the
// test even if the test is killed; `unshare -rm` covers machines where only user namespaces work.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeAccount } from "../../src/core/account.js";
import { parseEntry } from "../../src/core/entry.js";
import { codeAtCounter } from "../../src/core/otp.js";
import { BIN } from "../e2e/harness.js";
import { ageStore, ensureBuilt, type StoreHome } from "./stores.js";

const SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/** One command's outcome inside the namespace. */
interface Step {
  rc: number;
  stdout: string;
  stderr: string;
}

/** Which unshare works here: as root a plain mount namespace, else a user namespace. */
function unshareArgs(): string[] | undefined {
  for (const args of [["-m"], ["-rm"]]) {
    // Mounting over /tmp inside the new namespace touches nothing outside it.
    const r = spawnSync("unshare", [...args, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /tmp"]);
    if (r.status === 0) return args;
  }
  return undefined;
}

let s: StoreHome;
const steps = new Map<string, Step>();
let files = { before: "", full: "", after: "" };
let finalEntry = "";

beforeAll(async () => {
  ensureBuilt();
  s = await ageStore();
  const r = await s.run(["add", "c/hotp"], {
    input: `otpauth://hotp/Full:hotp?secret=${SECRET}&counter=5\n`,
  });
  expect(r.code, r.stderr).toBe(0);
  expect((await s.run(["recovery", "add", "c/hotp"], { input: "1111-2222\n3333-4444\n" })).code).toBe(0);

  const how = unshareArgs();
  if (!how) throw new Error("cannot mount a tmpfs here (neither unshare -m nor unshare -rm works)");
  // The whole home goes onto a 4 MiB tmpfs, which is then filled up: every write hits ENOSPC.
  const mnt = join(s.home.dir, "full");
  mkdirSync(mnt);
  const src = join(s.home.dir, "home-copy");
  cpSync(s.home.env.HOME, src, { recursive: true });
  const store = "$HOME/.passage/store/2fa";
  const script = `
set -u
mount -t tmpfs -o size=4m,mode=0700 tmpfs "$MNT" || exit 90
cp -a "$SRC" "$MNT/home" || exit 91
export HOME="$MNT/home"
files() { (cd "${store}" && find . -type f | sort | xargs sha256sum); }
step() { name=$1; shift; "$@" >"$OUT.out" 2>"$OUT.err"; rc=$?; echo "@@step $name $rc"; cat "$OUT.out"; echo "@@stderr"; cat "$OUT.err"; echo "@@end"; }
echo "@@files before"; files; echo "@@end"
dd if=/dev/zero of="$MNT/fill" bs=4096 >/dev/null 2>&1
dd if=/dev/zero of="$MNT/fill2" bs=1 >/dev/null 2>&1
step code "$BIN" code c/hotp
step recovery "$BIN" recovery use c/hotp 1111-2222
step replace sh -c 'echo "otpauth://totp/X:y?secret=JBSWY3DPEHPK3PXP" | "$0" add c/hotp --force' "$BIN"
step new sh -c 'echo "otpauth://totp/X:y?secret=JBSWY3DPEHPK3PXP" | "$0" add c/new' "$BIN"
echo "@@files full"; files; echo "@@end"
rm -f "$MNT/fill" "$MNT/fill2"
step again "$BIN" code c/hotp
echo "@@files after"; files; echo "@@end"
echo "@@entry"; age -d -i "$HOME/.passage/identities" "${store}/c/hotp.age"; echo "@@end"
`;
  const r2 = spawnSync("unshare", [...how, "bash", "-c", script], {
    // Outputs go to the real disk: nothing could be written on the full one.
    env: { ...s.home.env, MNT: mnt, SRC: src, BIN, OUT: join(s.home.dir, "step") },
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r2.status, `${r2.stdout}\n${r2.stderr}`).toBe(0);
  const out = r2.stdout;
  for (const m of out.matchAll(/@@step (\w+) (\d+)\n([\s\S]*?)@@stderr\n([\s\S]*?)@@end/g))
    steps.set(m[1], { rc: Number(m[2]), stdout: m[3], stderr: m[4] });
  const block = (name: string) => new RegExp(`@@files ${name}\\n([\\s\\S]*?)@@end`).exec(out)?.[1] ?? "";
  files = { before: block("before"), full: block("full"), after: block("after") };
  finalEntry = /@@entry\n([\s\S]*?)@@end/.exec(out)?.[1] ?? "";
}, 120_000);

afterAll(() => s?.home.cleanup());

describe("disk full during a write", () => {
  for (const [step, what] of [
    ["code", "an HOTP code (the counter cannot be saved)"],
    ["recovery", "crossing off a recovery code"],
    ["replace", "replacing a key (add --force)"],
    ["new", "adding a new entry"],
  ] as const) {
    it(`${what}: exit 1, one line, no code shown`, () => {
      const r = steps.get(step)!;
      expect(r, step).toBeDefined();
      expect(r.rc, r.stderr).toBe(1);
      expect(r.stdout).toBe("");
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^sparekey: cannot write .*: the disk is full; (it was left as it was|nothing was changed)$/,
      );
    });
  }

  it("leaves every entry byte for byte as it was, and no temp file", () => {
    expect(files.before).toMatch(/c\/hotp\.age/);
    expect(files.full).toBe(files.before);
  });

  it("once there is space again, the next command works and the entry moves on", () => {
    const r = steps.get("again")!;
    expect(r.rc, r.stderr).toBe(0);
    const account = makeAccount({ kind: "hotp", secret: SECRET, counter: 5 });
    expect(r.stdout).toBe(`${codeAtCounter(account, 6)}\n`);
    const e = parseEntry(finalEntry);
    expect(e.account?.counter).toBe(6);
    expect(e.recovery.map((x) => [x.code, x.used])).toEqual([
      ["1111-2222", undefined],
      ["3333-4444", undefined],
    ]);
    expect(readFileSync(join(s.root, "2fa/c/hotp.age")).length).toBeGreaterThan(0);
  });
});
