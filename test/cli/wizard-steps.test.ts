import { describe, expect, it } from "vitest";
import { parseEntry } from "../../src/core/entry.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { runFake } from "./wizard-fake.js";

const KEY = "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub";
const T = "1700000000";
// oathtool --totp -b JBSWY3DPEHPK3PXP -N @1700000000 -w 1, and @1699999970
const NOW_CODE = "324550";
const NEXT_CODE = "367665";
const PREV_CODE = "822542";

function store(extra = ""): MemoryStore {
  return new MemoryStore({
    "github/alice": `${KEY}\n${extra}`,
    "gitlab/bob": `${KEY.replace("GitHub", "GitLab")}\n`,
  });
}

describe("verify", () => {
  const table: [string, string, RegExp][] = [
    ["current step", NOW_CODE, /agrees/],
    ["app one step ahead", NEXT_CODE, /your app is 30 s ahead/],
    ["app one step behind", PREV_CODE, /your app is 30 s behind/],
    ["spaces typed inside", "324 550", /agrees/],
  ];
  it.each(table)("matches at the %s", async (_n, code, msg) => {
    const s = store();
    const r = await runFake(s, ["verify", "github", code, "--at", T]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(msg);
    expect(r.stdout).toBe("");
    expect(parseEntry(s.entries.get("github/alice")!).meta.verified).toBe("2026-12-04T19:02:11Z");
    expect(s.commits).toEqual(["Record a verified code for github/alice."]);
  });

  it("fails on a wrong code, explains, and leaves the store alone", async () => {
    const s = store();
    const before = s.entries.get("github/alice");
    const r = await runFake(s, ["verify", "github/alice", "000000", "--at", T]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not match github\/alice/);
    expect(r.stderr).toMatch(/clock/);
    expect(r.stderr).not.toContain(NOW_CODE);
    expect(s.entries.get("github/alice")).toBe(before);
    expect(s.commits).toEqual([]);
  });

  it("passes at ±30 s and fails at ±90 s", async () => {
    for (const [d, ok] of [
      [30, 0],
      [-30, 0],
      [90, 1],
      [-90, 1],
    ] as const) {
      const r = await runFake(store(), ["verify", "github/alice", NOW_CODE, "--at", String(1700000000 + d)]);
      expect(r.code, `offset ${d}`).toBe(ok);
    }
  });

  it("advances an HOTP counter past the code that matched", async () => {
    // oathtool --hotp -b JBSWY3DPEHPK3PXP -c 5 -w 1: 768897 883951
    const s = new MemoryStore({ h: "otpauth://hotp/X:h?secret=JBSWY3DPEHPK3PXP&issuer=X&counter=5\n" });
    const r = await runFake(s, ["verify", "h", "883951"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/1 code\(s\) ahead/);
    expect(parseEntry(s.entries.get("h")!).account!.counter).toBe(7);
    // The same code cannot be used again.
    expect((await runFake(s, ["verify", "h", "883951"])).code).toBe(1);
  });

  it("checks Steam codes", async () => {
    // FORMATS.md's vector.
    const s = new MemoryStore({
      st: "otpauth://totp/Steam:me?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&encoder=steam\n",
    });
    expect((await runFake(s, ["verify", "st", "7w6cj", "--at", "1672531200"])).code).toBe(0);
    expect((await runFake(s, ["verify", "st", "7W6CK", "--at", "1672531200"])).code).toBe(1);
  });

  it("is a usage error without a code, a user error on an unknown entry", async () => {
    expect((await runFake(store(), ["verify", "github"])).code).toBe(2);
    expect((await runFake(store(), ["verify", "nothing", "123456"])).code).toBe(1);
    expect((await runFake(store(), ["verify", "git", "123456"])).stderr).toMatch(/matches 2 entries/);
  });
});

describe("recovery", () => {
  const GOOGLE =
    "SAVE YOUR BACKUP CODES\n\n1. 7041 0682     4. 1186 2243\n2. 5127 6359     5. 4219 2350\n3. 8351 8034\n";

  it("adds codes from stdin, ignoring ones already there", async () => {
    const s = store("login: alice\n");
    let r = await runFake(s, ["recovery", "add", "github"], { stdin: GOOGLE });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/added 5 recovery codes to github\/alice; 5 unused/);
    expect(s.entries.get("github/alice")).toBe(
      `${KEY}\nrecovery: 7041 0682\nrecovery: 1186 2243\nrecovery: 5127 6359\nrecovery: 4219 2350\nrecovery: 8351 8034\nlogin: alice\n`,
    );
    r = await runFake(s, ["recovery", "add", "github"], { stdin: "8351 8034\nabcd-1234\n" });
    expect(r.stderr).toMatch(/added 1 recovery code to github\/alice \(1 already there\); 6 unused/);
    expect(s.commits).toEqual([
      "Add 5 recovery codes for github/alice.",
      "Add 1 recovery code for github/alice.",
    ]);
  });

  it("refuses input with no codes and leaves the store alone", async () => {
    const s = store();
    const r = await runFake(s, ["recovery", "add", "github"], { stdin: "Backup codes\n\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no recovery codes found/);
    expect(s.commits).toEqual([]);
  });

  it("reads a paste on a terminal", async () => {
    const s = store();
    const r = await runFake(s, ["recovery", "add", "github"], {
      tty: true,
      answers: ["SAVE YOUR BACKUP CODES\n\n1. 7041 0682     4. 1186 2243", "never read"],
    });
    expect(r.code).toBe(0);
    expect(r.prompts).toEqual(["[paste]"]);
    expect(parseEntry(s.entries.get("github/alice")!).recovery.map((c) => c.code)).toEqual([
      "7041 0682",
      "1186 2243",
    ]);
  });

  it("lists unused codes on stdout, and all of them with --all", async () => {
    const s = store("recovery: aaaa-1111\nrecovery: bbbb-2222 used 2026-01-02\nrecovery: cccc-3333\n");
    expect((await runFake(s, ["recovery", "list", "github"])).stdout).toBe("aaaa-1111\ncccc-3333\n");
    expect((await runFake(s, ["recovery", "list", "github", "--all"])).stdout).toBe(
      "aaaa-1111\nbbbb-2222\tused 2026-01-02\ncccc-3333\n",
    );
    const none = await runFake(store(), ["recovery", "list", "github"]);
    expect(none.stdout).toBe("");
    expect(none.stderr).toMatch(/no recovery codes/);
  });

  it("uses the first unused code, or the one given, and warns when few are left", async () => {
    const s = store("recovery: aaaa-1111\nrecovery: bbbb-2222\nrecovery: cccc-3333\nrecovery: 7041 0682\n");
    let r = await runFake(s, ["recovery", "use", "github"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("aaaa-1111\n");
    expect(r.stderr).not.toMatch(/warning/);
    expect(s.entries.get("github/alice")).toContain("recovery: aaaa-1111 used 2026-12-04\n");
    r = await runFake(s, ["recovery", "use", "github", "7041", "0682"]);
    expect(r.stdout).toBe("7041 0682\n");
    expect(r.stderr).toMatch(/warning: only 2 recovery codes left/);
    r = await runFake(s, ["recovery", "use", "github", "zzzz-0000"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not in the entry/);
    r = await runFake(s, ["recovery", "use", "github", "AAAA1111"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already used on 2026-12-04/);
    expect(s.commits).toHaveLength(2);
  });

  it("rejects bad subcommands and stray arguments", async () => {
    expect((await runFake(store(), ["recovery"])).code).toBe(2);
    expect((await runFake(store(), ["recovery", "drop", "github"])).code).toBe(2);
    expect((await runFake(store(), ["recovery", "list"])).code).toBe(2);
    expect((await runFake(store(), ["recovery", "list", "github", "x"])).code).toBe(2);
    expect((await runFake(store(), ["recovery", "add", "github", "--all"])).code).toBe(2);
  });
});
