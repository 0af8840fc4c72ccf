import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, type Home, makeHome, type Run, sh, sk } from "./harness.js";

const A_URI = "otpauth://totp/Alpha:ann?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Alpha";
const B_URI = "otpauth://totp/Beta:bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Beta";
const C_URI = "otpauth://totp/Gamma:cy?secret=MFRGGZDFMZTWQ2LKMFRGGZDFMZTWQ2LK&issuer=Gamma";

beforeAll(ensureBuilt, 300_000);

function ok(r: Run): Run {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

describe("sync between two clones", () => {
  let home: Home;
  let a: string;
  let b: string;
  let bare: string;
  const inA = (args: string[], input?: string) => sk(home, ["--store", a, ...args], { input });
  const inB = (args: string[], input?: string) => sk(home, ["--store", b, ...args], { input });
  const names = (r: Run) => r.stdout.split("\n").filter(Boolean);
  const audit = (run: typeof inA) =>
    JSON.parse(run(["audit", "--json"]).stdout).findings as { finding: string; account: string | null }[];

  beforeAll(() => {
    home = makeHome();
    a = join(home.dir, "a");
    b = join(home.dir, "b");
    bare = join(home.dir, "bare.git");
    // Both clones share one HOME, so one age identity opens both.
    ok(sk(home, ["init", a]));
    ok(sh(home, "git", ["init", "-q", "--bare", bare]));
    ok(sh(home, "git", ["-C", a, "remote", "add", "origin", bare]));
  });
  afterAll(() => home.cleanup());

  it("says clearly when there is no remote", () => {
    const lone = join(home.dir, "lone");
    ok(sk(home, ["init", lone]));
    const r = sk(home, ["--store", lone, "sync"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sparekey: .*no git remote.*git -C .* remote add origin URL\n$/);
  });

  it("pushes the first time to an empty bare repository", () => {
    const r = ok(inA(["sync"]));
    expect(r.stderr).toMatch(/Synced with origin: 0 commits pulled, \d+ pushed\./);
    ok(sh(home, "git", ["clone", "-q", bare, b]));
    expect(existsSync(join(b, ".age-recipients"))).toBe(true);
  });

  it("each side adds an entry, both sync, both see both", () => {
    ok(inA(["add", "alpha/ann"], `${A_URI}\n`));
    ok(inB(["add", "beta/bob"], `${B_URI}\n`));
    ok(inA(["sync"]));
    const rb = ok(inB(["sync"]));
    expect(rb.stderr).toMatch(/1 commit pulled, 1 pushed/);
    ok(inA(["sync"]));
    expect(names(ok(inA(["list"])))).toEqual(["alpha/ann", "beta/bob"]);
    expect(names(ok(inB(["list"])))).toEqual(["alpha/ann", "beta/bob"]);
    // And the entries decrypt on the other side.
    expect(ok(inB(["code", "alpha/ann", "--at", "0"])).stdout).toBe(
      ok(inA(["code", "alpha/ann", "--at", "0"])).stdout,
    );
  });

  it("commits an entry that a killed run left uncommitted, then syncs it", () => {
    const src = join(a, "2fa/alpha/ann.age");
    writeFileSync(join(a, "2fa/alpha/left.age"), readFileSync(src));
    ok(inA(["sync"]));
    ok(inB(["sync"]));
    expect(names(ok(inB(["list"])))).toContain("alpha/left");
    expect(sh(home, "git", ["-C", a, "status", "--porcelain"]).stdout).toBe("");
    ok(inA(["rm", "-f", "alpha/left"]));
    ok(inA(["sync"]));
    ok(inB(["sync"]));
  });

  it("changes to different entries on both sides merge by themselves", () => {
    ok(inA(["recovery", "add", "alpha/ann"], "aaaa-1111\n"));
    ok(inB(["recovery", "add", "beta/bob"], "bbbb-2222\n"));
    ok(inA(["sync"]));
    const r = ok(inB(["sync"]));
    expect(r.stderr).not.toMatch(/[Cc]onflict/);
    ok(inA(["sync"]));
    for (const run of [inA, inB]) {
      expect(ok(run(["show", "alpha/ann"])).stdout).toMatch(/1 of 1/);
      expect(ok(run(["show", "beta/bob"])).stdout).toMatch(/1 of 1/);
    }
  });

  it("a conflicting edit keeps both versions, reported, and the audit lists it until resolved", () => {
    ok(inA(["recovery", "add", "alpha/ann"], "aaaa-7777\n"));
    ok(inB(["recovery", "add", "alpha/ann"], "bbbb-7777\nbbbb-8888\n"));
    ok(inA(["sync"]));
    const r = ok(inB(["sync"]));
    const copy = /saved as (alpha\/ann\.conflict-\d{4}-\d{2}-\d{2})\./.exec(r.stderr)?.[1];
    expect(copy, r.stderr).toBeDefined();
    expect(r.stderr).toMatch(/Conflict on alpha\/ann: kept this machine's version/);
    // This machine's version under the name, the other machine's as the conflict copy: nothing lost.
    const pass = (store: string, name: string) =>
      sh(home, "age", [
        "-d",
        "-i",
        join(home.env.HOME, ".passage/identities"),
        join(store, "2fa", `${name}.age`),
      ]);
    expect(ok(pass(b, "alpha/ann")).stdout).toMatch(/bbbb-7777[\s\S]*bbbb-8888/);
    expect(ok(pass(b, "alpha/ann")).stdout).not.toMatch(/aaaa-7777/);
    expect(ok(pass(b, copy!)).stdout).toMatch(/aaaa-7777/);
    expect(names(ok(inB(["list"])))).toContain(copy);
    // The other side gets both too.
    ok(inA(["sync"]));
    expect(names(ok(inA(["list"])))).toEqual(["alpha/ann", copy, "beta/bob"]);
    expect(audit(inA).filter((f) => f.finding === "sync-conflict")).toEqual([
      expect.objectContaining({ account: copy, finding: "sync-conflict" }),
    ]);
    ok(inA(["rm", copy!]));
    expect(audit(inA).filter((f) => f.finding === "sync-conflict")).toEqual([]);
    ok(inA(["sync"]));
    ok(inB(["sync"]));
    expect(names(ok(inB(["list"])))).toEqual(["alpha/ann", "beta/bob"]);
    expect(readFileSync(join(b, "2fa/alpha/ann.age")).length).toBeGreaterThan(0);
  });

  it("mirror state recorded on both machines merges record by record", () => {
    const pw = join(home.dir, "pw");
    writeFileSync(pw, "pw\n");
    ok(inA(["mirror", "add", "aegis", join(home.dir, "a-vault.json")]));
    ok(inB(["mirror", "add", "aegis", join(home.dir, "b-vault.json")]));
    ok(inA(["mirror", "sync", "--password-file", pw]));
    ok(inB(["mirror", "sync", "--password-file", pw]));
    ok(inA(["sync"]));
    const r = ok(inB(["sync"]));
    expect(r.stderr).not.toMatch(/[Cc]onflict/);
    ok(inA(["sync"]));
    for (const store of [a, b]) {
      const state = JSON.parse(readFileSync(join(store, ".sparekey/mirrors.json"), "utf8"));
      expect(state.mirrors.map((m: { file: string }) => m.file).sort()).toEqual([
        join(home.dir, "a-vault.json"),
        join(home.dir, "b-vault.json"),
      ]);
    }
    expect(audit(inA).filter((f) => /mirror/.test(f.finding))).toEqual([]);
    expect(audit(inB).filter((f) => /mirror/.test(f.finding))).toEqual([]);
    ok(inA(["mirror", "rm", join(home.dir, "a-vault.json")]));
    ok(inB(["mirror", "rm", join(home.dir, "b-vault.json")]));
    ok(inA(["sync"]));
    ok(inB(["sync"]));
  });

  it("a removal on one side and an edit on the other keeps the edit as a conflict copy", () => {
    ok(inA(["add", "gamma/cy"], `${C_URI}\n`));
    ok(inA(["sync"]));
    ok(inB(["sync"]));
    ok(inA(["rm", "gamma/cy"], "y\n"));
    ok(inB(["recovery", "add", "gamma/cy"], "keep-1234\n"));
    ok(inA(["sync"]));
    const r = ok(inB(["sync"]));
    // This machine (B) edited it, so its version stays; nothing of A's side is lost (A removed it).
    expect(names(ok(inB(["list"])))).toContain("gamma/cy");
    expect(ok(inB(["show", "gamma/cy"])).stdout).toMatch(/1 of 1/);
    expect(r.stderr).toMatch(
      /Conflict on gamma\/cy: the other machine removed it, this one changed it; kept it\./,
    );
    // The reverse: removed here, changed there: the removal wins here and the change is kept as a copy.
    ok(inA(["sync"]));
    ok(inB(["rm", "gamma/cy"], "y\n"));
    ok(inA(["recovery", "add", "gamma/cy"], "more-5678\n"));
    ok(inA(["sync"]));
    const r2 = ok(inB(["sync"]));
    const copy = /saved as (gamma\/cy\.conflict-[\d-]+)\./.exec(r2.stderr)?.[1];
    expect(copy, r2.stderr).toBeDefined();
    expect(names(ok(inB(["list"])))).not.toContain("gamma/cy");
    expect(ok(inB(["show", copy!])).stdout).toMatch(/2 of 2/);
  });
});
