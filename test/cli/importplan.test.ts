import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatPlan, missingBatches, planImport } from "../../src/cli/importplan.js";
import { makeAccount, sameKey } from "../../src/core/account.js";

const acc = (secret: string, issuer: string, account: string, kind: "totp" | "hotp" = "totp") =>
  makeAccount({ secret, issuer, account, kind });
const A = "JBSWY3DPEHPK3PXP";
const B = "KRSXG5CTMVRXEZLU";
const C = "MFRGGZDFMZTWQ2LK";

describe("planImport", () => {
  it("adds new keys under issuer/account, skips known ones, renames taken names", () => {
    const plan = planImport(
      [
        { file: "f", imported: { account: acc(A, "GitHub", "alice") } },
        { file: "f", imported: { account: acc(B, "GitHub", "alice") } },
        { file: "f", imported: { account: acc(C, "Mail", "bob") } },
        { file: "g", imported: { account: acc(C, "Mail", "bob") } },
        { file: "g", imported: { account: acc(C, "Mail", "bob", "hotp") } },
      ],
      [
        { name: "github/alice", account: acc(A, "GitHub", "alice") },
        { name: "mail/bob", account: null },
      ],
      [{ file: "g", skipped: { what: "Old (x)", why: "MD5 codes are not supported" } }],
    );
    expect(plan.rows.map((r) => [r.action, r.name, r.why])).toEqual([
      ["skip", "github/alice", "already in the store as github/alice"],
      ["rename", "github/alice-2", "github/alice already holds a different key"],
      ["rename", "mail/bob-2", "mail/bob already holds a different key"],
      ["skip", "mail/bob-2", "same key as mail/bob-2, earlier in this import"],
      ["rename", "mail/bob-3", "mail/bob already holds a different key"],
      ["skip", "", "MD5 codes are not supported"],
    ]);
    expect(plan.writes.map((w) => w.name)).toEqual(["github/alice-2", "mail/bob-2", "mail/bob-3"]);
  });

  it("uses a source's own name when it is a valid one, and derives one when it is not", () => {
    const plan = planImport(
      [
        { file: "f", imported: { account: acc(A, "X", "y"), name: "work/x" } },
        { file: "f", imported: { account: acc(B, "X", "y"), name: "../evil" } },
      ],
      [],
    );
    expect(plan.writes.map((w) => w.name)).toEqual(["work/x", "x/y"]);
  });

  it("never writes a key twice nor a name twice (property)", () => {
    const secrets = [A, B, C];
    const arb = fc.array(
      fc.record({
        s: fc.constantFrom(...secrets),
        i: fc.constantFrom("A", "a", "B"),
        n: fc.constantFrom("x", "X", ""),
        k: fc.constantFrom("totp" as const, "hotp" as const),
      }),
      { maxLength: 20 },
    );
    fc.assert(
      fc.property(arb, arb, (store, incoming) => {
        const existing = store.map((e, i) => ({ name: `e${i}`, account: acc(e.s, e.i, e.n, e.k) }));
        const plan = planImport(
          incoming.map((e) => ({ file: "f", imported: { account: acc(e.s, e.i, e.n, e.k) } })),
          existing,
        );
        const all = [...existing.map((e) => e.name), ...plan.writes.map((w) => w.name)].map((n) =>
          n.toLowerCase(),
        );
        expect(new Set(all).size).toBe(all.length);
        const writes = plan.writes.map((w) => w.account!);
        writes.forEach((k, i) => {
          expect(existing.some((e) => sameKey(e.account, k))).toBe(false);
          expect(writes.slice(i + 1).some((o) => sameKey(o, k))).toBe(false);
        });
        expect(plan.rows).toHaveLength(incoming.length);
      }),
    );
  });

  it("formats a table grouped by file", () => {
    const plan = planImport([{ file: "a.json", imported: { account: acc(A, "GitHub", "alice") } }], []);
    expect(
      formatPlan(plan, [
        { file: "a.json", label: "Aegis vault" },
        { file: "b.txt", label: "URIs" },
      ]),
    ).toEqual([
      "a.json (Aegis vault):",
      "  add     github/alice GitHub (alice)",
      "b.txt (URIs):",
      "  (no 2FA keys)",
    ]);
  });
});

describe("missingBatches", () => {
  it("names the codes of a Google export that were not imported", () => {
    expect(
      missingBatches([
        { file: "1.png", part: { id: 7, index: 0, size: 3 } },
        { file: "3.png", part: { id: 7, index: 2, size: 3 } },
        { file: "x.png", part: { id: 9, index: 0, size: 1 } },
      ]),
    ).toEqual([
      "1.png, 3.png: Google export of 3 QR codes; code 2 of 3 is missing (import those images too)",
    ]);
    expect(missingBatches([{ file: "a", part: { id: 0, index: 0, size: 4 } }])).toEqual([
      "a: Google export of 4 QR codes; codes 2, 3 and 4 of 4 are missing (import those images too)",
    ]);
  });
});
