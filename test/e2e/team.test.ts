import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, type Home, hasTool, makeGpgKey, makeHome, type Run, sh, sk } from "./harness.js";

const CI = Boolean(process.env.CI);
const ROOT_URI = "otpauth://totp/AWS:root?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=AWS";
const MINE_URI = "otpauth://totp/GitHub:me?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=GitHub";
const LATER_URI = "otpauth://totp/DNS:ops?secret=MFRGGZDFMZTWQ2LKMFRGGZDFMZTWQ2LK&issuer=DNS";

beforeAll(ensureBuilt, 300_000);

function ok(r: Run): Run {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

describe.skipIf(!CI && !(hasTool("gpg") && hasTool("pass")))("team folder on a pass store", () => {
  let home: Home;
  let mate: Home;
  let store: string;
  let one: string;
  let two: string;
  const me = (args: string[], input?: string) => sk(home, ["--store", store, ...args], { input });
  const them = (args: string[], input?: string) => sk(mate, ["--store", store, ...args], { input });

  beforeAll(() => {
    home = makeHome();
    // The teammate: a separate GNUPGHOME holding only the second key's secret part.
    const gnupg2 = join(home.dir, "gnupg2");
    mkdirSync(gnupg2, { mode: 0o700 });
    mate = { ...home, env: { ...home.env, GNUPGHOME: gnupg2 }, cleanup: () => {} };
    one = makeGpgKey(home, "one@example.com");
    two = makeGpgKey(mate, "two@example.com");
    const pub = sh(mate, "gpg", ["--batch", "--armor", "--export", two]).stdout;
    ok(sh(home, "gpg", ["--batch", "--quiet", "--import"], { input: pub }));
    store = join(home.dir, "store");
    ok(sk(home, ["init", "--gpg", one, store]));
    ok(me(["add", "team/aws-root"], `${ROOT_URI}\n`));
    ok(me(["add", "github/me"], `${MINE_URI}\n`));
  });
  afterAll(() => {
    sh(mate, "gpgconf", ["--kill", "gpg-agent"]);
    home.cleanup();
  });

  it("the teammate cannot read the folder before", () => {
    const r = them(["code", "team/aws-root", "--at", "0"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot decrypt (2fa\/)?team\/aws-root/);
  });

  it("refuses a recipient key that gpg will not encrypt to, and changes nothing", () => {
    // Imported but not trusted: gpg refuses it in batch mode, as pass would.
    const head = sh(home, "git", ["-C", store, "rev-parse", "HEAD"]).stdout;
    const r = me(["init", "--gpg", one, two, "--path", "team"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sparekey: cannot encrypt to .*trust/);
    expect(existsSync(join(store, "2fa/team/.gpg-id"))).toBe(false);
    expect(sh(home, "git", ["-C", store, "rev-parse", "HEAD"]).stdout).toBe(head);
    expect(me(["init", "--path", "team"]).code).toBe(2);
  });

  it("init --gpg ONE TWO --path team re-encrypts the folder and commits once", () => {
    ok(sh(home, "gpg", ["--batch", "--import-ownertrust"], { input: `${two}:6:\n` }));
    const before = Number(sh(home, "git", ["-C", store, "rev-list", "--count", "HEAD"]).stdout);
    const r = ok(me(["init", "--gpg", one, "--gpg", two, "--path", "team"]));
    expect(r.stderr).toMatch(/1 entry re-encrypted/);
    expect(readFileSync(join(store, "2fa/team/.gpg-id"), "utf8")).toBe(`${one}\n${two}\n`);
    expect(Number(sh(home, "git", ["-C", store, "rev-list", "--count", "HEAD"]).stdout)).toBe(before + 1);
    const files = sh(home, "git", ["-C", store, "show", "--name-only", "--format=%s", "HEAD"]).stdout;
    expect(files).toMatch(/^Set recipients of 2fa\/team to /);
    expect(files).toContain("2fa/team/.gpg-id");
    expect(files).toContain("2fa/team/aws-root.gpg");
    expect(sh(home, "git", ["-C", store, "status", "--porcelain"]).stdout).toBe("");
  });

  it("the holder of the second key reads the team folder, and only it", () => {
    const code = ok(me(["code", "team/aws-root", "--at", "1700000000"])).stdout;
    expect(ok(them(["code", "team/aws-root", "--at", "1700000000"])).stdout).toBe(code);
    expect(them(["code", "github/me", "--at", "0"]).code).toBe(1);
    // pass itself agrees: the teammate's pass shows the entry.
    const passEnv = { ...mate, env: { ...mate.env, PASSWORD_STORE_DIR: store } };
    expect(sh(passEnv, "pass", ["show", "2fa/team/aws-root"]).stdout).toMatch(/^otpauth:\/\/totp\/AWS:root/);
  });

  it("entries added to the folder later are encrypted to both keys", () => {
    ok(me(["add", "team/dns"], `${LATER_URI}\n`));
    expect(ok(them(["code", "team/dns", "--at", "0"])).stdout).toMatch(/^\d{6}\n$/);
  });

  it("--path on the wrong kind of store is refused", () => {
    const r = me([
      "init",
      "--age",
      "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
      "--path",
      "x",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is a pass store; give its folder recipients with --gpg KEYID/);
  });
});

describe.skipIf(!CI && !hasTool("age-keygen"))("team folder on an age store", () => {
  let home: Home;

  beforeAll(() => {
    home = makeHome();
    ok(sk(home, ["init"]));
  });
  afterAll(() => home.cleanup());

  it("init --age ME THEM --path team: the other identity reads team/..., not the rest", () => {
    const ids = join(home.env.HOME, ".passage/identities");
    const mine = ok(sh(home, "age-keygen", ["-y", ids])).stdout.trim();
    const theirsFile = join(home.dir, "theirs.txt");
    ok(sh(home, "age-keygen", ["-o", theirsFile]));
    const theirs = ok(sh(home, "age-keygen", ["-y", theirsFile])).stdout.trim();
    ok(sk(home, ["add", "team/root"], { input: `${ROOT_URI}\n` }));
    ok(sk(home, ["add", "solo/me"], { input: `${MINE_URI}\n` }));
    const r = ok(sk(home, ["init", "--age", mine, "--age", theirs, "--path", "team"]));
    expect(r.stderr).toMatch(/1 entry re-encrypted/);
    const store = join(home.env.HOME, ".passage/store");
    expect(readFileSync(join(store, "2fa/team/.age-recipients"), "utf8")).toBe(`${mine}\n${theirs}\n`);
    const asThem = { env: { PASSAGE_IDENTITIES_FILE: theirsFile } };
    const code = ok(sk(home, ["code", "team/root", "--at", "0"])).stdout;
    expect(ok(sk(home, ["code", "team/root", "--at", "0"], asThem)).stdout).toBe(code);
    expect(sk(home, ["code", "solo/me", "--at", "0"], asThem).code).toBe(1);
    // The age CLI agrees.
    expect(ok(sh(home, "age", ["-d", "-i", theirsFile, join(store, "2fa/team/root.age")])).stdout).toMatch(
      /^otpauth:/,
    );
    expect(sk(home, ["init", "--age", "not-a-recipient", "--path", "team"]).stderr).toMatch(
      /is not an age recipient/,
    );
  });
});
