import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeAccount } from "../../src/core/account.js";
import {
  type AuditEntry,
  type AuditInput,
  auditStore,
  conflictName,
  conflictOf,
  FINDING_IDS,
  formatFindings,
  keyUsableUntil,
  markPrinted,
  mirrorHash,
  parseGpgKeys,
  parsePrinted,
  recoveryFingerprint,
} from "../../src/core/audit.js";
import { formatEntry, parseEntry } from "../../src/core/entry.js";
import { parseUri } from "../../src/core/uri.js";
import {
  formatMirrorStates,
  mergeMirrorStates,
  parseMirrorStates,
  sameMirror,
} from "../../src/stores/mirrors.js";

const NOW = Date.parse("2026-12-04T12:00:00Z");
const SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"; // 160 bits
const URI = (issuer: string, secret = SECRET) =>
  `otpauth://totp/${issuer}:a?secret=${secret}&issuer=${issuer}`;
const CODES = ["r1", "r2", "r3", "r4"].map((c) => `recovery: ${c}`).join("\n");

/** An entry that passes every per-account rule. */
function good(issuer: string, secret = SECRET): string {
  const text = `${URI(issuer, secret)}\n${CODES}\nverified: 2026-12-01T00:00:00Z\n`;
  return formatEntry(markPrinted(parseEntry(text), "2026-12-02"));
}

function hashOf(name: string, text: string): string {
  const e = parseEntry(text);
  return mirrorHash(
    name,
    e.account!,
    e.recovery.map((r) => r.code),
  );
}

function input(entries: AuditEntry[], over: Partial<AuditInput> = {}): AuditInput {
  return {
    entries,
    mirrors: [],
    git: { remotes: ["origin"], unpushed: 0 },
    keys: [],
    now: NOW,
    storeDir: "/s",
    ...over,
  };
}

const ids = (i: AuditInput) => auditStore(i).map((f) => [f.account, f.finding]);

describe("auditStore", () => {
  it("finds nothing in a store where every step was done", () => {
    const text = good("A");
    const mirror = {
      format: "kdbx",
      file: "/m.kdbx",
      state: {
        format: "kdbx",
        file: "/m.kdbx",
        synced: "2026-12-03T00:00:00Z",
        entries: { a: hashOf("a", text) },
      },
    };
    expect(auditStore(input([{ name: "a", text }], { mirrors: [mirror] }))).toEqual([]);
  });

  // One vector per per-account rule: the entry text, and exactly the IDs expected.
  const vectors: [string, string, string[]][] = [
    ["no recovery codes", `${URI("A")}\nverified: x\nprinted: 2026-01-01\n`, ["no-recovery-codes"]],
    [
      "two unused codes",
      `${URI("A")}\nrecovery: a\nrecovery: b\nrecovery: c used 2026-01-01\nverified: x\nprinted: 2026-01-01\n`,
      ["few-recovery-codes"],
    ],
    [
      "all codes used",
      `${URI("A")}\nrecovery: a used 2026-01-01\nverified: x\nprinted: 2026-01-01\n`,
      ["few-recovery-codes"],
    ],
    ["never verified", `${URI("A")}\n${CODES}\nprinted: 2026-01-01\n`, ["never-verified"]],
    ["no card", `${URI("A")}\n${CODES}\nverified: x\n`, ["no-card"]],
    ["card stale", `${URI("A")}\n${CODES}\nverified: x\nprinted: 2026-01-01 #00000000\n`, ["card-stale"]],
    [
      "card printed by hand (no fingerprint)",
      `${URI("A")}\n${CODES}\nverified: x\nprinted: 2026-01-01\n`,
      [],
    ],
    ["80-bit secret", good("A", "JBSWY3DPEHPK3PXP"), ["short-secret"]],
    ["no key line", "hunter2\nlogin: me\n", ["unreadable-entry"]],
    ["corrupt key line", "otpauth://totp/A?secret=!!\n", ["unreadable-entry"]],
    ["everything missing", `${URI("A")}\n`, ["no-recovery-codes", "never-verified", "no-card"]],
  ];
  it.each(vectors)("%s", (_why, text, expected) => {
    expect(ids(input([{ name: "a", text }])).map((x) => x[1])).toEqual(expected);
  });

  it("reports an entry that failed to decrypt, and still checks the others", () => {
    const found = ids(
      input([
        { name: "a", error: "gpg: decryption failed" },
        { name: "b", text: `${URI("B")}\n` },
      ]),
    );
    expect(found).toEqual([
      ["a", "unreadable-entry"],
      ["b", "no-recovery-codes"],
      ["b", "never-verified"],
      ["b", "no-card"],
    ]);
    expect(auditStore(input([{ name: "a", error: "boom" }]))[0].message).toContain("boom");
  });

  it("reports a duplicate key once per name", () => {
    expect(
      ids(
        input([
          { name: "a", text: good("A") },
          { name: "b", text: good("B") },
        ]),
      ),
    ).toEqual([
      ["a", "duplicate-key"],
      ["b", "duplicate-key"],
    ]);
  });

  it("card-stale follows the codes, not their used marks", () => {
    const printed = markPrinted(parseEntry(good("A")), "2026-12-02");
    const used = {
      ...printed,
      recovery: printed.recovery.map((r, i) => (i === 0 ? { ...r, used: "2026-12-03" } : r)),
    };
    expect(ids(input([{ name: "a", text: formatEntry(used) }]))).toEqual([]);
    const renewed = { ...printed, recovery: [...printed.recovery, { code: "r5" }] };
    expect(ids(input([{ name: "a", text: formatEntry(renewed) }]))).toEqual([["a", "card-stale"]]);
  });

  it("lists conflict copies left by sync, and does not count them as duplicates", () => {
    const found = ids(
      input([
        { name: "a", text: good("A") },
        { name: "a.conflict-2026-12-04", text: good("A") },
      ]),
    );
    expect(found).toEqual([["a.conflict-2026-12-04", "sync-conflict"]]);
  });

  it("compares mirrors against the recorded state", () => {
    const a = good("A");
    const b = good("B", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    const c = good("C", "MFRGGZDFMZTWQ2LKMFRGGZDFMZTWQ2LK");
    const old = hashOf("b", good("B", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").replace("recovery: r4\n", ""));
    const state = {
      format: "bitwarden",
      file: "/bw.json",
      synced: "2026-12-03T00:00:00Z",
      entries: { a: hashOf("a", a), b: old, gone: "x" },
      dropped: { c: "Bitwarden has no HOTP" },
    };
    const mirrors = [
      { format: "bitwarden", file: "/bw.json", state },
      { format: "kdbx", file: "/k.kdbx" },
    ];
    const entries = [
      { name: "a", text: a },
      { name: "b", text: b },
      { name: "c", text: c },
    ];
    const found = auditStore(input(entries, { mirrors }));
    expect(found.map((f) => [f.account, f.finding])).toEqual([
      ["a", "not-mirrored"],
      ["b", "not-mirrored"],
      ["b", "mirror-stale"],
      ["c", "not-mirrored"],
      ["c", "not-mirrored"],
    ]);
    expect(found.find((f) => f.account === "c")!.message).toContain("Bitwarden has no HOTP");
  });

  it("a counter that moved makes the mirror stale", () => {
    const text = `otpauth://hotp/A?secret=${SECRET}&counter=1\n${CODES}\nverified: x\nprinted: 2026-01-01\n`;
    const state = {
      format: "kdbx",
      file: "/k",
      synced: "2026-12-03T00:00:00Z",
      entries: { a: hashOf("a", text) },
    };
    const moved = text.replace("counter=1", "counter=2");
    expect(
      ids(input([{ name: "a", text: moved }], { mirrors: [{ format: "kdbx", file: "/k", state }] })),
    ).toEqual([["a", "mirror-stale"]]);
  });

  it("checks git and recipient keys at the store level", () => {
    expect(ids(input([], { git: undefined }))).toEqual([[null, "no-git"]]);
    expect(ids(input([], { git: { remotes: [], unpushed: 3 } }))).toEqual([[null, "no-remote"]]);
    expect(ids(input([], { git: { remotes: ["origin"], unpushed: 2 } }))).toEqual([[null, "unpushed"]]);
    const keys = [
      { recipient: "soon", fingerprint: "F1", expires: NOW + 10 * 86_400_000 },
      { recipient: "past", fingerprint: "F2", expires: NOW - 86_400_000 },
      { recipient: "later", fingerprint: "F3", expires: NOW + 31 * 86_400_000 },
      { recipient: "never", fingerprint: "F4" },
    ];
    const found = auditStore(input([], { keys }));
    expect(found.map((f) => f.message)).toEqual([
      "recipient key soon expires on 2026-12-14",
      "recipient key past expired on 2026-12-03",
    ]);
    expect(
      found.every((f) => f.finding === "key-expiring" && f.account === null && f.severity === "error"),
    ).toBe(true);
  });

  it("never puts a secret or a recovery code in a message or fix", () => {
    const text = `${URI("A", "JBSWY3DPEHPK3PXP")}\nrecovery: zz-topsecret used 2026-01-01\n`;
    for (const f of auditStore(
      input([
        { name: "a", text },
        { name: "b", text },
      ]),
    ))
      expect(`${f.message} ${f.fix}`).not.toMatch(/JBSWY3DPEHPK3PXP|topsecret/);
  });

  it("formats a table grouped by account, with a fix for each finding", () => {
    const found = auditStore(input([{ name: "a", text: `${URI("A")}\n` }], { git: undefined }));
    const text = formatFindings(found);
    expect(text).toMatch(/^a\n {2}error {4}no-recovery-codes/);
    expect(text).toContain("fix: sparekey recovery add a");
    expect(text).toContain("\n(store)\n  error    no-git");
    expect(formatFindings([])).toBe("");
    for (const f of found) expect(FINDING_IDS).toContain(f.finding);
  });
});

describe("helpers", () => {
  it("conflict names round-trip and never clash", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9/-]{0,20}$/), fc.array(fc.string()), (name, taken) => {
        const c = conflictName(name, "2026-12-04", taken);
        expect(conflictOf(c)).toEqual({ base: name, date: "2026-12-04" });
        expect(taken.map((t) => t.toLowerCase())).not.toContain(c.toLowerCase());
      }),
    );
    expect(conflictName("a", "2026-12-04", ["a.conflict-2026-12-04"])).toBe("a.conflict-2026-12-04-2");
    expect(conflictOf("github/alice")).toBeNull();
  });

  it("printed: keeps its date and fingerprint through a rewrite", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{4,10}$/), { maxLength: 12 }), (codes) => {
        const e = parseEntry(`${URI("A")}\n${codes.map((c) => `recovery: ${c}`).join("\n")}\n`);
        const text = formatEntry(markPrinted(e, "2026-12-04"));
        const back = parseEntry(text);
        expect(parsePrinted(back.meta.printed!)).toEqual({
          date: "2026-12-04",
          fingerprint: recoveryFingerprint(e),
        });
        const shuffled = { ...back, recovery: [...back.recovery].reverse() };
        expect(recoveryFingerprint(shuffled)).toBe(recoveryFingerprint(e));
      }),
    );
    expect(parsePrinted("2026-12-04")).toEqual({ date: "2026-12-04" });
    expect(parsePrinted("yesterday")).toBeNull();
  });

  it("mirrorHash changes with the key, the name and the codes", () => {
    const a = parseUri(URI("A"));
    const h = mirrorHash("a", a, ["x"]);
    expect(h).toMatch(/^[0-9a-f]{16}$/);
    expect(mirrorHash("a", a, ["x"])).toBe(h);
    expect(mirrorHash("b", a, ["x"])).not.toBe(h);
    expect(mirrorHash("a", a, ["y"])).not.toBe(h);
    expect(mirrorHash("a", makeAccount({ ...a, digits: 8 }), ["x"])).not.toBe(h);
  });

  it("parses gpg --with-colons and finds when a key stops being usable", () => {
    const text = [
      "tru::1:1700000000:0:3:1:5",
      "pub:u:255:22:AAAA:1700000000:1800000000::u:::scESC:::::ed25519:::0:",
      "fpr:::::::::PRIMARYFPR:",
      "uid:u::::1700000000::HASH::Test <t@example.com>::::::::::0:",
      "sub:u:255:18:BBBB:1700000000:1790000000:::::e:::::cv25519::",
      "fpr:::::::::SUBFPR:",
      "pub:u:255:22:CCCC:1700000000:::u:::scESC:::::ed25519:::0:",
      "fpr:::::::::NEVERFPR:",
      "sub:u:255:18:DDDD:1700000000::::::e:::::cv25519::",
      "fpr:::::::::SUB2:",
      "",
    ].join("\n");
    const keys = parseGpgKeys(text);
    expect(keys.map((k) => [k.fingerprint, k.expires])).toEqual([
      ["PRIMARYFPR", 1_800_000_000_000],
      ["NEVERFPR", undefined],
    ]);
    expect(keys[0].uids).toEqual(["Test <t@example.com>"]);
    expect(keys[0].subkeys[0]).toMatchObject({ fingerprint: "SUBFPR", expires: 1_790_000_000_000 });
    expect(keyUsableUntil(keys[0])).toBe(1_790_000_000_000);
    expect(keyUsableUntil(keys[1])).toBeUndefined();
  });
});

describe("mirror state file", () => {
  const record = fc.record({
    format: fc.constantFrom("kdbx", "aegis"),
    file: fc.constantFrom("/a", "/b", "/c"),
    synced: fc
      .date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true })
      .map((d) => d.toISOString()),
    entries: fc.dictionary(fc.stringMatching(/^[a-z]{1,5}$/), fc.stringMatching(/^[0-9a-f]{16}$/)),
  });

  it("merging keeps one record per mirror, the later sync's, and round-trips through the file", () => {
    fc.assert(
      fc.property(fc.array(record), fc.array(record), (a, b) => {
        const merged = mergeMirrorStates(mergeMirrorStates([], a), b);
        const keys = merged.map((m) => `${m.format} ${m.file}`);
        expect(new Set(keys).size).toBe(keys.length);
        for (const m of merged) {
          const all = [...a, ...b].filter((x) => sameMirror(x, m)).map((x) => x.synced);
          expect(m.synced).toBe(all.sort().at(-1));
        }
        expect(parseMirrorStates(formatMirrorStates(merged))).toEqual(
          [...merged].sort((x, y) => x.file.localeCompare(y.file) || x.format.localeCompare(y.format)),
        );
      }),
    );
    expect(parseMirrorStates("not json")).toEqual([]);
    expect(parseMirrorStates('{"mirrors":[{"file":1}]}')).toEqual([]);
  });
});
