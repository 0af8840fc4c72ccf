import { spawnSync } from "node:child_process";
import {
  createCipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  randomBytes,
} from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as typage from "age-encryption";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserError } from "../../src/core/errors.js";
import {
  ageNative,
  armorAge,
  createAgeNative,
  decodeBech32,
  encodeBech32,
} from "../../src/stores/age-native.js";
import { hasTool, ROOT } from "../e2e/harness.js";

const SIZES = [0, 1, 1000, 64 * 1024, 64 * 1024 + 1, 200 * 1024];
const BUN = join(ROOT, "node_modules/.bin/bun");
// node:crypto, and WebCrypto + @noble/ciphers (what the Bun binary uses), must behave the same.
const IMPLS = { node: createAgeNative({ backend: "node" }), web: createAgeNative({ backend: "web" }) };
// Tests that need a real tool fail in CI when it is missing, and are skipped locally.
const withTool = (tool: string) => (hasTool(tool) || process.env.CI ? describe : describe.skip);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sk-age-native-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function payload(size: number, seed = size): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

function run(cmd: string, args: string[], input?: Uint8Array | string): Buffer {
  const r = spawnSync(cmd, args, { input: input ?? "", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr?.toString()}`);
  return r.stdout;
}

/** A key pair made by age-keygen: [identity, recipient, identity file]. */
function keygen(name: string): [string, string, string] {
  const file = join(dir, `${name}.key`);
  run("age-keygen", ["-o", file]);
  const identity = readFileSync(file, "utf8")
    .split("\n")
    .find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
  return [identity, run("age-keygen", ["-y", file]).toString().trim(), file];
}

async function expectUserError(p: Promise<unknown>, message?: RegExp): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UserError);
  if (message) expect((e as Error).message).toMatch(message);
}

describe("bech32", () => {
  it("round-trips bytes and rejects mixed case, bad checksums and bad padding", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (bytes) => {
        const s = encodeBech32("age", bytes);
        expect(decodeBech32(s)).toEqual({ hrp: "age", bytes });
        expect(decodeBech32(s.toUpperCase())).toEqual({ hrp: "age", bytes });
        const flipped = s.slice(0, -1) + (s.endsWith("q") ? "p" : "q");
        expect(decodeBech32(flipped)).toBeNull();
      }),
    );
    const s = encodeBech32("age", new Uint8Array(32).fill(7));
    expect(decodeBech32(s[0].toUpperCase() + s.slice(1))).toBeNull();
    expect(decodeBech32("age1qqqqqqqq")).toBeNull();
    // BIP 173 test vectors.
    expect(decodeBech32("A12UEL5L")?.hrp).toBe("a");
    expect(decodeBech32("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw")?.hrp).toBe("abcdef");
    expect(decodeBech32("a12uel5l")).not.toBeNull();
    expect(decodeBech32("10a06t8")).toBeNull(); // empty hrp
    expect(decodeBech32("x1b4n0q5v")).toBeNull(); // invalid data character
  });
});

withTool("age")("against the age CLI", () => {
  it("derives the same recipient as age-keygen -y, both ways", async () => {
    const [identity, recipient] = keygen("k1");
    expect(await ageNative.toRecipient(identity)).toBe(recipient);
    const mine = await ageNative.generateIdentity();
    const f = join(dir, "mine.key");
    writeFileSync(f, `${mine.identity}\n`, { mode: 0o600 });
    expect(run("age-keygen", ["-y", f]).toString().trim()).toBe(mine.recipient);
  });

  for (const [implName, impl] of Object.entries(IMPLS)) {
    for (const size of SIZES) {
      it(`${implName}: age -> native and native -> age, ${size} bytes, binary and armored`, async () => {
        const [id1, r1, f1] = keygen(`a${implName}${size}`);
        const [id2, r2, f2] = keygen(`b${implName}${size}`);
        const data = payload(size);
        const pf = join(dir, `p${size}`);
        writeFileSync(pf, data);
        // age CLI encrypts to two recipients; each identity alone decrypts.
        const bin = run("age", ["-r", r1, "-r", r2, pf]);
        const arm = run("age", ["-a", "-r", r1, "-r", r2, pf]);
        expect(arm.toString().startsWith("-----BEGIN AGE ENCRYPTED FILE-----")).toBe(true);
        for (const file of [bin, arm]) {
          expect(Buffer.from(await impl.decrypt([id1], file)).equals(Buffer.from(data))).toBe(true);
          expect(Buffer.from(await impl.decrypt([id2], file)).equals(Buffer.from(data))).toBe(true);
        }
        // native encrypts; age -d reads the binary and the armored form.
        const mine = await impl.encrypt([r1, r2], data);
        const mf = join(dir, `m${size}.age`);
        writeFileSync(mf, mine);
        expect(run("age", ["-d", "-i", f1, mf]).equals(Buffer.from(data))).toBe(true);
        writeFileSync(mf, armorAge(mine));
        expect(run("age", ["-d", "-i", f2, mf]).equals(Buffer.from(data))).toBe(true);
      });
    }
  }

  withTool("script")("passphrase files (age -p needs a terminal: run it under script(1))", () => {
    it("decrypts an identity file encrypted with age -p, and rejects a wrong passphrase", async () => {
      const [identity, , keyFile] = keygen("pp");
      const out = join(dir, "pp.age");
      const typing = "sleep 0.3; printf 'correct horse\\n'; sleep 0.3; printf 'correct horse\\n'";
      const r = spawnSync(
        "sh",
        ["-c", `(${typing}) | script -qec "age -p -o '${out}' '${keyFile}'" /dev/null`],
        { timeout: 30_000 },
      );
      expect(r.status).toBe(0);
      const file = readFileSync(out);
      expect(file.toString("latin1")).toMatch(/-> scrypt \S+ 18\n/);
      const plain = Buffer.from(await ageNative.decryptWithPassphrase("correct horse", file)).toString();
      expect(plain).toContain(identity);
      await expectUserError(ageNative.decryptWithPassphrase("wrong", file), /wrong passphrase/);
      await expectUserError(ageNative.decrypt([identity], file), /passphrase/);
    });
  });
});

describe("against typage (age-encryption)", () => {
  for (const [implName, impl] of Object.entries(IMPLS)) {
    // typage itself is slow on large files; the web backend already met the age CLI at every size.
    for (const size of implName === "node" ? SIZES : [0, 64 * 1024 + 1]) {
      it(`${implName}: both directions, ${size} bytes, binary and armored`, async () => {
        const id1 = await typage.generateIdentity();
        const id2 = await typage.generateIdentity();
        const r1 = await typage.identityToRecipient(id1);
        const r2 = await typage.identityToRecipient(id2);
        expect(await impl.toRecipient(id1)).toBe(r1);
        const data = payload(size, 3);
        const e = new typage.Encrypter();
        e.addRecipient(r1);
        e.addRecipient(r2);
        const theirs = await e.encrypt(data);
        const d = new typage.Decrypter();
        d.addIdentity(id2);
        for (const file of [theirs, new TextEncoder().encode(typage.armor.encode(theirs))]) {
          expect(await impl.decrypt([id2], file)).toEqual(data);
        }
        const mine = await impl.encrypt([r1, r2], data);
        expect(await d.decrypt(mine)).toEqual(data);
        expect(await d.decrypt(typage.armor.decode(armorAge(mine)))).toEqual(data);
      });
    }
  }

  it("reads typage's passphrase files and respects the work-factor limit", async () => {
    const e = new typage.Encrypter();
    e.setPassphrase("pw");
    e.setScryptWorkFactor(10);
    const file = await e.encrypt("secret text");
    expect(new TextDecoder().decode(await ageNative.decryptWithPassphrase("pw", file))).toBe("secret text");
    const tooHard = Buffer.from(
      Buffer.from(file)
        .toString("latin1")
        .replace(/(-> scrypt \S+) 10\n/, "$1 23\n"),
      "latin1",
    );
    await expectUserError(ageNative.decryptWithPassphrase("pw", tooHard), /too high/);
  });

  it("round-trips random data and recipient sets with fast-check, across implementations", async () => {
    const ids = await Promise.all([1, 2, 3].map(() => ageNative.generateIdentity()));
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 140_000 }),
        fc.subarray([0, 1, 2], { minLength: 1 }),
        fc.integer({ min: 0, max: 2 }),
        async (data, who, reader) => {
          const recipients = who.map((i) => ids[i].recipient);
          const mine = await ageNative.encrypt(recipients, data);
          const idx = who[reader % who.length];
          expect(await IMPLS.web.decrypt([ids[idx].identity], mine)).toEqual(data);
          const d = new typage.Decrypter();
          d.addIdentity(ids[idx].identity);
          expect(await d.decrypt(mine)).toEqual(data);
          const e = new typage.Encrypter();
          for (const r of recipients) e.addRecipient(r);
          expect(await ageNative.decrypt([ids[idx].identity], await e.encrypt(data))).toEqual(data);
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe("rejects what the age spec rejects", () => {
  let id: { identity: string; recipient: string };
  let other: { identity: string; recipient: string };
  beforeAll(async () => {
    id = await ageNative.generateIdentity();
    other = await ageNative.generateIdentity();
  });

  it("a file for another identity: no identity matches", async () => {
    const file = await ageNative.encrypt([other.recipient], payload(10));
    await expectUserError(ageNative.decrypt([id.identity], file), /^no identity matched this file$/);
    // Several identities: the one that matches wins, whatever its place.
    expect(await ageNative.decrypt([id.identity, other.identity], file)).toEqual(payload(10));
  });

  it("a bad header MAC", async () => {
    const file = Buffer.from(await ageNative.encrypt([id.recipient], payload(10)));
    const text = file.toString("latin1");
    const macAt = text.indexOf("\n--- ") + 5;
    file[macAt] = file[macAt] === 0x41 ? 0x42 : 0x41;
    await expectUserError(ageNative.decrypt([id.identity], file), /MAC/);
  });

  it("every truncation and every appended byte, at chunk boundaries too", async () => {
    const data = payload(64 * 1024 * 2 + 5);
    const file = await ageNative.encrypt([id.recipient], data);
    const headerEnd = Buffer.from(file).indexOf("\n", Buffer.from(file).indexOf("--- ")) + 1;
    const cuts = [0, 10, headerEnd - 1, headerEnd, headerEnd + 16, headerEnd + 16 + 65552, file.length - 1];
    for (const cut of cuts) await expectUserError(ageNative.decrypt([id.identity], file.subarray(0, cut)));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: file.length - 1 }), async (cut) => {
        await expectUserError(ageNative.decrypt([id.identity], file.subarray(0, cut)));
      }),
      { numRuns: 50 },
    );
    await expectUserError(ageNative.decrypt([id.identity], Buffer.concat([file, Buffer.from([0])])));
  });

  it("any flipped bit in a small file", async () => {
    const file = await ageNative.encrypt([id.recipient], payload(100));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: file.length - 1 }),
        fc.integer({ min: 0, max: 7 }),
        async (at, bit) => {
          const bad = Uint8Array.from(file);
          bad[at] ^= 1 << bit;
          await expectUserError(ageNative.decrypt([id.identity], bad));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("malformed armor, non-canonical base64, an scrypt stanza beside others, an empty last chunk", async () => {
    const file = await ageNative.encrypt([id.recipient], payload(100));
    const armored = armorAge(file);
    const lines = armored.split("\n");
    await expectUserError(
      ageNative.decrypt([id.identity], Buffer.from(armored.replace(/-----END.*\n$/, ""))),
    );
    await expectUserError(
      ageNative.decrypt([id.identity], Buffer.from([lines[0], `${lines[1]}A`, ...lines.slice(2)].join("\n"))),
    );
    // Whitespace around the armor and CRLF line ends are fine.
    expect(
      await ageNative.decrypt([id.identity], Buffer.from(`\n  ${armored.replaceAll("\n", "\r\n")}\n\n`)),
    ).toEqual(payload(100));

    const fileKey = randomBytes(16);
    const x = x25519Stanza(fileKey, id.recipient);
    // A full 64 KiB chunk followed by an empty final chunk: age forbids it.
    const emptyLast = craft(
      fileKey,
      [x],
      [
        [payload(65536), false],
        [new Uint8Array(0), true],
      ],
    );
    await expectUserError(ageNative.decrypt([id.identity], emptyLast), /empty final chunk/);
    // The same data, written correctly, decrypts: the crafting helper is right.
    expect(await ageNative.decrypt([id.identity], craft(fileKey, [x], [[payload(65536), true]]))).toEqual(
      payload(65536),
    );
    // The last chunk without its "last" flag is a truncated file.
    await expectUserError(ageNative.decrypt([id.identity], craft(fileKey, [x], [[payload(5), false]])));
    const scryptToo = craft(
      fileKey,
      [x, ["-> scrypt AAAAAAAAAAAAAAAAAAAAAA 10", "A".repeat(43)]],
      [[payload(5), true]],
    );
    await expectUserError(ageNative.decrypt([id.identity], scryptToo), /passphrase/);
    await expectUserError(ageNative.decryptWithPassphrase("pw", scryptToo), /only one/);
    // A stanza body with non-canonical base64 (non-zero trailing bits).
    const body = x[1];
    const nonCanonical = body.slice(0, -1) + String.fromCharCode(body.charCodeAt(body.length - 1) + 1);
    await expectUserError(
      ageNative.decrypt([id.identity], craft(fileKey, [[x[0], nonCanonical]], [[payload(5), true]])),
    );
    // Unknown stanza types are skipped.
    const withUnknown = craft(fileKey, [["-> example.com/x a b", ""], x], [[payload(5), true]]);
    expect(await ageNative.decrypt([id.identity], withUnknown)).toEqual(payload(5));
  });

  it("bad identities and recipients, without echoing secrets", async () => {
    const secretish = `${id.identity.slice(0, -1)}X`;
    const e = await ageNative.decrypt([secretish], new Uint8Array(0)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UserError);
    expect((e as Error).message).not.toContain(secretish.slice(16));
    await expectUserError(ageNative.encrypt(["age1nope"], payload(1)), /recipient/);
    await expectUserError(ageNative.encrypt([], payload(1)));
    await expectUserError(ageNative.decrypt([id.identity], Buffer.from("hello world\n")), /not an age file/);
  });
});

withTool("age")("inside Bun (what the compiled binary runs)", () => {
  it("decrypts the age CLI's files and writes files the age CLI reads", async () => {
    expect(hasTool(BUN) || spawnSync(BUN, ["--version"]).status === 0).toBe(true);
    const [id1, r1, f1] = keygen("bun");
    const inputs = SIZES.map((size) => {
      const pf = join(dir, `bun-p${size}`);
      writeFileSync(pf, payload(size, 9));
      writeFileSync(`${pf}.age`, run("age", ["-r", r1, pf]));
      writeFileSync(`${pf}.asc`, run("age", ["-a", "-r", r1, pf]));
      return pf;
    });
    const script = join(dir, "bun-check.ts");
    writeFileSync(
      script,
      `import { readFileSync, writeFileSync } from "node:fs";
import { ageNative } from ${JSON.stringify(join(ROOT, "src/stores/age-native.ts"))};
const [identity, recipient, ...files] = process.argv.slice(2);
for (const f of files) {
  for (const ext of [".age", ".asc"]) {
    const plain = await ageNative.decrypt([identity], readFileSync(f + ext));
    if (!Buffer.from(plain).equals(readFileSync(f))) throw new Error("mismatch " + f + ext);
  }
  writeFileSync(f + ".bun", await ageNative.encrypt([recipient], readFileSync(f)));
}
console.log("ok");
`,
    );
    // Inside Bun, "auto" is the WebCrypto backend (Bun's node:crypto has no chacha20-poly1305).
    expect(
      run(BUN, [script, id1, r1, ...inputs])
        .toString()
        .trim(),
    ).toBe("ok");
    for (const pf of inputs) {
      expect(run("age", ["-d", "-i", f1, `${pf}.bun`]).equals(readFileSync(pf))).toBe(true);
    }
  });
});

// --- A second, deliberately plain encoder, to build files the native one refuses to write. ---

function b64(b: Uint8Array): string {
  return Buffer.from(b).toString("base64").replace(/=+$/, "");
}

function seal(key: Uint8Array, nonce: Uint8Array, data: Uint8Array): Buffer {
  const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  return Buffer.concat([c.update(data), c.final(), c.getAuthTag()]);
}

/** An X25519 stanza as [args line, body base64] wrapping fileKey for an age1 recipient. */
function x25519Stanza(fileKey: Uint8Array, recipient: string): [string, string] {
  const point = decodeBech32(recipient)!.bytes;
  const eph = createPrivateKey({
    key: Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), randomBytes(32)]),
    format: "der",
    type: "pkcs8",
  });
  const share = (createPublicKey(eph).export({ format: "der", type: "spki" }) as Buffer).subarray(12);
  const peer = createPublicKey({
    key: Buffer.concat([Buffer.from("302a300506032b656e032100", "hex"), point]),
    format: "der",
    type: "spki",
  });
  const secret = diffieHellman({ privateKey: eph, publicKey: peer });
  const wrap = Buffer.from(
    hkdfSync("sha256", secret, Buffer.concat([share, point]), "age-encryption.org/v1/X25519", 32),
  );
  return [`-> X25519 ${b64(share)}`, b64(seal(wrap, new Uint8Array(12), fileKey))];
}

/** An age file from raw stanzas and explicit (chunk, last flag) pairs. */
function craft(fileKey: Uint8Array, stanzas: [string, string][], chunks: [Uint8Array, boolean][]): Buffer {
  let h = "age-encryption.org/v1\n";
  for (const [args, body] of stanzas) {
    h += `${args}\n`;
    for (let i = 0; i < body.length; i += 64) h += `${body.slice(i, i + 64)}\n`;
    if (body.length % 64 === 0) h += "\n";
  }
  h += "---";
  const macKey = Buffer.from(hkdfSync("sha256", fileKey, new Uint8Array(0), "header", 32));
  h += ` ${b64(createHmac("sha256", macKey).update(h).digest())}\n`;
  const nonce = randomBytes(16);
  const key = Buffer.from(hkdfSync("sha256", fileKey, nonce, "payload", 32));
  const parts: Buffer[] = [Buffer.from(h, "latin1"), nonce];
  chunks.forEach(([data, last], i) => {
    const n = new Uint8Array(12);
    n[10] = i;
    n[11] = last ? 1 : 0;
    parts.push(seal(key, n, data));
  });
  return Buffer.concat(parts);
}

describe("post-quantum hybrid keys", () => {
  it("are handed to the age-encryption package, both ways", async () => {
    const pq = await typage.generateHybridIdentity();
    const pqRecipient = await typage.identityToRecipient(pq);
    expect(await ageNative.toRecipient(pq)).toBe(pqRecipient);
    const file = await ageNative.encrypt([pqRecipient], payload(300));
    expect(await ageNative.decrypt([pq], file)).toEqual(payload(300));
    const d = new typage.Decrypter();
    d.addIdentity(pq);
    expect(await d.decrypt(file)).toEqual(payload(300));
  });
});
