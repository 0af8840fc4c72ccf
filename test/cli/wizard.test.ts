import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Args } from "../../src/cli/context.js";
import { guidedAdd, newWizardState, remainingSteps } from "../../src/cli/wizard.js";
import { makeAccount } from "../../src/core/account.js";
import { parseEntry } from "../../src/core/entry.js";
import { codeAtCounter, timeStep } from "../../src/core/otp.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { fakeCtx } from "./wizard-fake.js";

const SECRET = "JBSWY3DPEHPK3PXP";
const URI = `otpauth://totp/GitHub:alice?secret=${SECRET}&issuer=GitHub`;
const NOW = 1_700_000_000_000;
const acct = makeAccount({ secret: SECRET });
const codeAt = (d: number): string => codeAtCounter(acct, timeStep(acct, NOW) + d);

function args(positionals: string[] = [], values: Args["values"] = {}): Args {
  return { positionals, values };
}

async function wizard(store: MemoryStore, answers: (string | null)[], a: Args = args(), cwd?: string) {
  const { ctx, out } = fakeCtx(store, { tty: true, answers, nowMs: NOW, cwd });
  const state = newWizardState();
  out.code = await guidedAdd(ctx, a, state);
  return { out, state };
}

describe("guided add", () => {
  it("walks through every step: key, name, save, wrong code then right, recovery, card", async () => {
    const s = new MemoryStore();
    const { out, state } = await wizard(s, [
      `  ${URI}  `,
      "",
      "000000",
      codeAt(0),
      "Your backup codes:\n\n1. 7041 0682     2. 5127 6359",
      "n",
    ]);
    expect(out.code).toBe(0);
    expect(out.prompts[0]).toMatch(/\[secret\]$/);
    expect(out.prompts[1]).toBe("Name [github/alice]: ");
    const entry = parseEntry(s.entries.get("github/alice")!);
    expect(entry.account?.secret).toBe(SECRET);
    expect(entry.recovery.map((r) => r.code)).toEqual(["7041 0682", "5127 6359"]);
    expect(entry.meta.verified).toBe("2023-11-14T22:13:20Z");
    expect(s.commits).toEqual([
      "Add 2FA key for github/alice.",
      "Record a verified code for github/alice.",
      "Add 2 recovery codes for github/alice.",
    ]);
    expect(out.stderr).toMatch(/Saved: github\/alice in \(memory\)/);
    expect(out.stderr).toMatch(/does not match[\s\S]*wrong QR code[\s\S]*clock[\s\S]*period/);
    expect(out.stderr).toMatch(/Code matches; the app's clock agrees/);
    expect(out.stderr).toContain("JBSW Y3DP EHPK 3PXP");
    expect(out.stderr).toContain("▀");
    expect(out.stderr).toMatch(/sparekey card github\/alice -o card\.pdf/);
    expect(state.card).toBe("skipped");
    // The save comes before the QR code is drawn.
    expect(out.stderr.indexOf("Saved:")).toBeLessThan(out.stderr.indexOf("▀"));
  });

  it("asks issuer and account for a bare secret pasted with spaces, and avoids a taken name", async () => {
    const s = new MemoryStore({ "github/alice": `${URI}\n` });
    const { out } = await wizard(s, ["jbsw y3dp ehpk 3pxp", "GitHub", "alice", "", "", "", ""]);
    expect(out.code).toBe(0);
    expect(out.prompts.slice(1, 4)).toEqual([
      "Issuer (the site, e.g. GitHub): ",
      "Account (your user name or e-mail): ",
      "Name [github/alice-2]: ",
    ]);
    expect(parseEntry(s.entries.get("github/alice-2")!).account).toMatchObject({
      issuer: "GitHub",
      account: "alice",
    });
    expect(out.stderr).toMatch(
      /Not done yet:[\s\S]*sparekey verify github\/alice-2 CODE[\s\S]*recovery add github\/alice-2/,
    );
  });

  it("re-asks on a bad key, a bad name and a taken name", async () => {
    const s = new MemoryStore({ taken: `${URI}\n` });
    const { out } = await wizard(s, ["", "not base32 !!", URI, "../x", "taken", "mine", "", "", ""]);
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/Nothing was pasted/);
    expect(out.stderr).toMatch(/invalid base32 secret: bad character at position \d+\. Try again/);
    expect(out.stderr).toMatch(/"\.\." is not allowed\. Try another/);
    expect(out.stderr).toMatch(/taken already exists/);
    expect(s.entries.has("mine")).toBe(true);
    expect(out.stderr).not.toContain("not base32");
  });

  it.each([
    [1, /phone's clock is 30 s ahead/],
    [-1, /phone's clock is 30 s behind/],
  ])("names the drift when the code is %i step off", async (d, msg) => {
    const s = new MemoryStore();
    const { out } = await wizard(s, [URI, "", codeAt(d), "", ""]);
    expect(out.stderr).toMatch(msg);
    expect(parseEntry(s.entries.get("github/alice")!).meta.verified).toBeDefined();
  });

  it("a code two steps off is a mismatch", async () => {
    const s = new MemoryStore();
    const { out, state } = await wizard(s, [URI, "", codeAt(2), "", "", ""]);
    expect(out.stderr).toMatch(/does not match/);
    expect(state.verified).toBe("skipped");
    expect(parseEntry(s.entries.get("github/alice")!).meta.verified).toBeUndefined();
  });

  it("keeps what was saved when input ends, and lists what is left", async () => {
    const s = new MemoryStore();
    const { out, state } = await wizard(s, [URI, ""]);
    expect(out.code).toBe(1);
    expect(state.saved).toBe("done");
    expect(s.entries.has("github/alice")).toBe(true);
    expect(out.stderr).toMatch(/Stopped\. Everything saved so far is kept in github\/alice/);
    expect(out.stderr).toMatch(/verify github\/alice CODE/);
    expect(out.stderr).toMatch(/recovery add github\/alice/);
    expect(out.stderr).toMatch(/card github\/alice -o card\.pdf/);
  });

  it("says nothing was saved when input ends at the key", async () => {
    const s = new MemoryStore();
    const { out } = await wizard(s, []);
    expect(out.code).toBe(1);
    expect(s.entries.size).toBe(0);
    expect(out.stderr).toMatch(/nothing was saved/);
  });

  it("takes the name given on the command line as the proposal", async () => {
    const s = new MemoryStore();
    const { out } = await wizard(s, [URI, "", "", "", ""], args(["work/gh"]));
    expect(out.prompts[1]).toBe("Name [work/gh]: ");
    expect(s.entries.has("work/gh")).toBe(true);
  });

  it("prints the card when asked, and reports a card it could not write", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sk-wizard-"));
    try {
      const s = new MemoryStore();
      const { out, state } = await wizard(s, [URI, "", codeAt(0), "7041 0682", "y"], args(), dir);
      expect(out.code).toBe(0);
      expect(state.card).toBe("done");
      expect(readFileSync(join(dir, "github-alice-card.pdf")).subarray(0, 5).toString()).toBe("%PDF-");
      expect(parseEntry(s.entries.get("github/alice")!).meta.printed).toMatch(/^2023-11-14\b/);
      expect(out.stderr).toMatch(/All done/);
      const bad = await wizard(new MemoryStore(), [URI, "", "", "", "y"], args(), join(dir, "missing"));
      expect(bad.state.card).toBe("skipped");
      expect(bad.out.stderr).toMatch(/cannot write[\s\S]*sparekey card github\/alice -o card\.pdf/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps a long key inside 80 columns and says when the QR code is taller than the window", async () => {
    const long = `otpauth://totp/Amazon%20Web%20Services:root@example.com?secret=${SECRET.repeat(4)}&issuer=Amazon%20Web%20Services`;
    const { out } = await wizard(new MemoryStore(), [long, "", "", "", ""]);
    expect(out.stderr).toContain(`      ${"JBSW Y3DP EHPK 3PXP ".repeat(2).trim()}\n`);
    expect(out.stderr).toMatch(/The QR code needs \d+ lines: make the window taller/);
    const esc = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
    const drawn = out.stderr.split("\n").filter((l) => /[█▀▄]|^ {6}[A-Z2-7]{4}/.test(l));
    expect(drawn.length).toBeGreaterThan(20);
    for (const line of drawn) expect(line.replace(esc, "").length).toBeLessThanOrEqual(80);
  });

  it("with --force replaces the key of an existing entry and keeps its other lines", async () => {
    const s = new MemoryStore({
      "github/alice":
        "hunter2\notpauth://totp/Old:x?secret=GEZDGNBV\nrecovery: abcd-1234\nverified: 2020-01-01T00:00:00Z\n",
    });
    const { out } = await wizard(s, [URI, "", "", "", ""], args([], { force: true }));
    expect(out.prompts[1]).toBe("Name [github/alice]: ");
    expect(s.entries.get("github/alice")).toBe(`hunter2\n${URI}\nrecovery: abcd-1234\n`);
    expect(s.commits[0]).toBe("Replace 2FA key for github/alice.");
  });

  it("an interrupt during the save lets the save and commit finish, then stops", async () => {
    const state = newWizardState();
    class Interrupting extends MemoryStore {
      override async write(name: string, text: string): Promise<void> {
        state.interrupted = true;
        await super.write(name, text);
      }
    }
    const s = new Interrupting();
    const { ctx, out } = fakeCtx(s, { tty: true, answers: [URI, "", "never asked"], nowMs: NOW });
    expect(await guidedAdd(ctx, args(), state)).toBe(130);
    expect(s.entries.get("github/alice")).toBe(`${URI}\n`);
    expect(s.commits).toEqual(["Add 2FA key for github/alice."]);
    expect(out.stderr).toMatch(/Stopped\. Everything saved so far is kept in github\/alice/);
    expect(out.prompts).toHaveLength(2);
  });

  it("remainingSteps lists nothing when all is done", () => {
    expect(
      remainingSteps({
        ...newWizardState(),
        name: "x",
        saved: "done",
        verified: "done",
        recovery: "done",
        card: "done",
      }),
    ).toEqual([]);
  });
});
