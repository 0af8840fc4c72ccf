import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { itWith, pageSizes, pdfInfo, pdfText, rawAndInflated, scanQr } from "../render/card-pdf.js";
import { type Home, makeHome, ROOT, sh, sk } from "./harness.js";

const SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ";
const ZOE = `otpauth://totp/GitHub:Zo%C3%AB%20%C3%85str%C3%B6m-N%C3%BA%C3%B1ez?secret=${SECRET}&issuer=GitHub`;
const GREEK_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const GREEK = `otpauth://totp/%CE%95%CE%BB%CE%BB%CE%AC%CF%82:%CE%A3%CF%89%CE%BA%CF%81%CE%AC%CF%84%CE%B7%CF%82?secret=${GREEK_SECRET}&issuer=%CE%95%CE%BB%CE%BB%CE%AC%CF%82`;
const ZOE_CODES = ["7xk2-9fqa", "m3pd-81zc", "q4mz-77ab", "plok-2211"];
const USED = "m3pd-81zc";
const AT = "2026-12-04T19:02:11Z";
const TOOLS = ["pdfinfo", "pdftotext", "pdftoppm", "zbarimg", "git"];
// Both runtimes bin/sparekey can use: the Bun binary (default) and Node with the esbuild bundle.
const RUNTIMES = [
  { name: "bun binary", env: {} as Record<string, string> },
  { name: "node", env: { SPAREKEY_RUNTIME: "node" } },
];

function ok(r: { code: number; stderr: string }): void {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
}

describe("sparekey card (real CLI, age store)", () => {
  let home: Home;
  let store: string;

  beforeAll(() => {
    if (!existsSync(join(ROOT, "dist/node/run.js"))) {
      spawnSync("node", ["scripts/build.mjs"], { cwd: ROOT, stdio: "inherit" });
    }
    home = makeHome();
    ok(sk(home, ["init"]));
    store = join(home.env.HOME, ".passage/store");
    ok(sk(home, ["add", "github/zoe"], { input: `${ZOE}\n` }));
    ok(sk(home, ["add", "greek/sokratis"], { input: `${GREEK}\n` }));
    ok(sk(home, ["recovery", "add", "github/zoe"], { input: `${ZOE_CODES.join("\n")}\n` }));
    ok(sk(home, ["recovery", "use", "github/zoe", USED]));
  });
  afterAll(() => home?.cleanup());

  const git = (...args: string[]) => sh(home, "git", ["-C", store, ...args]).stdout;
  const entry = (name: string) =>
    sh(home, "age", ["-d", "-i", join(home.env.HOME, ".passage/identities"), join(store, `2fa/${name}.age`)])
      .stdout;

  for (const rt of RUNTIMES) {
    itWith(TOOLS)(`prints cards for every account without the key (${rt.name})`, () => {
      const file = `all-${rt.env.SPAREKEY_RUNTIME ?? "bun"}.pdf`;
      const commits = git("rev-list", "--count", "HEAD");
      const r = sk(home, ["card", "-o", file, "--at", AT], { env: rt.env });
      ok(r);
      const path = join(home.dir, file);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const pdf = new Uint8Array(readFileSync(path));
      expect(pageSizes(pdf)).toEqual(["360 x 216", "360 x 216"]);
      expect(pdfInfo(pdf).Title).toBe("sparekey recovery card");
      const text = pdfText(pdf);
      for (const s of ["GitHub", "Zoë Åström-Núñez", "Ελλάς", "Σωκράτης", "2026-12-04"])
        expect(text).toContain(s);
      for (const c of ZOE_CODES.filter((c) => c !== USED)) expect(text).toContain(c);
      expect(text).not.toContain(USED);
      const everything = `${text}\n${rawAndInflated(pdf)}\n${JSON.stringify(pdfInfo(pdf))}`;
      for (const s of [SECRET, GREEK_SECRET, "JBSW Y3DP", "GEZD GNBV", "otpauth", "secret="])
        expect(everything).not.toContain(s);
      expect(entry("github/zoe")).toMatch(/^printed: 2026-12-04 #[0-9a-f]{8}$/m);
      expect(entry("greek/sokratis")).toMatch(/^printed: 2026-12-04 #[0-9a-f]{8}$/m);
      // Recording the same date twice changes nothing, so only the first run commits.
      if (rt === RUNTIMES[0]) {
        expect(Number(git("rev-list", "--count", "HEAD"))).toBe(Number(commits) + 1);
        expect(git("log", "-1", "--format=%s").trim()).toBe("Print recovery cards for 2 accounts.");
      }
    });

    itWith(TOOLS)(`--with-secret: the QR code scans back to the entry's URI (${rt.name})`, () => {
      const file = `zoe-${rt.env.SPAREKEY_RUNTIME ?? "bun"}.pdf`;
      const r = sk(home, ["card", "zoe", "-o", file, "--with-secret", "--at", "2026-12-05"], { env: rt.env });
      ok(r);
      expect(r.stderr).toMatch(/holds the 2FA keys/);
      const pdf = new Uint8Array(readFileSync(join(home.dir, file)));
      const uri = sk(home, ["show", "github/zoe", "--uri"]).stdout.trim();
      expect(scanQr(pdf, 300)).toEqual([uri]);
      expect(pdfText(pdf)).toContain("JBSW Y3DP EHPK 3PXP");
      expect(entry("github/zoe")).toMatch(/^printed: 2026-12-05 #[0-9a-f]{8}$/m);
      expect(git("log", "-1", "--format=%s").trim()).toBe("Print recovery cards for 1 account.");
    });
  }

  itWith(TOOLS)("letter and A4 sheets at real size", () => {
    for (const [paper, size] of [
      ["letter", "612 x 792"],
      ["a4", "595.28 x 841.89"],
    ]) {
      ok(sk(home, ["card", "-o", `${paper}.pdf`, "--paper", paper, "--at", AT]));
      expect(pageSizes(new Uint8Array(readFileSync(join(home.dir, `${paper}.pdf`))))).toEqual([size]);
    }
  });

  itWith(["git"])("a QUERY that matches nothing exits 1, writes no file, changes nothing", () => {
    const head = git("rev-parse", "HEAD");
    const r = sk(home, ["card", "github", "nosuch", "-o", "none.pdf"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no entry matches "nosuch"/);
    expect(r.stderr).not.toContain(SECRET);
    expect(readdirSync(home.dir).filter((f) => f.startsWith("none") || f.includes(".tmp"))).toEqual([]);
    expect(git("rev-parse", "HEAD")).toBe(head);
  });
});
