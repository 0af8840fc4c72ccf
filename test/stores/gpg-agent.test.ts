import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Env, runTool } from "../../src/stores/fsutil.js";
import {
  AgentDecryptor,
  escapeAssuan,
  parseMessage,
  parseSexp,
  splitPackets,
  unescapeAssuan,
} from "../../src/stores/gpg-agent.js";
import { PassStore } from "../../src/stores/pass.js";
import { readEach, readMany } from "../../src/stores/store.js";
import { type Home, hasTool, makeGpgKey, makeHome, ROOT, sh, sk } from "../e2e/harness.js";

// Real gpg and pass: in CI a missing tool fails the run; locally it skips.
const ready = hasTool("gpg") && hasTool("pass");
const run = ready || process.env.CI ? describe : describe.skip;

/** A new-format packet header with partial body lengths for `body`, as gpg streams data. */
function partialPacket(tag: number, body: Uint8Array, chunk: number): Uint8Array {
  const out: number[] = [0xc0 | tag];
  let i = 0;
  while (body.length - i > 1 << chunk) {
    out.push(224 + chunk, ...body.subarray(i, i + (1 << chunk)));
    i += 1 << chunk;
    out.push();
  }
  const rest = body.length - i;
  if (rest < 192) out.push(rest);
  else out.push(((rest - 192) >> 8) + 192, (rest - 192) & 0xff);
  out.push(...body.subarray(i));
  return Uint8Array.from(out);
}

describe("gpg-agent bulk path: parsers", () => {
  it("round-trips Assuan escaping for any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
        const s = escapeAssuan(b);
        expect(/[\r\n]/.test(s)).toBe(false);
        expect(unescapeAssuan(s)).toEqual(b);
      }),
    );
  });

  it("joins partial body lengths and rejects truncated packets", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 9, max: 11 }), (body, chunk) => {
        const pkt = partialPacket(11, body, chunk);
        expect(splitPackets(pkt)).toEqual([{ tag: 11, body }]);
        if (pkt.length > 1) expect(splitPackets(pkt.subarray(0, pkt.length - 1))).toBeUndefined();
      }),
    );
  });

  it("parses canonical S-expressions and refuses broken ones", () => {
    const ok = new TextEncoder().encode("(5:value3:abc)");
    expect(parseSexp(ok)).toEqual([new TextEncoder().encode("value"), new TextEncoder().encode("abc")]);
    for (const bad of ["(5:value3:ab)", "(5:value", "5x", "(1:a))"])
      expect(parseSexp(new TextEncoder().encode(bad))).toBeUndefined();
  });

  it("never throws on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        splitPackets(b);
        parseMessage(b);
        parseSexp(b);
      }),
    );
  });
});

run("gpg-agent bulk path (real gpg, real pass)", () => {
  let home: Home;
  let fpr: string;
  let root: string;
  let store: PassStore;
  let agent: AgentDecryptor;
  const q = ["--batch", "--yes", "--quiet"];

  /** Encrypts with the gpg binary and returns the file's bytes. */
  const encrypt = (text: Uint8Array, extra: string[], to = fpr): Buffer => {
    const out = join(home.dir, "enc.gpg");
    const r = sh(home, "gpg", [...q, ...extra, "-e", "-r", to, "-o", out], { input: Buffer.from(text) });
    expect(r.code, r.stderr).toBe(0);
    return readFileSync(out);
  };

  beforeAll(async () => {
    if (!existsSync(join(ROOT, "dist/node/run.js")))
      execFileSync("node", ["scripts/build.mjs"], { cwd: ROOT, stdio: "inherit" });
    home = makeHome();
    fpr = makeGpgKey(home);
    root = join(home.dir, "pw");
    home.env.PASSWORD_STORE_DIR = root;
    expect(sh(home, "pass", ["init", fpr]).code).toBe(0);
    store = new PassStore(root, { env: home.env });
    const a = await AgentDecryptor.open(home.env, runTool);
    expect(a).toBeDefined();
    agent = a!;
  });
  afterAll(() => {
    agent?.close();
    home?.cleanup();
  });

  it("decrypts what gpg wrote, byte for byte, for random plaintexts, sizes and compressions", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 8000, maxLength: 70_000 })),
        fc.constantFrom("none", "zip", "zlib", "uncompressed"),
        fc.boolean(),
        async (text, algo, forceMdc) => {
          const extra = algo === "uncompressed" ? ["-z", "0"] : [`--compress-algo=${algo}`];
          const bytes = encrypt(text, forceMdc ? [...extra, "--force-mdc"] : extra);
          const got = await agent.decrypt(bytes);
          expect(got && Buffer.from(got).equals(Buffer.from(text))).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("reads entries written by pass insert and by sparekey the same as gpg does", async () => {
    const texts = await fc.sample(fc.string({ unit: "grapheme", maxLength: 200 }), 30);
    const names: string[] = [];
    for (const [i, t] of texts.entries()) {
      const name = `2fa/e${i}`;
      if (i % 2 === 0) expect(sh(home, "pass", ["insert", "-m", name], { input: t }).code).toBe(0);
      else await store.write(name, t);
      names.push(name);
    }
    const bulk = await readMany(store, names);
    const each = await readEach(store, names);
    expect(bulk).toEqual(each);
    for (const [i, n] of names.entries()) {
      const r = bulk.get(n)!;
      expect("text" in r && r.text).toBe(i % 2 === 0 ? texts[i] : texts[i]);
      expect(await agent.decrypt(readFileSync(join(root, `${n}.gpg`)))).toBeDefined();
    }
  });

  it("leaves armored, BZip2, foreign-key and tampered files to gpg, and never returns wrong text", async () => {
    const plain = new TextEncoder().encode("otpauth://totp/X?secret=JBSWY3DPEHPK3PXP\n");
    const good = encrypt(plain, ["--compress-algo=none"]);
    expect(await agent.decrypt(encrypt(plain, ["--armor"]))).toBeUndefined();
    expect(await agent.decrypt(encrypt(plain, ["--compress-algo=bzip2"]))).toBeUndefined();
    // Every single flipped bit past the session-key packet header: no plaintext, ever.
    for (let i = 0; i < good.length; i += 1) {
      const bad = Buffer.from(good);
      bad[i] ^= 1 << (i % 8);
      const got = await agent.decrypt(bad);
      if (got) expect(Buffer.from(got).equals(Buffer.from(plain))).toBe(true);
    }
    // The store: each such file reads exactly as gpg reads it (text or the same error).
    const other = makeHome();
    try {
      const otherFpr = makeGpgKey(other, "other@example.com");
      const pub = sh(other, "gpg", ["--export", otherFpr]);
      const imp = join(home.dir, "other.asc");
      writeFileSync(imp, sh(other, "gpg", ["--armor", "--export", otherFpr]).stdout);
      expect(pub.code).toBe(0);
      expect(sh(home, "gpg", [...q, "--import", imp]).code).toBe(0);
      mkdirSync(join(root, "odd"), { recursive: true });
      const bad = Buffer.from(good);
      bad[bad.length - 5] ^= 0x40;
      const files: Record<string, Buffer> = {
        "odd/armored": encrypt(plain, ["--armor"]),
        "odd/foreign": encrypt(plain, ["--trust-model", "always"], otherFpr),
        "odd/tampered": bad,
        "odd/bzip2": encrypt(plain, ["--compress-algo=bzip2"]),
        "odd/good": good,
      };
      for (const [n, b] of Object.entries(files)) writeFileSync(join(root, `${n}.gpg`), b);
      const names = Object.keys(files);
      const bulk = await readMany(store, names);
      expect(bulk).toEqual(await readEach(store, names));
      expect(bulk.get("odd/good")).toEqual({ text: new TextDecoder().decode(plain) });
      expect(bulk.get("odd/armored")).toEqual({ text: new TextDecoder().decode(plain) });
      expect("error" in bulk.get("odd/tampered")!).toBe(true);
      expect(String((bulk.get("odd/foreign") as { error: Error }).error.message)).toMatch(/No secret key/);
    } finally {
      other.cleanup();
    }
  });

  it("puts nothing secret in any argv: its gpg runs are fixed look-ups", async () => {
    const seen: string[][] = [];
    const spy = (cmd: string, args: readonly string[], opts: { env: Env }) => {
      seen.push([cmd, ...args]);
      return runTool(cmd, args, opts);
    };
    const a = await AgentDecryptor.open(home.env, spy);
    a?.close();
    expect(seen).toEqual([
      ["gpgconf", "--list-dirs", "agent-socket"],
      ["gpg", "--batch", "--with-colons", "--with-keygrip", "--with-key-data", "--list-secret-keys"],
    ]);
  });

  it("falls back for an RSA key, and for a passphrase not yet cached (no prompt, no hang)", async () => {
    const h = makeHome();
    try {
      const gq = ["--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase"];
      const fprOf = (email: string) =>
        /^fpr:+([0-9A-F]+):/m.exec(sh(h, "gpg", ["--with-colons", "--list-keys", email]).stdout)![1];
      sh(h, "gpg", [...gq, "", "--quick-gen-key", "Rsa <rsa@example.com>", "rsa3072", "cert,sign", "never"]);
      sh(h, "gpg", [...gq, "", "--quick-add-key", fprOf("rsa@example.com"), "rsa3072", "encr", "never"]);
      sh(h, "gpg", [...gq, "pw1", "--quick-gen-key", "Pw <pw@example.com>", "ed25519", "cert", "never"]);
      const pwFpr = fprOf("pw@example.com");
      sh(h, "gpg", [...gq, "pw1", "--quick-add-key", pwFpr, "cv25519", "encr", "never"]);
      const rsaFile = join(h.dir, "rsa.gpg");
      const pwFile = join(h.dir, "pw.gpg");
      for (const [to, file, text] of [
        ["rsa@example.com", rsaFile, "r"],
        [pwFpr, pwFile, "p"],
      ]) {
        const r = sh(h, "gpg", [...q, "-e", "-r", to, "-o", file], { input: text });
        expect(r.code, r.stderr).toBe(0);
      }
      // A fresh agent: nothing cached.
      sh(h, "gpgconf", ["--kill", "gpg-agent"]);
      const a = (await AgentDecryptor.open(h.env, runTool))!;
      expect(a).toBeDefined();
      expect(await a.decrypt(readFileSync(rsaFile))).toBeUndefined();
      expect(await a.decrypt(readFileSync(pwFile))).toBeUndefined();
      // Once gpg has asked for the passphrase (cached by the agent), the agent path works.
      const r = sh(h, "gpg", [...gq, "pw1", "-d", pwFile]);
      expect(r.stdout).toBe("p");
      expect(Buffer.from((await a.decrypt(readFileSync(pwFile)))!).toString()).toBe("p");
      a.close();
    } finally {
      h.cleanup();
    }
  });

  it("serves list --codes with no gpg decrypt at all, in the Bun binary and under Node", () => {
    // A gpg shim that logs its arguments shows which path the CLI took.
    const shim = join(home.dir, "shim");
    mkdirSync(shim, { recursive: true });
    const log = join(home.dir, "gpg.log");
    const real = sh(home, "sh", ["-c", "command -v gpg"]).stdout.trim();
    writeFileSync(join(shim, "gpg"), `#!/bin/sh\necho "$*" >> '${log}'\nexec '${real}' "$@"\n`);
    chmodSync(join(shim, "gpg"), 0o755);
    const uri = "otpauth://totp/S:u?secret=JBSWY3DPEHPK3PXP&issuer=S";
    for (const i of [0, 1, 2, 3]) sh(home, "pass", ["insert", "-m", `2fa/svc${i}`], { input: `${uri}\n` });
    for (const runtime of ["", "node"]) {
      writeFileSync(log, "");
      const r = sk(home, ["list", "--codes", "--at", "2024-01-01T00:00:00Z", "svc"], {
        env: {
          PATH: `${shim}:${home.env.PATH}`,
          SPAREKEY_STORE_DIR: root,
          ...(runtime ? { SPAREKEY_RUNTIME: runtime } : {}),
        },
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split("\n")).toHaveLength(4);
      const calls = readFileSync(log, "utf8");
      expect(calls).toMatch(/--list-secret-keys/);
      expect(calls).not.toMatch(/--decrypt/);
    }
  });
});
