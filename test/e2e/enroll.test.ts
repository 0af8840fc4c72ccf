import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Home, hasTool, makeGpgKey, makeHome, ROOT, type Run, sh, sk } from "./harness.js";

// Tools these tests drive. In CI a missing one fails the test; locally it is skipped.
const CI = Boolean(process.env.CI);
const missing = (tools: string[]): boolean => !CI && tools.some((t) => !hasTool(t));

const SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const URI = `otpauth://totp/GitLab:bob?secret=${SECRET}&issuer=GitLab`;
const T = 1_700_000_000;

const GOOGLE_FILE = `SAVE YOUR BACKUP CODES
Keep these backup codes somewhere safe but accessible.

1. 7041 0682     4. 9730 5427
2. 5127 6359     5. 1186 2243
3. 8351 8034

(bob@gmail.com)

* You can only use each backup code once.
* Generated: Jan 01, 2024
`;
const GOOGLE_CODES = ["7041 0682", "9730 5427", "5127 6359", "1186 2243", "8351 8034"];

/** The TOTP code oathtool computes for a secret at unix time `t` (now when omitted). */
function oathtool(secret: string, t?: number): string {
  const at = t === undefined ? [] : ["-N", `@${t}`];
  return execFileSync("oathtool", ["--totp", "-b", secret, ...at], { encoding: "utf8" }).trim();
}

/** A pass store (gpg key, `pass init`, `pass git init`) in a fresh home. */
function passHome(): Home {
  const home = makeHome();
  const fpr = makeGpgKey(home);
  for (const args of [
    ["init", fpr],
    ["git", "init"],
  ]) {
    const r = sh(home, "pass", args);
    if (r.code !== 0) throw new Error(`pass ${args[0]} failed: ${r.stderr}`);
  }
  return home;
}

function ok(r: Run): Run {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return r;
}

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist")))
    execFileSync("node", ["scripts/build.mjs"], { cwd: ROOT, stdio: "inherit" });
});

describe.skipIf(missing(["gpg", "pass", "oathtool", "zbarimg"]))(
  "enrollment commands on a pass store",
  () => {
    let home: Home;
    beforeAll(() => {
      home = passHome();
      ok(sk(home, ["add", "gitlab/bob"], { input: `${URI}\n` }));
    });
    afterAll(() => home?.cleanup());

    it("verify passes at ±30 s and fails at ±90 s, and records verified:", () => {
      const code = oathtool(SECRET, T);
      expect(sk(home, ["verify", "gitlab/bob", code, "--at", String(T + 90)]).code).toBe(1);
      expect(sk(home, ["verify", "gitlab/bob", code, "--at", String(T - 90)]).code).toBe(1);
      expect(sh(home, "pass", ["show", "2fa/gitlab/bob"]).stdout).not.toMatch(/verified:/);
      const ahead = sk(home, ["verify", "gitlab/bob", code, "--at", String(T - 30)]);
      expect(ahead.code).toBe(0);
      expect(ahead.stderr).toMatch(/your app is 30 s ahead/);
      const behind = sk(home, ["verify", "bob", code, "--at", new Date((T + 30) * 1000).toISOString()]);
      expect(behind.code).toBe(0);
      expect(behind.stderr).toMatch(/your app is 30 s behind/);
      expect(sh(home, "pass", ["show", "2fa/gitlab/bob"]).stdout).toMatch(
        /^verified: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m,
      );
      expect(
        sh(home, "git", ["-C", join(home.env.HOME, ".password-store"), "log", "--format=%s"]).stdout,
      ).toMatch(/^Record a verified code for gitlab\/bob\.$/m);
    });

    it("recovery add, list and use work on the real store, and pass shows the lines", () => {
      const added = ok(sk(home, ["recovery", "add", "gitlab/bob"], { input: GOOGLE_FILE }));
      expect(added.stderr).toMatch(/added 5 recovery codes/);
      expect(ok(sk(home, ["recovery", "list", "bob"])).stdout).toBe(
        GOOGLE_CODES.map((c) => `${c}\n`).join(""),
      );
      const used = ok(sk(home, ["recovery", "use", "bob", "51276359"]));
      expect(used.stdout).toBe("5127 6359\n");
      const shown = sh(home, "pass", ["show", "2fa/gitlab/bob"]).stdout;
      expect(shown).toMatch(/^recovery: 5127 6359 used \d{4}-\d\d-\d\d$/m);
      expect(shown).toMatch(/^recovery: 7041 0682$/m);
      expect(ok(sk(home, ["recovery", "list", "bob", "--all"])).stdout).toMatch(/^5127 6359\tused \d{4}-/m);
      expect(sk(home, ["recovery", "use", "bob", "0000 0000"]).code).toBe(1);
      // pass-otp still reads the entry sparekey wrote.
      expect(sh(home, "pass", ["otp", "2fa/gitlab/bob"]).stdout.trim()).toMatch(/^\d{6}$/);
    });

    it("show --qr FILE.png decodes with zbarimg to the same URI", () => {
      const uri = ok(sk(home, ["show", "gitlab/bob", "--uri"])).stdout.trim();
      expect(uri).toBe(URI);
      ok(sk(home, ["show", "gitlab/bob", "--qr", "bob.png"]));
      const png = join(home.dir, "bob.png");
      expect(readFileSync(png).subarray(1, 4).toString()).toBe("PNG");
      expect(sh(home, "zbarimg", ["-q", "--raw", png]).stdout.trim()).toBe(uri);
    });

    it.each([
      ["steam://", "steam/a", `steam://HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ`],
      [
        "otpauth://steam/",
        "steam/b",
        "otpauth://steam/Steam:me?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=Steam",
      ],
      [
        "encoder=steam",
        "steam/c",
        "otpauth://totp/Steam:me?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=Steam&encoder=steam",
      ],
    ])("Steam Guard codes from %s through code and verify", (_kind, name, uri) => {
      ok(sk(home, ["add", name], { input: `${uri}\n` }));
      // FORMATS.md's vector.
      expect(ok(sk(home, ["code", name, "--at", "1672531200"])).stdout).toBe("7W6CJ\n");
      expect(sk(home, ["verify", name, "7w6cj", "--at", "1672531230"]).code).toBe(0);
      expect(sk(home, ["verify", name, "7W6CJ", "--at", "1672531290"]).code).toBe(1);
      ok(sk(home, ["show", name, "--qr", "steam.png"]));
      const uriBack = ok(sk(home, ["show", name, "--uri"])).stdout.trim();
      expect(sh(home, "zbarimg", ["-q", "--raw", join(home.dir, "steam.png")]).stdout.trim()).toBe(uriBack);
    });
  },
);

/** One tmux server with one 80x24 window, driven like a person at a terminal. */
class Pane {
  private readonly socket: string;
  constructor(
    private readonly home: Home,
    private readonly env: Record<string, string> = {},
  ) {
    // The socket lives in the temporary home, so it goes away with it.
    this.socket = join(home.dir, "tmux.sock");
  }

  tmux(args: string[], input?: string): string {
    const r = spawnSync("tmux", ["-S", this.socket, "-f", "/dev/null", ...args], {
      env: { ...this.home.env, TERM: "xterm-256color", ...this.env },
      input,
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`tmux ${args[0]}: ${r.stderr}`);
    return r.stdout;
  }

  /**
   * Runs a shell command in the window. The shell survives the command's Ctrl-C (its trap), then
   * prints the exit status and whether the terminal echoes again (raw mode was undone).
   */
  start(command: string): void {
    const script =
      `trap : INT; cd '${this.home.dir}' && ${command}; echo "SK-EXIT:$?"; ` +
      `stty -a | tr ' ;' '\\n\\n' | grep -x -e echo -e -echo | sed 's/^/SK-TTY:/'; exec sleep 600`;
    this.tmux(["new-session", "-d", "-s", "w", "-x", "80", "-y", "24", script]);
  }

  /** The 24 visible lines. */
  screen(): string {
    return this.tmux(["capture-pane", "-p", "-t", "w"]);
  }

  /** Everything printed so far, wrapped lines joined. */
  history(): string {
    return this.tmux(["capture-pane", "-p", "-J", "-S", "-", "-t", "w"]);
  }

  /** Waits until `re` has matched `count` times in the history; returns the screen then. */
  async waitFor(re: RegExp, count = 1, timeoutMs = 30_000): Promise<string> {
    const g = new RegExp(re.source, `${re.flags.replace("g", "")}g`);
    const end = Date.now() + timeoutMs;
    for (;;) {
      // The history first: the screen taken after a match shows at least what matched.
      if ((this.history().match(g) ?? []).length >= count) return this.screen();
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}; screen:\n${this.screen()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Pastes text as a terminal paste would, through a tmux buffer (never through argv). */
  paste(text: string): void {
    this.tmux(["load-buffer", "-"], text);
    this.tmux(["paste-buffer", "-d", "-t", "w"]);
  }

  keys(...keys: string[]): void {
    this.tmux(["send-keys", "-t", "w", ...keys]);
  }

  kill(): void {
    try {
      this.tmux(["kill-server"]);
    } catch {
      // already gone
    }
  }
}

/** Reads the half-block QR code off the screen back into modules, and decodes it with zbarimg. */
function decodeScreenQr(home: Home, screen: string): string {
  const lines = screen.split("\n");
  const isQr = (l: string): boolean => /[█▀▄]/.test(l) && /^[ █▀▄]+$/.test(l);
  const first = lines.findIndex(isQr);
  let last = first;
  while (last + 1 < lines.length && isQr(lines[last + 1])) last++;
  if (first < 0) throw new Error(`no QR code on the screen:\n${screen}`);
  const rows: boolean[][] = [];
  const width = Math.max(...lines.slice(first, last + 1).map((l) => [...l].length));
  for (const l of lines.slice(first, last + 1)) {
    const chars = [...l.padEnd(width)];
    rows.push(chars.map((c) => c === "█" || c === "▀"));
    rows.push(chars.map((c) => c === "█" || c === "▄"));
  }
  const pad = 4;
  const scale = 4;
  const w = (width + 2 * pad) * scale;
  const h = (rows.length + 2 * pad) * scale;
  const out: string[] = [];
  for (let y = 0; y < h; y++) {
    const r = Math.floor(y / scale) - pad;
    const bits: string[] = [];
    for (let x = 0; x < w; x++) {
      const c = Math.floor(x / scale) - pad;
      bits.push(r >= 0 && r < rows.length && c >= 0 && c < width && rows[r][c] ? "1" : "0");
    }
    out.push(bits.join(" "));
  }
  const file = join(home.dir, "screen-qr.pbm");
  writeFileSync(file, `P1\n${w} ${h}\n${out.join("\n")}\n`);
  return sh(home, "zbarimg", ["-q", "--raw", file]).stdout.trim();
}

const RUNTIMES: [string, Record<string, string>][] = [
  ["default runtime", {}],
  ["node", { SPAREKEY_RUNTIME: "node" }],
];

describe.skipIf(missing(["gpg", "pass", "oathtool", "zbarimg", "tmux", "strace"]))(
  "guided add in a terminal",
  () => {
    const cleanup: (() => void)[] = [];
    afterAll(() => {
      for (const f of cleanup) f();
    });

    function setup(env: Record<string, string>): { home: Home; pane: Pane } {
      const home = passHome();
      const pane = new Pane(home, env);
      cleanup.push(
        () => pane.kill(),
        () => home.cleanup(),
      );
      return { home, pane };
    }

    it.each(RUNTIMES)("walks through every step (%s)", async (_label, env) => {
      const { home, pane } = setup(env);
      const trace = join(home.dir, "execve.log");
      pane.start(`strace -f -qq -e trace=execve -s 4096 -o '${trace}' '${join(ROOT, "bin/sparekey")}' add`);

      // 1. Key: pasted at the hidden prompt; it must not be echoed.
      await pane.waitFor(/Paste the otpauth:\/\/ URI or the secret \(hidden\): /);
      pane.paste(URI);
      pane.keys("Enter");
      // 2. Name: Enter accepts the proposal.
      const named = await pane.waitFor(/Name \[gitlab\/bob\]: /);
      expect(named).not.toContain(SECRET);
      pane.keys("Enter");

      // 3. Saved before the QR code is shown. 4. The QR code fits the 80x24 window whole.
      const scan = await pane.waitFor(/Code the app shows now \(Enter to skip\): /);
      expect(pane.history()).toMatch(
        /Saved: gitlab\/bob in ~\/\.password-store \(read back and checked, committed\)\./,
      );
      expect(scan).toContain("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ");
      expect(decodeScreenQr(home, scan)).toBe(URI);
      expect(sh(home, "pass", ["show", "2fa/gitlab/bob"]).stdout).toBe(`${URI}\n`);

      // A wrong code (not in the ±1 window), then the right one.
      const now = Math.floor(Date.now() / 1000);
      const window = [-60, -30, 0, 30, 60].map((d) => oathtool(SECRET, now + d));
      const wrong = ["000000", "111111", "222222"].find((c) => !window.includes(c))!;
      pane.keys(wrong, "Enter");
      await pane.waitFor(/That code does not match\. Usual causes:/);
      let tries = 0;
      for (;;) {
        pane.keys(oathtool(SECRET), "Enter");
        await pane.waitFor(/Code matches|That code does not match/, 2 + tries);
        if (/Code matches/.test(pane.history())) break;
        // The step changed between oathtool and Enter; once is enough to retry.
        expect(++tries).toBeLessThan(2);
      }
      await pane.waitFor(/Recorded as verified\./);

      // 5. Recovery codes: a whole Google codes file, blank lines and all, then Enter.
      await pane.waitFor(/\[5\/6\] Recovery codes/);
      pane.paste(GOOGLE_FILE);
      await pane.waitFor(/Generated: Jan 01, 2024/);
      pane.keys("Enter");
      await pane.waitFor(/Saved 5 recovery codes in gitlab\/bob\./);

      // 6. Card: yes; the PDF appears beside the shell's working directory.
      await pane.waitFor(/Print a 3x5 card with the recovery codes now\? \[y\/N\] /);
      pane.keys("y", "Enter");
      await pane.waitFor(/SK-TTY:-?echo/);
      const history = pane.history();
      expect(history).toMatch(/SK-EXIT:0/);
      expect(history).toMatch(/SK-TTY:echo/);
      expect(history).toMatch(/All done/);
      expect(readFileSync(join(home.dir, "gitlab-bob-card.pdf")).subarray(0, 5).toString()).toBe("%PDF-");
      // Nothing printed was wider than the window.
      for (const line of history.split("\n")) expect([...line].length, line).toBeLessThanOrEqual(80);

      const entry = sh(home, "pass", ["show", "2fa/gitlab/bob"]).stdout;
      expect(entry.split("\n")[0]).toBe(URI);
      for (const c of GOOGLE_CODES) expect(entry).toContain(`recovery: ${c}\n`);
      expect(entry).toMatch(/^verified: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
      expect(entry).toMatch(/^printed: \d{4}-\d\d-\d\d\b/m);
      const log = sh(home, "git", [
        "-C",
        join(home.env.HOME, ".password-store"),
        "log",
        "--format=%s",
      ]).stdout;
      expect(log).toMatch(
        /^Add 5 recovery codes for gitlab\/bob\.\nRecord a verified code for gitlab\/bob\.\nAdd 2FA key for gitlab\/bob\.$/m,
      );

      // No process started during the run had the key in its arguments, and the key was never one.
      const execs = readFileSync(trace, "utf8");
      expect(execs).toMatch(/execve\(".*gpg/);
      expect(execs).toMatch(/"add"\]/);
      for (const needle of [SECRET, SECRET.toLowerCase(), "GEZD GNBV", "otpauth", "7041"]) {
        expect(execs).not.toContain(needle);
      }
    });

    it.each(RUNTIMES)(
      "Ctrl-C at the code prompt keeps the saved key and says what is left (%s)",
      async (_l, env) => {
        const { home, pane } = setup(env);
        pane.start(`'${join(ROOT, "bin/sparekey")}' add`);
        await pane.waitFor(/\(hidden\): /);
        pane.paste(URI);
        pane.keys("Enter");
        await pane.waitFor(/Name \[/);
        pane.keys("Enter");
        await pane.waitFor(/Code the app shows now/);
        pane.keys("C-c");
        await pane.waitFor(/SK-TTY:-?echo/);
        const history = pane.history();
        expect(history).toMatch(/SK-EXIT:130/);
        expect(history).toMatch(/SK-TTY:echo/);
        expect(history).toMatch(/Stopped\. Everything saved so far is kept in gitlab\/bob\./);
        expect(history).toMatch(/sparekey verify gitlab\/bob CODE/);
        expect(history).toMatch(/sparekey recovery add gitlab\/bob/);
        expect(history).toMatch(/sparekey card gitlab\/bob -o card\.pdf/);
        expect(sh(home, "pass", ["show", "2fa/gitlab/bob"]).stdout).toBe(`${URI}\n`);
        const status = sh(home, "git", [
          "-C",
          join(home.env.HOME, ".password-store"),
          "status",
          "--porcelain",
        ]);
        expect(status.stdout).toBe("");
      },
    );

    it.each(RUNTIMES)(
      "Ctrl-C at the hidden key prompt saves nothing and restores the terminal (%s)",
      async (_l, env) => {
        const { home, pane } = setup(env);
        pane.start(`'${join(ROOT, "bin/sparekey")}' add`);
        await pane.waitFor(/\(hidden\): /);
        // Give the prompt time to switch the terminal to raw mode; what is typed is not echoed.
        await new Promise((r) => setTimeout(r, 300));
        pane.keys("abc");
        await new Promise((r) => setTimeout(r, 300));
        expect(pane.screen()).not.toContain("abc");
        pane.keys("C-c");
        await pane.waitFor(/SK-TTY:-?echo/);
        const history = pane.history();
        expect(history).toMatch(/SK-EXIT:130/);
        expect(history).toMatch(/SK-TTY:echo/);
        expect(history).toMatch(/nothing was saved/);
        expect(sh(home, "pass", ["ls"]).stdout).not.toMatch(/gitlab/);
      },
    );
  },
);
