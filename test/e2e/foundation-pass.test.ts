// sparekey and the real pass / pass-otp on one store: same codes, same HOTP counter, every line
// that pass wrote kept. Both runtimes.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeAtCounter } from "../../src/core/otp.js";
import { parseUri } from "../../src/core/uri.js";
import { type Home, hasTool, makeGpgKey, makeHome, ROOT, type Run, sh, sk } from "./harness.js";

const RUNTIMES: [string, string][] = [
  ["default", ""],
  ["node", "node"],
];
const TOOLS = ["gpg", "pass", "oathtool", "git"];
const missing = TOOLS.filter((t) => !hasTool(t));
// pass otp is an extension file, not a binary.
const hasPassOtp = existsSync("/usr/lib/password-store/extensions/otp.bash");

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist/node/run.js"))) {
    execFileSync("node", ["scripts/build.mjs"], { cwd: ROOT, stdio: "inherit" });
  }
}, 300_000);

describe.skipIf((missing.length > 0 || !hasPassOtp) && !process.env.CI).each(RUNTIMES)(
  "pass interop, %s runtime",
  (_label, runtime) => {
    let home: Home;
    const run = (args: string[], input?: string): Run =>
      sk(home, args, { input, env: { SPAREKEY_RUNTIME: runtime } });
    const pass = (args: string[], input?: string): Run => sh(home, "pass", args, { input });
    const show = (name: string): string => pass(["show", `2fa/${name}`]).stdout;

    beforeAll(() => {
      expect(missing, "tools needed by these tests").toEqual([]);
      expect(hasPassOtp, "pass-extension-otp").toBe(true);
      home = makeHome();
      const fpr = makeGpgKey(home);
      home.env.PASSWORD_STORE_DIR = join(home.dir, "pass");
      expect(pass(["init", fpr]).code).toBe(0);
      expect(pass(["git", "init"]).code).toBe(0);
    }, 120_000);
    afterAll(() => home.cleanup());

    /** `pass otp` and `sparekey code` at the same moment; retried once across a period boundary. */
    function bothCodes(name: string): [string, string] {
      for (let i = 0; ; i++) {
        const p = pass(["otp", `2fa/${name}`]);
        const s = run(["code", name]);
        expect(p.code, p.stderr).toBe(0);
        expect(s.code, s.stderr).toBe(0);
        if (p.stdout === s.stdout || i === 1) return [p.stdout, s.stdout];
      }
    }

    it("pass otp gives the code sparekey gives, for every shape of entry sparekey writes", () => {
      const keys: [string, string[], string][] = [
        [
          "github/alice",
          [],
          "otpauth://totp/GitHub:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=GitHub",
        ],
        [
          "big/bank",
          ["--algorithm", "SHA256", "--digits", "8"],
          "otpauth://totp/Big%20Bank:John%20Smith?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Big+Bank",
        ],
        [
          "slow/one",
          ["--algorithm", "SHA512", "--period", "60"],
          "otpauth://totp/Slow:x?secret=JBSWY3DPEHPK3PXP&issuer=Slow",
        ],
        ["bare/secret", [], "jbsw y3dp ehpk 3pxp"],
        ["apple/nolabel", [], "otpauth://totp?secret=JBSWY3DPEHPK3PXP&issuer=Apple"],
      ];
      for (const [name, flags, input] of keys) {
        const r = run(["add", name, ...flags], `${input}\n`);
        expect(r.code, r.stderr).toBe(0);
        expect(existsSync(join(home.env.PASSWORD_STORE_DIR, `2fa/${name}.gpg`))).toBe(true);
        const [p, s] = bothCodes(name);
        expect(s, name).toMatch(/^\d{6,8}\n$/);
        expect(p, name).toBe(s);
      }
      const log = sh(home, "git", ["-C", home.env.PASSWORD_STORE_DIR, "log", "--format=%s"]).stdout;
      expect(log).toContain("Add 2FA key for github/alice.");
    });

    it("reads `pass insert -m` and `pass otp insert` entries; keeps the password and other lines", () => {
      const text =
        "hunter2\notpauth://totp/Old:z?secret=JBSWY3DPEHPK3PXP&issuer=Old\nlogin: z\nurl: https://old.example\n";
      expect(pass(["insert", "-m", "2fa/old/z"], text).code).toBe(0);
      const want = execFileSync("oathtool", ["--totp", "-b", "--now=@59", "JBSWY3DPEHPK3PXP"], {
        encoding: "utf8",
      });
      expect(run(["code", "old/z", "--at", "59"]).stdout).toBe(want);
      expect(run(["show", "old/z"]).stdout).not.toContain("hunter2");

      expect(
        pass(["otp", "insert", "2fa/po"], "otpauth://totp/PO:me?secret=GEZDGNBVGY3TQOJQ&issuer=PO\n").code,
      ).toBe(0);
      const po = execFileSync("oathtool", ["--totp", "-b", "--now=@1111111111", "GEZDGNBVGY3TQOJQ"], {
        encoding: "utf8",
      });
      expect(run(["code", "po", "--at", "1111111111"]).stdout).toBe(po);

      // An HOTP entry made by pass: our counter update rewrites it and keeps every other line.
      const hotp = "otpauth://hotp/Bank:me?secret=JBSWY3DPEHPK3PXP&issuer=Bank&counter=3";
      expect(pass(["insert", "-m", "2fa/bank"], `s3cret pw\n${hotp}\nlogin: me\n\n# note\n`).code).toBe(0);
      expect(run(["code", "bank"]).stdout).toBe(`${codeAtCounter(parseUri(hotp), 4)}\n`);
      expect(show("bank")).toBe(
        `s3cret pw\n${hotp.replace("counter=3", "counter=4")}\nlogin: me\n\n# note\n`,
      );
    });

    it("HOTP: alternating pass otp and sparekey code walks the counter and never repeats a code", () => {
      const hotp = "otpauth://hotp/Alt:me?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Alt&counter=0";
      expect(run(["add", "alt"], hotp).code).toBe(0);
      const a = parseUri(hotp);
      const codes: string[] = [];
      for (let i = 1; i <= 6; i++) {
        // Odd turns sparekey, even turns pass otp (which on Debian leaves a torn "counter=NcounterM").
        const r = i % 2 === 1 ? run(["code", "alt"]) : pass(["otp", "2fa/alt"]);
        expect(r.code, `turn ${i}: ${r.stderr}`).toBe(0);
        // pass otp lets git's "[master abc123] ..." through on stdout before the code.
        const code = r.stdout.trimEnd().split("\n").pop();
        codes.push(code ?? "");
        expect(code, `turn ${i}`).toBe(codeAtCounter(a, i));
        // Debian's pass-otp under bash 5.2 writes "counter=1counter=2"; others write "counter=2".
        expect(show("alt")).toMatch(new RegExp(`&counter=(${i - 1}counter=)?${i}\n$`));
      }
      expect(new Set(codes).size).toBe(6);
      // sparekey repairs a torn counter on its next write.
      run(["code", "alt"]);
      expect(show("alt")).toMatch(/&counter=7\n$/);
      const log = sh(home, "git", ["-C", home.env.PASSWORD_STORE_DIR, "log", "--format=%s"]).stdout;
      expect(log).toContain("Increment HOTP counter for alt.");
      expect(log).toContain("Increment HOTP counter for 2fa/alt.");
    });
  },
);
