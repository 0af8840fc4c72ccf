// All codes at once: `list --codes` (one shot, scriptable) and `watch` (live, full screen), the
// latter driven in a real terminal through tmux: it shows codes, the filter narrows them, q exits.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, type Home, hasTool, makeHome, ROOT, type Run, sk } from "./harness.js";

const CI = Boolean(process.env.CI);
const AT = "2026-12-04T12:00:00Z";
const ACCOUNTS: [string, string][] = [
  ["github/alice", "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=GitHub"],
  ["gitlab/bob", "otpauth://totp/GitLab:bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=GitLab&digits=8"],
  ["ops/root", "otpauth://hotp/Ops:root?secret=MFRGGZDFMZTWQ2LKMFRGGZDFMZTWQ2LK&issuer=Ops&counter=7"],
  ["steam/cy", "otpauth://totp/Steam:cy?secret=KRUGKIDROVUWG2ZAMJZG653OEBTG66BA&issuer=Steam&encoder=steam"],
];

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist/node/run.js")))
    execFileSync("node", ["scripts/build.mjs"], { cwd: ROOT, stdio: "inherit" });
}, 300_000);

function ok(r: Run): Run {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

describe("all codes at once", () => {
  let home: Home;
  const codes = new Map<string, string>();

  beforeAll(() => {
    home = makeHome();
    ok(sk(home, ["init"]));
    for (const [name, uri] of ACCOUNTS) ok(sk(home, ["add", name], { input: `${uri}\n` }));
    for (const [name] of ACCOUNTS.filter(([n]) => n !== "ops/root"))
      codes.set(name, ok(sk(home, ["code", name, "--at", AT])).stdout.trim());
  });
  afterAll(() => home.cleanup());

  it("list --codes prints name and code, aligned; HOTP shows - and keeps its counter", () => {
    const r = ok(sk(home, ["list", "--codes", "--at", AT]));
    expect(r.stdout).toBe(
      [
        `github/alice  ${codes.get("github/alice")}`,
        `gitlab/bob    ${codes.get("gitlab/bob")}`,
        "ops/root      -",
        `steam/cy      ${codes.get("steam/cy")}`,
        "",
      ].join("\n"),
    );
    expect(codes.get("gitlab/bob")).toMatch(/^\d{8}$/);
    expect(ok(sk(home, ["show", "ops/root", "--uri"])).stdout).toContain("counter=7");
    expect(ok(sk(home, ["list", "git", "--codes", "--at", AT])).stdout.split("\n")).toHaveLength(3);
    expect(sk(home, ["list", "--at", AT]).code).toBe(2);
  });

  it("watch without a terminal is a usage error that points at list --codes", () => {
    const r = sk(home, ["watch"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^sparekey: watch needs a terminal; .*sparekey list --codes/);
  });

  describe.skipIf(!CI && !hasTool("tmux"))("watch in tmux", () => {
    let socket: string;
    const tmux = (...args: string[]) =>
      spawnSync("tmux", ["-S", socket, ...args], { env: home.env, encoding: "utf8", timeout: 10_000 });
    const screen = (): string => tmux("capture-pane", "-p", "-t", "w").stdout;
    const waitFor = async (test: (s: string) => boolean, what: string): Promise<string> => {
      let s = "";
      for (let i = 0; i < 100; i++) {
        s = screen();
        if (test(s)) return s;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out waiting for ${what}; screen:\n${s}`);
    };
    const spaced = (c: string) => (/^\d+$/.test(c) ? `${c.slice(0, c.length / 2)} ${c.slice(c.length / 2)}` : c);

    beforeAll(() => {
      socket = join(home.dir, "tmux.sock");
      const script = join(home.dir, "watch.sh");
      const env = Object.entries(home.env)
        .map(([k, v]) => `export ${k}='${v.replace(/'/g, "'\\''")}'`)
        .join("\n");
      writeFileSync(script, `${env}\n'${BIN}' watch --at ${AT}\necho "EXIT=$?"\nsleep 60\n`);
      expect(tmux("new-session", "-d", "-s", "w", "-x", "100", "-y", "20", `sh '${script}'`).status).toBe(0);
    });
    afterAll(() => {
      tmux("kill-server");
    });

    it("shows every code with a countdown", async () => {
      const s = await waitFor((x) => x.includes("steam/cy"), "the codes");
      expect(s).toMatch(/sparekey watch {2}4\/4 accounts/);
      for (const [name, code] of codes) expect(s).toMatch(new RegExp(`${name} +${spaced(code)} +[█░]{10} +\\d+s`));
      expect(s).toMatch(/ops\/root +- +\(HOTP: sparekey code ops\/root\)/);
      expect(s).toMatch(/^> github\/alice/m);
    });

    it("typing filters the list, arrows move, Esc clears", async () => {
      tmux("send-keys", "-t", "w", "-l", "gitl");
      let s = await waitFor((x) => x.includes("filter: gitl") && !x.includes("github/alice"), "the filter");
      expect(s).toMatch(/1\/4 accounts/);
      expect(s).toMatch(/^> gitlab\/bob/m);
      expect(s).not.toMatch(/steam\/cy|ops\/root/);
      tmux("send-keys", "-t", "w", "BSpace", "BSpace");
      s = await waitFor((x) => x.includes("filter: gi\n") || /filter: gi\s*$/m.test(x), "backspace");
      expect(s).toMatch(/2\/4 accounts/);
      tmux("send-keys", "-t", "w", "Down");
      await waitFor((x) => /^> gitlab\/bob/m.test(x), "the selection to move");
      tmux("send-keys", "-t", "w", "Escape");
      s = await waitFor((x) => /4\/4 accounts/.test(x), "the filter to clear");
      expect(s).toMatch(/filter: *\n/);
    });

    it("q quits and gives the terminal back", async () => {
      tmux("send-keys", "-t", "w", "q");
      const s = await waitFor((x) => x.includes("EXIT="), "watch to exit");
      expect(s).toMatch(/EXIT=0/);
      // Back on the main screen: the watch frame is gone.
      expect(s).not.toMatch(/sparekey watch/);
    });
  });
});
