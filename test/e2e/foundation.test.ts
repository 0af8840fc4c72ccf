// The foundation commands end to end: bin/sparekey in temporary homes, on the age store (no gpg
// needed), under both runtimes (the Bun binary when built, and Node).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeBase32 } from "../../src/core/base32.js";
import rfc4226 from "../vectors/rfc4226.json" with { type: "json" };
import rfc6238 from "../vectors/rfc6238.json" with { type: "json" };
import { type Home, hasTool, makeHome, ROOT, type Run, sh, sk } from "./harness.js";

const RUNTIMES: [string, string][] = [
  ["default", ""],
  ["node", "node"],
];
const b32 = (ascii: string): string => encodeBase32(new TextEncoder().encode(ascii));
const URI = "otpauth://totp/ACME:ann?secret=JBSWY3DPEHPK3PXP&issuer=ACME";

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist/node/run.js"))) {
    execFileSync("node", ["scripts/build.mjs"], { cwd: ROOT, stdio: "inherit" });
  }
}, 300_000);

/** A failure the user sees: one line on stderr, no stack trace, nothing on stdout. */
function expectOneLine(r: Run, status: number, msg: RegExp): void {
  expect(r.code, r.stderr).toBe(status);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trimEnd().split("\n");
  // Usage errors add the usage line after the message.
  expect(lines.length).toBeLessThanOrEqual(status === 2 ? 2 : 1);
  expect(lines[0]).toMatch(/^sparekey: /);
  expect(r.stderr).toMatch(msg);
  expect(r.stderr).not.toMatch(/\n\s+at |internal error|JBSW/);
}

describe.each(RUNTIMES)("foundation e2e, %s runtime", (_label, runtime) => {
  let home: Home;
  const run = (args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Run =>
    sk(home, args, { ...opts, env: { SPAREKEY_RUNTIME: runtime, ...opts.env } });
  const store = (): string => join(home.env.HOME, ".passage/store");
  const gitLog = (): string => sh(home, "git", ["-C", store(), "log", "--format=%s"]).stdout;

  beforeAll(() => {
    home = makeHome();
    const r = run(["init"]);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => home.cleanup());

  it("RFC 6238 Appendix B through the CLI with --at", () => {
    for (const alg of ["SHA1", "SHA256", "SHA512"] as const) {
      const r = run(
        ["add", `rfc6238/${alg.toLowerCase()}`, "--secret-stdin", "--algorithm", alg, "--digits", "8"],
        {
          input: `${b32(rfc6238.seeds[alg])}\n`,
        },
      );
      expect(r.code, r.stderr).toBe(0);
    }
    for (const c of rfc6238.cases) {
      const r = run(["code", `rfc6238/${c.algorithm.toLowerCase()}`, "--at", String(c.time)]);
      expect(r, `${c.algorithm} at ${c.time}`).toEqual({ code: 0, stdout: `${c.code}\n`, stderr: "" });
    }
    // An ISO 8601 time is the same instant.
    expect(run(["code", "rfc6238/sha1", "--at", "2009-02-13T23:31:30Z"]).stdout).toBe("89005924\n");
  });

  it("RFC 4226 Appendix D through the CLI: each code advances and commits the counter", () => {
    // pass otp's rule: the stored counter is the last one used; `code` shows counter + 1.
    const r = run(["add", "rfc4226", "--secret-stdin", "--hotp", "--counter", "0"], {
      input: b32(rfc4226.secretAscii),
    });
    expect(r.code, r.stderr).toBe(0);
    for (const c of rfc4226.cases.slice(1)) {
      expect(run(["code", "rfc4226"]).stdout).toBe(`${c.code}\n`);
    }
    const entry = sh(home, "age", [
      "-d",
      "-i",
      join(home.env.HOME, ".passage/identities"),
      join(store(), "2fa/rfc4226.age"),
    ]);
    expect(entry.stdout).toMatch(/&counter=9\n$/);
    expect(
      gitLog()
        .split("\n")
        .filter((l) => l === "Increment HOTP counter for rfc4226."),
    ).toHaveLength(9);
  });

  it("the Steam vector", () => {
    expect(run(["add", "steam/me", "--steam"], { input: "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ\n" }).code).toBe(0);
    expect(run(["code", "steam/me", "--at", "1672531200"]).stdout).toBe("7W6CJ\n");
  });

  it("add from stdin, list, show, mv, rm, each with its commit", () => {
    expect(run(["add"], { input: `${URI}\n` }).code).toBe(0);
    expect(run(["code", "acme/ann", "--at", "59"]).stdout).toBe("996554\n");
    expect(run(["list", "acme"]).stdout).toBe("acme/ann\n");
    const shown = run(["show", "ann"]);
    expect(shown.stdout).toMatch(/^issuer: +ACME$/m);
    expect(shown.stdout).not.toContain("JBSW");
    expect(run(["show", "ann", "--uri"]).stdout).toBe(`${URI}\n`);
    expect(run(["show", "ann", "--secret"]).stdout).toBe("JBSWY3DPEHPK3PXP\n");
    const png = join(home.dir, "ann.png");
    expect(run(["show", "ann", "--qr", png]).code).toBe(0);
    expect(statSync(png).mode & 0o777).toBe(0o600);
    expect(run(["mv", "acme/ann", "acme/anne"]).code).toBe(0);
    expect(run(["rm", "anne"]).code).toBe(0);
    expect(gitLog()).toMatch(
      /^Remove 2FA key acme\/anne\.\nRename 2FA key acme\/ann to acme\/anne\.\nAdd 2FA key for acme\/ann\.\n/,
    );
    expect(existsSync(join(store(), "2fa/acme/anne.age"))).toBe(false);
  });

  it("every exit path: 1 for bad input (store unchanged), 2 for usage", () => {
    expect(run(["add", "dup/a"], { input: URI }).code).toBe(0);
    expect(run(["add", "dup/b"], { input: URI }).code).toBe(0);
    const file = join(store(), "2fa/dup/a.age");
    const before = readFileSync(file);
    const commits = gitLog();

    expectOneLine(run(["code", "nope"]), 1, /no entry matches "nope"/);
    expectOneLine(run(["code", "dup"]), 1, /"dup" matches 2 entries: dup\/a, dup\/b/);
    expectOneLine(
      run(["add", "bad/x"], { input: "otpauth://totp/X:y?secret=!!!" }),
      1,
      /invalid base32 secret/,
    );
    expectOneLine(
      run(["add", "bad/y"], { input: "JBSW Y3DP 0000" }),
      1,
      /invalid base32 secret: bad character/,
    );
    expectOneLine(run(["add", "bad/z"], { input: "otpauth://totp/X:y?issuer=X" }), 1, /invalid otpauth URI/);
    expectOneLine(
      run(["add", "bad/w"], { input: "otpauth://totp/X:y?secret=JBSWY3DPEHPK3PXP&digits=x" }),
      1,
      /digits/,
    );
    expectOneLine(run(["add", "../evil"], { input: URI }), 1, /"\.\." is not allowed/);
    expectOneLine(run(["--bogus-flag"]), 2, /unknown option --bogus-flag/);
    expectOneLine(run(["code", "--bogus"]), 2, /Unknown option '--bogus'/);
    expectOneLine(run(["code"]), 2, /give exactly one QUERY/);
    expectOneLine(run(["mv", "dup/a"]), 2, /give OLD and NEW/);
    expectOneLine(run(["frobnicate"]), 2, /unknown command "frobnicate"/);
    expectOneLine(
      run(["add", "dup/a"], { input: "otpauth://totp/Other:z?secret=GEZDGNBVGY3TQOJQ" }),
      1,
      /already exists.*--force/,
    );
    expectOneLine(run(["add", "DUP/A"], { input: URI }), 1, /differs only in case/);

    expect(readFileSync(file).equals(before)).toBe(true);
    expect(gitLog()).toBe(commits);
    expect(existsSync(join(store(), "2fa/bad"))).toBe(false);
  });

  it("a corrupt entry fails alone, in one line; list still shows everything", () => {
    const recipients = join(store(), ".age-recipients");
    expect(run(["add", "good/steam", "--steam"], { input: "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ\n" }).code).toBe(
      0,
    );
    // A decryptable entry whose key line is broken, and a file that is not age at all.
    mkdirSync(join(store(), "2fa/corrupt"), { recursive: true, mode: 0o700 });
    sh(home, "age", ["-e", "-R", recipients, "-o", join(store(), "2fa/corrupt/key.age")], {
      input: "pw\notpauth://totp/X:y?secret=JBSW!!!!&issuer=X\n",
    });
    writeFileSync(join(store(), "2fa/corrupt/file.age"), "this is not an age file\n", { mode: 0o600 });
    expectOneLine(run(["code", "corrupt/key"]), 1, /corrupt\/key: corrupt entry: invalid base32 secret/);
    expectOneLine(run(["code", "corrupt/file"]), 1, /corrupt\/file/);
    expectOneLine(run(["show", "corrupt/key"]), 1, /corrupt entry/);

    const names = run(["list"]);
    expect(names.code).toBe(0);
    expect(names.stdout.split("\n")).toEqual(
      expect.arrayContaining(["corrupt/file", "corrupt/key", "good/steam"]),
    );
    const json = run(["list", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const rows = JSON.parse(json.stdout) as { name: string; error?: string; kind?: string }[];
    expect(rows.find((r) => r.name === "corrupt/key")?.error).toMatch(/invalid base32 secret/);
    expect(rows.find((r) => r.name === "corrupt/file")?.error).toBeTruthy();
    expect(rows.find((r) => r.name === "good/steam")?.kind).toBe("steam");
    expect(json.stdout).not.toMatch(/JBSW|HXDM/);
    // The good entries still work.
    expect(run(["code", "good/steam", "--at", "1672531200"]).stdout).toBe("7W6CJ\n");
  });

  it("entries are 0600 in 0700 folders, and age -d reads them", () => {
    expect(run(["add", "perm/x"], { input: URI }).code).toBe(0);
    const f = join(store(), "2fa/perm/x.age");
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(statSync(join(store(), "2fa/perm")).mode & 0o777).toBe(0o700);
    const d = sh(home, "age", ["-d", "-i", join(home.env.HOME, ".passage/identities"), f]);
    expect(d.stdout).toBe(`${URI}\n`);
  });

  it("code -c copies via stdin, no process has the code in its argv, and it clears after the clip time", async () => {
    expect(run(["add", "clip/me"], { input: URI }).code).toBe(0);
    // A fake xclip that keeps the clipboard in a file.
    const bin = join(home.dir, "fakebin");
    const clip = join(home.dir, "clipboard");
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, "xclip"),
      `#!/bin/sh\nfor a in "$@"; do [ "$a" = -o ] && { cat '${clip}'; exit 0; }; done\ncat > '${clip}'\n`,
      { mode: 0o755 },
    );
    const env = { PATH: `${bin}:${home.env.PATH}`, DISPLAY: ":0", PASSWORD_STORE_CLIP_TIME: "2" };
    const r = run(["code", "clip/me", "-c"], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("Copied clip/me's code to the clipboard; it clears in 2 s.\n");
    const code = readFileSync(clip, "utf8");
    expect(code).toMatch(/^\d{6}$/);
    // The clearer is sleeping now, detached from sparekey, which has exited: scan every argv.
    const { readdirSync } = await import("node:fs");
    let clearer = false;
    for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      let argv = "";
      try {
        argv = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      } catch {
        continue;
      }
      expect(argv, `process ${pid}`).not.toContain(code);
      if (argv.includes("IFS= read -r code")) clearer = true;
    }
    expect(clearer).toBe(true);
    await new Promise((res) => setTimeout(res, 3500));
    expect(readFileSync(clip, "utf8")).toBe("");
  });

  it("demo runs end to end in a temporary store and leaves nothing behind", () => {
    const r = run(["demo"]);
    expect(r.code, r.stderr).toBe(0);
    const dir = /throwaway age store in (\S+)/.exec(r.stdout)?.[1];
    expect(dir).toBeTruthy();
    expect(existsSync(dir!)).toBe(false);
    expect(r.stdout).toMatch(/^ {3}\d{6} {3}\(changes in \d+ s\)$/m);
    expect(r.stdout).toMatch(/[▀▄█]/);
    for (const step of [
      "1. Save the key first",
      "2. Add it",
      "3. Save the recovery codes",
      "4. Write them on paper",
      "5. Keep a second copy",
    ]) {
      expect(r.stdout).toContain(step);
    }
  });
});

describe.skipIf(!hasTool("age") && !process.env.CI)("age store with no gpg anywhere on PATH", () => {
  it("init, add, code in a fresh HOME", () => {
    for (const [, runtime] of RUNTIMES) {
      const home = makeHome();
      try {
        // Only what bin/sparekey and git need: no gpg, no pass, no age binary.
        const bin = join(home.dir, "bin");
        mkdirSync(bin);
        for (const tool of ["node", "git", "dirname", "readlink"]) {
          const path = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
          symlinkSync(path, join(bin, tool));
        }
        home.env.PATH = bin;
        home.env.SPAREKEY_RUNTIME = runtime;
        expect(sh(home, "/bin/sh", ["-c", "command -v gpg"]).code).not.toBe(0);
        expect(sk(home, ["init"]).code).toBe(0);
        expect(sk(home, ["add", "acme/ann"], { input: `${URI}\n` }).code).toBe(0);
        expect(sk(home, ["code", "ann", "--at", "1111111111"]).stdout).toBe(
          `${execFileSync("oathtool", ["--totp", "-b", "--now=@1111111111", "JBSWY3DPEHPK3PXP"], { encoding: "utf8" })}`,
        );
      } finally {
        home.cleanup();
      }
    }
  });
});
