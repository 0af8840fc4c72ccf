// All codes at once: `list --codes` (one shot, scriptable) and `watch` (live, full screen), the
// latter driven in a real terminal through tmux: it shows codes, the filter narrows them, q exits.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyKey,
  type CodeRow,
  filterRows,
  renderWatch,
  splitKeys,
  type WatchState,
} from "../../src/cli/commands/watch.js";
import { parseUri } from "../../src/core/uri.js";
import { BIN, ensureBuilt, type Home, hasTool, makeHome, type Run, sk } from "./harness.js";

const CI = Boolean(process.env.CI);
const AT = "2026-12-04T12:00:00Z";
const ACCOUNTS: [string, string][] = [
  ["github/alice", "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=GitHub"],
  ["gitlab/bob", "otpauth://totp/GitLab:bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=GitLab&digits=8"],
  ["ops/root", "otpauth://hotp/Ops:root?secret=MFRGGZDFMZTWQ2LKMFRGGZDFMZTWQ2LK&issuer=Ops&counter=7"],
  ["steam/cy", "otpauth://totp/Steam:cy?secret=KRUGKIDROVUWG2ZAMJZG653OEBTG66BA&issuer=Steam&encoder=steam"],
];

beforeAll(ensureBuilt, 300_000);

function ok(r: Run): Run {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

/** A store with the accounts; `codes` gets each TOTP account's code at AT. */
function setUp(codes: Map<string, string>): Home {
  const home = makeHome();
  ok(sk(home, ["init"]));
  for (const [name, uri] of ACCOUNTS) ok(sk(home, ["add", name], { input: `${uri}\n` }));
  for (const [name] of ACCOUNTS.filter(([n]) => n !== "ops/root"))
    codes.set(name, ok(sk(home, ["code", name, "--at", AT])).stdout.trim());
  return home;
}

describe("all codes at once", () => {
  let home: Home;
  const codes = new Map<string, string>();

  beforeAll(() => {
    home = setUp(codes);
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
});

describe.skipIf(!CI && !hasTool("tmux"))("watch in tmux", () => {
  let home: Home;
  const codes = new Map<string, string>();
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
  const spaced = (c: string) =>
    /^\d+$/.test(c) ? `${c.slice(0, c.length / 2)} ${c.slice(c.length / 2)}` : c;

  beforeAll(() => {
    home = setUp(codes);
    socket = join(home.dir, "tmux.sock");
    const script = join(home.dir, "watch.sh");
    const env = Object.entries(home.env)
      .map(([k, v]) => `export ${k}='${v.replace(/'/g, "'\\''")}'`)
      .join("\n");
    // A stand-in for xclip that logs what it is given, so that Enter's copy can be checked.
    const fake = join(home.dir, "fakebin");
    mkdirSync(fake);
    const clip = join(home.dir, "clipboard.log");
    writeFileSync(
      join(fake, "xclip"),
      `#!/bin/sh\nfor a; do [ "$a" = -o ] && { tail -n 1 '${clip}' | cut -c6-; exit 0; }; done\nprintf 'COPY:%s\\n' "$(cat)" >> '${clip}'\n`,
      { mode: 0o755 },
    );
    const extra = `export DISPLAY=:99\nexport PATH='${fake}':"$PATH"\nexport PASSWORD_STORE_CLIP_TIME=1`;
    writeFileSync(script, `${env}\n${extra}\n'${BIN}' watch --at ${AT}\necho "EXIT=$?"\nsleep 60\n`);
    expect(tmux("new-session", "-d", "-s", "w", "-x", "100", "-y", "20", `sh '${script}'`).status).toBe(0);
  });
  afterAll(() => {
    tmux("kill-server");
    home.cleanup();
  });

  it("shows every code with a countdown", async () => {
    const s = await waitFor((x) => x.includes("steam/cy"), "the codes");
    expect(s).toMatch(/sparekey watch {2}4\/4 accounts/);
    for (const [name, code] of codes)
      expect(s).toMatch(new RegExp(`${name} +${spaced(code)} +[█░]{10} +\\d+s`));
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

  it("Enter copies the highlighted code", async () => {
    tmux("send-keys", "-t", "w", "Enter");
    await waitFor((x) => x.includes("Copied github/alice's code"), "the copy message");
    const log = readFileSync(join(home.dir, "clipboard.log"), "utf8");
    expect(log.split("\n")[0]).toBe(`COPY:${codes.get("github/alice")}`);
  });

  it("q quits and gives the terminal back", async () => {
    tmux("send-keys", "-t", "w", "q");
    const s = await waitFor((x) => x.includes("EXIT="), "watch to exit");
    expect(s).toMatch(/EXIT=0/);
    // Back on the main screen: the watch frame is gone.
    expect(s).not.toMatch(/sparekey watch/);
  });
});

describe("watch screen and keys (pure)", () => {
  const rows: CodeRow[] = ACCOUNTS.map(([name, uri]) => ({ name, account: parseUri(uri) }));
  rows.push({ name: "zz/broken", error: "cannot decrypt" });
  const at = Date.parse(AT) + 25_000;

  it("splits escape sequences from typed text", () => {
    expect(splitKeys("ab\x1b[A\x1bOBq\x1b\x7f\r")).toEqual([
      "a",
      "b",
      "\x1b[A",
      "\x1bOB",
      "q",
      "\x1b",
      "\x7f",
      "\r",
    ]);
  });

  it("q quits only with an empty filter; Esc clears, then quits; arrows stay in range", () => {
    const s: WatchState = { filter: "", selected: 0, top: 0, message: "" };
    expect(applyKey(s, "g", 5)).toBe("redraw");
    expect(applyKey(s, "q", 5)).toBe("redraw");
    expect(s.filter).toBe("gq");
    expect(applyKey(s, "\x7f", 5)).toBe("redraw");
    expect(s.filter).toBe("g");
    expect(applyKey(s, "\x1b", 5)).toBe("redraw");
    expect(s.filter).toBe("");
    expect(applyKey(s, "\x1b[A", 5)).toBe("redraw");
    expect(s.selected).toBe(0);
    for (let i = 0; i < 9; i++) applyKey(s, "\x1b[B", 5);
    expect(s.selected).toBe(4);
    expect(applyKey(s, "\r", 5)).toBe("copy");
    expect(applyKey(s, "q", 5)).toBe("quit");
    expect(applyKey(s, "\x03", 5)).toBe("quit");
    expect(applyKey({ ...s, filter: "" }, "\x1b", 5)).toBe("quit");
  });

  it("filters on every word, by name or issuer", () => {
    expect(filterRows(rows, "git").map((r) => r.name)).toEqual(["github/alice", "gitlab/bob"]);
    expect(filterRows(rows, "GIT bob").map((r) => r.name)).toEqual(["gitlab/bob"]);
    expect(filterRows(rows, "ops").map((r) => r.name)).toEqual(["ops/root"]);
  });

  it("draws codes, countdown, HOTP and broken rows, and fits the screen", () => {
    const s: WatchState = { filter: "", selected: 0, top: 0, message: "" };
    const frame = renderWatch(rows, s, at, 80, 10, false).split("\r\n");
    expect(frame).toHaveLength(10);
    expect(frame[0]).toMatch(/^sparekey watch {2}5\/5 accounts {2}12:00:25 UTC$/);
    expect(frame[2]).toMatch(/^> github\/alice +\d{3} \d{3} +██░{8} +5s$/);
    expect(frame[4]).toMatch(/^ {2}ops\/root +- +\(HOTP: sparekey code ops\/root\)$/);
    expect(frame[6]).toMatch(/^ {2}zz\/broken +unreadable: cannot decrypt$/);
    for (const line of frame) expect(line.length).toBeLessThanOrEqual(80);
    // A short screen scrolls to keep the selection in view.
    s.selected = 4;
    const small = renderWatch(rows, s, at, 80, 6, false).split("\r\n");
    expect(small.filter((l) => l.startsWith(">"))).toEqual([expect.stringMatching(/^> zz\/broken/)]);
  });
});
