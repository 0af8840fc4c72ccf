// Bulk decryption of pass entries without one gpg process per entry (issue 7): the public-key
// step goes to gpg-agent over its Assuan socket (one connection, many PKDECRYPT), and the
// OpenPGP symmetric part (RFC 4880 SEIPD v1 with MDC, RFC 6637 ECDH key wrap) is done here.
// Anything this file does not fully understand returns undefined, and the caller decrypts that
// entry with the gpg binary as before: a wrong plaintext is never returned, because the MDC
// (SHA-1 over the whole plaintext, inside the encryption) is checked before anything is used.
// Loaded with import() on the bulk path only, so `sparekey code` never pays for it.
import type { Socket } from "node:net";
import { aeskw, cfb } from "@noble/ciphers/aes.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import type { Env, ToolResult } from "./fsutil.js";

/** One secret (sub)key gpg holds, as `--list-secret-keys --with-colons` describes it. */
export interface SecretKey {
  /** The 16-hex-digit key id, upper case. */
  keyid: string;
  /** OpenPGP public-key algorithm (1 RSA, 18 ECDH, ...). */
  algo: number;
  /** The v4 fingerprint, 20 bytes. */
  fpr: Uint8Array;
  /** gpg-agent's name for the key. */
  grip: string;
  /** The `pkd` fields in order: for ECDH, [length-prefixed curve OID, point, KDF parameters]. */
  pkd: Uint8Array[];
}

const hexBytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, "hex"));

/**
 * The secret keys in `gpg --with-colons --with-keygrip --with-key-data --list-secret-keys`
 * output, by key id. Only keys whose secret part is on this machine (`+` in field 15) count:
 * stubs and smartcard keys are left to gpg.
 */
export function parseSecretKeys(colons: string): Map<string, SecretKey> {
  const out = new Map<string, SecretKey>();
  let cur: SecretKey | undefined;
  let usable = false;
  for (const line of colons.split("\n")) {
    const f = line.split(":");
    if (f[0] === "sec" || f[0] === "ssb") {
      if (cur && usable) out.set(cur.keyid, cur);
      cur = {
        keyid: (f[4] ?? "").toUpperCase(),
        algo: Number(f[3]),
        fpr: new Uint8Array(0),
        grip: "",
        pkd: [],
      };
      usable = f[14] === "+" && /^[0-9A-F]{16}$/.test(cur.keyid);
    } else if (!cur) continue;
    else if (f[0] === "fpr" && cur.fpr.length === 0 && /^[0-9A-F]{40}$/.test(f[9] ?? "")) {
      cur.fpr = hexBytes(f[9]);
    } else if (f[0] === "grp" && cur.grip === "" && /^[0-9A-F]{40}$/.test(f[9] ?? "")) {
      cur.grip = f[9];
    } else if (f[0] === "pkd" && Number(f[1]) === cur.pkd.length && /^([0-9A-F]{2})*$/.test(f[3] ?? "")) {
      cur.pkd.push(hexBytes(f[3]));
    } else if (f[0] === "uid" || f[0] === "pub" || f[0] === "sub") {
      if (usable) out.set(cur.keyid, cur);
      cur = undefined;
    }
  }
  if (cur && usable) out.set(cur.keyid, cur);
  for (const [id, k] of out) if (k.fpr.length !== 20 || k.grip === "") out.delete(id);
  return out;
}

// ------------------------------------------------------------------------------ packets

interface Packet {
  tag: number;
  body: Uint8Array;
}

/**
 * Splits OpenPGP packets (RFC 4880 §4.2): old and new headers, partial body lengths (data
 * packets only), old-format indeterminate length. Undefined on anything malformed.
 */
export function splitPackets(buf: Uint8Array): Packet[] | undefined {
  const out: Packet[] = [];
  let i = 0;
  while (i < buf.length) {
    const ctb = buf[i++];
    if ((ctb & 0x80) === 0) return undefined;
    if (ctb & 0x40) {
      const tag = ctb & 0x3f;
      const parts: Uint8Array[] = [];
      for (;;) {
        if (i >= buf.length) return undefined;
        const b = buf[i++];
        let len: number;
        let partial = false;
        if (b < 192) len = b;
        else if (b < 224) {
          if (i >= buf.length) return undefined;
          len = ((b - 192) << 8) + buf[i++] + 192;
        } else if (b === 255) {
          if (i + 4 > buf.length) return undefined;
          len = ((buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]) >>> 0;
          i += 4;
        } else {
          // Partial lengths are only allowed for data packets, and not for the first part < 512.
          if (![8, 9, 11, 18, 20].includes(tag)) return undefined;
          len = 1 << (b & 0x1f);
          partial = true;
        }
        if (i + len > buf.length) return undefined;
        parts.push(buf.subarray(i, i + len));
        i += len;
        if (!partial) break;
      }
      out.push({ tag, body: parts.length === 1 ? parts[0] : concat(parts) });
    } else {
      const tag = (ctb >> 2) & 0x0f;
      const lt = ctb & 3;
      let len: number;
      if (lt === 3) len = buf.length - i;
      else {
        const n = 1 << lt;
        if (i + n > buf.length) return undefined;
        len = 0;
        for (let k = 0; k < n; k++) len = len * 256 + buf[i + k];
        i += n;
      }
      if (i + len > buf.length) return undefined;
      out.push({ tag, body: buf.subarray(i, i + len) });
      i += len;
    }
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A public-key encrypted session key packet (tag 1, version 3). */
export interface Pkesk {
  keyid: string;
  algo: number;
  /** RSA: [m^e]. ECDH: [ephemeral point, wrapped key (without its length byte)]. */
  fields: Uint8Array[];
}

/** Reads one MPI (2-byte bit count, big-endian bytes); undefined past the end. */
function readMpi(b: Uint8Array, at: number): [Uint8Array, number] | undefined {
  if (at + 2 > b.length) return undefined;
  const bytes = (((b[at] << 8) | b[at + 1]) + 7) >> 3;
  if (at + 2 + bytes > b.length) return undefined;
  return [b.subarray(at + 2, at + 2 + bytes), at + 2 + bytes];
}

function parsePkesk(b: Uint8Array): Pkesk | undefined {
  if (b.length < 10 || b[0] !== 3) return undefined;
  const keyid = Buffer.from(b.subarray(1, 9)).toString("hex").toUpperCase();
  const algo = b[9];
  if (algo === 18) {
    const e = readMpi(b, 10);
    if (!e) return undefined;
    const n = b[e[1]];
    if (n === undefined || e[1] + 1 + n !== b.length) return undefined;
    return { keyid, algo, fields: [e[0], b.subarray(e[1] + 1)] };
  }
  if (algo === 1) {
    const m = readMpi(b, 10);
    if (!m || m[1] !== b.length) return undefined;
    return { keyid, algo, fields: [m[0]] };
  }
  return { keyid, algo, fields: [] };
}

/** A binary pass file this path understands: session-key packets and one SEIPD v1 packet. */
export interface Message {
  pkesks: Pkesk[];
  /** The SEIPD body after its version byte. */
  encrypted: Uint8Array;
}

/**
 * Parses a binary OpenPGP message of the shape gpg writes for pass: PKESKs (v3), then one
 * SEIPD v1 (with MDC). Armor, SKESK, AEAD (tag 20) or anything else is undefined.
 */
export function parseMessage(bytes: Uint8Array): Message | undefined {
  const packets = splitPackets(bytes);
  if (!packets || packets.length < 2) return undefined;
  const pkesks: Pkesk[] = [];
  for (const p of packets.slice(0, -1)) {
    if (p.tag === 10) continue; // Marker packet: ignored, as RFC 4880 §5.8 says.
    if (p.tag !== 1) return undefined;
    const k = parsePkesk(p.body);
    if (!k) return undefined;
    pkesks.push(k);
  }
  const last = packets[packets.length - 1];
  if (last.tag !== 18 || last.body[0] !== 1 || pkesks.length === 0) return undefined;
  return { pkesks, encrypted: last.body.subarray(1) };
}

// ------------------------------------------------------------------------------ symmetric part

/** AES key sizes by OpenPGP symmetric algorithm id; others (CAST5, Twofish, Camellia) go to gpg. */
const AES_KEY: Record<number, number> = { 7: 16, 8: 24, 9: 32 };

/**
 * Decrypts a SEIPD v1 body (OpenPGP CFB with a zero IV, RFC 4880 §5.13), checks the quick-check
 * bytes and the MDC, and returns the literal data. Undefined on any mismatch or on a shape we do
 * not handle (BZip2, signed messages, text-mode literals with CR).
 */
export async function decryptSeipd(
  algo: number,
  key: Uint8Array,
  body: Uint8Array,
): Promise<Uint8Array | undefined> {
  if (AES_KEY[algo] !== key.length || body.length < 16 + 2 + 22) return undefined;
  const plain = cfb(key, new Uint8Array(16)).decrypt(body);
  if (plain[14] !== plain[16] || plain[15] !== plain[17]) return undefined;
  const end = plain.length - 22;
  if (plain[end] !== 0xd3 || plain[end + 1] !== 0x14) return undefined;
  const mdc = sha1(plain.subarray(0, end + 2));
  for (let k = 0; k < 20; k++) if (mdc[k] !== plain[end + 2 + k]) return undefined;
  return literalOf(plain.subarray(18, end), 0);
}

/** The data of the one literal packet in `inner`, looking through one compression layer. */
async function literalOf(inner: Uint8Array, depth: number): Promise<Uint8Array | undefined> {
  const packets = splitPackets(inner);
  if (packets?.length !== 1) return undefined;
  const [p] = packets;
  if (p.tag === 8 && depth === 0) {
    const data = p.body.subarray(1);
    let out: Uint8Array;
    try {
      const zlib = await import("node:zlib");
      if (p.body[0] === 0) out = data;
      else if (p.body[0] === 1) out = zlib.inflateRawSync(data);
      else if (p.body[0] === 2) out = zlib.inflateSync(data);
      else return undefined;
    } catch {
      return undefined;
    }
    return literalOf(out, 1);
  }
  if (p.tag !== 11 || p.body.length < 6) return undefined;
  const mode = p.body[0];
  const start = 2 + p.body[1] + 4;
  if (start > p.body.length) return undefined;
  const data = p.body.subarray(start);
  // gpg drops CRs from text-mode literals on output; leave such entries to it.
  if (mode !== 0x62 && data.includes(0x0d)) return undefined;
  if (![0x62, 0x74, 0x75].includes(mode)) return undefined;
  return data;
}

const HASH: Record<number, (b: Uint8Array) => Uint8Array> = { 8: sha256, 9: sha384, 10: sha512 };

/**
 * The session key from an ECDH shared point (RFC 6637 §7-8): KDF over the point's X, unwrap with
 * AES key wrap, check the PKCS#5 padding and the checksum. Undefined on any mismatch.
 */
export function unwrapEcdh(
  shared: Uint8Array,
  wrapped: Uint8Array,
  key: SecretKey,
): { algo: number; key: Uint8Array } | undefined {
  const [oid, , kdf] = key.pkd;
  if (!oid || !kdf || kdf.length !== 4 || kdf[0] !== 3 || kdf[1] !== 1) return undefined;
  const hash = HASH[kdf[2]];
  const kekLen = AES_KEY[kdf[3]];
  if (!hash || !kekLen) return undefined;
  // libgcrypt returns 0x40||X (Montgomery curves) or 0x04||X||Y (Weierstrass curves).
  let x: Uint8Array;
  if (shared[0] === 0x40 && shared.length > 1) x = shared.subarray(1);
  else if (shared[0] === 0x04 && shared.length % 2 === 1 && shared.length > 1)
    x = shared.subarray(1, 1 + (shared.length - 1) / 2);
  else return undefined;
  const param = concat([
    oid,
    Uint8Array.of(18),
    kdf,
    new TextEncoder().encode("Anonymous Sender    "),
    key.fpr,
  ]);
  const kek = hash(concat([Uint8Array.of(0, 0, 0, 1), x, param])).subarray(0, kekLen);
  let m: Uint8Array;
  try {
    m = aeskw(kek).decrypt(wrapped);
  } catch {
    return undefined;
  }
  const pad = m[m.length - 1];
  if (!pad || pad > 8 || pad >= m.length) return undefined;
  for (let k = m.length - pad; k < m.length; k++) if (m[k] !== pad) return undefined;
  return checkSessionKey(m.subarray(0, m.length - pad));
}

/** algo || key || 2-byte sum of the key bytes (RFC 4880 §5.1). */
function checkSessionKey(m: Uint8Array): { algo: number; key: Uint8Array } | undefined {
  const algo = m[0];
  const key = m.subarray(1, m.length - 2);
  if (AES_KEY[algo] !== key.length) return undefined;
  let sum = 0;
  for (const b of key) sum = (sum + b) & 0xffff;
  if (sum !== ((m[m.length - 2] << 8) | m[m.length - 1])) return undefined;
  return { algo, key: Uint8Array.from(key) };
}

// ------------------------------------------------------------------------------ S-expressions

/** Canonical S-expression `(n:bytes...)`, nested lists as arrays. */
type Sexp = Uint8Array | Sexp[];

/** Encodes a canonical S-expression. */
function encodeSexp(s: Sexp): Uint8Array {
  if (!Array.isArray(s)) return concat([new TextEncoder().encode(`${s.length}:`), s]);
  return concat([Uint8Array.of(0x28), ...s.map(encodeSexp), Uint8Array.of(0x29)]);
}

const atom = (t: string): Uint8Array => new TextEncoder().encode(t);

/** Parses a canonical S-expression; undefined when malformed. */
export function parseSexp(b: Uint8Array): Sexp | undefined {
  let i = 0;
  const item = (): Sexp | undefined => {
    if (b[i] === 0x28) {
      i++;
      const list: Sexp[] = [];
      while (i < b.length && b[i] !== 0x29) {
        const x = item();
        if (x === undefined) return undefined;
        list.push(x);
      }
      if (b[i] !== 0x29) return undefined;
      i++;
      return list;
    }
    let n = 0;
    const s = i;
    while (i < b.length && b[i] >= 0x30 && b[i] <= 0x39 && i - s < 9) n = n * 10 + b[i++] - 0x30;
    if (i === s || b[i] !== 0x3a || i + 1 + n > b.length) return undefined;
    i++;
    i += n;
    return b.subarray(i - n, i);
  };
  const out = item();
  return out !== undefined && i === b.length ? out : undefined;
}

/** The value of `(5:value ...)` anywhere in an agent result. */
function findValue(s: Sexp): Uint8Array | undefined {
  if (!Array.isArray(s)) return undefined;
  if (
    s.length === 2 &&
    !Array.isArray(s[0]) &&
    Buffer.from(s[0]).toString("latin1") === "value" &&
    !Array.isArray(s[1])
  )
    return s[1];
  for (const x of s) {
    const v = findValue(x);
    if (v) return v;
  }
  return undefined;
}

// ------------------------------------------------------------------------------ Assuan

/** Percent-escapes bytes for an Assuan data line (%, CR, LF and every non-printable byte). */
export function escapeAssuan(b: Uint8Array): string {
  let s = "";
  for (const c of b)
    s +=
      c < 0x20 || c === 0x25 || c >= 0x7f
        ? `%${c.toString(16).toUpperCase().padStart(2, "0")}`
        : String.fromCharCode(c);
  return s;
}

/** Undoes Assuan's %XX escapes. */
export function unescapeAssuan(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "%" && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(Number.parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(s.charCodeAt(i) & 0xff);
  }
  return Uint8Array.from(out);
}

/** One Assuan connection, one command at a time. */
class Assuan {
  /** The key the last SETKEY chose; the agent keeps it across PKDECRYPTs. */
  grip: string | undefined;
  private buf = "";
  private waiting: ((line: string | null) => void) | undefined;
  private lines: string[] = [];
  private closed = false;

  constructor(private readonly sock: Socket) {
    sock.setEncoding("latin1");
    sock.on("data", (d: string) => {
      this.buf += d;
      let nl = this.buf.indexOf("\n");
      while (nl >= 0) {
        this.lines.push(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
        nl = this.buf.indexOf("\n");
      }
      this.wake();
    });
    const end = () => {
      this.closed = true;
      this.wake();
    };
    sock.on("close", end);
    sock.on("error", end);
  }

  private wake(): void {
    const w = this.waiting;
    if (w && (this.lines.length > 0 || this.closed)) {
      this.waiting = undefined;
      w(this.lines.shift() ?? null);
    }
  }

  /** The next line from the agent, or null when the connection is gone. */
  line(): Promise<string | null> {
    if (this.lines.length > 0) return Promise.resolve(this.lines.shift()!);
    if (this.closed) return Promise.resolve(null);
    return new Promise((r) => {
      this.waiting = r;
    });
  }

  send(text: string): void {
    this.sock.write(text, "latin1");
  }

  /**
   * Sends a command and collects its data lines until OK; an INQUIRE is answered by `inquire`
   * (undefined: cancel). Undefined when the agent answered ERR or the line was unexpected.
   */
  async command(
    cmd: string,
    inquire?: (what: string) => Uint8Array | undefined,
  ): Promise<string | undefined> {
    if (this.closed) return undefined;
    // An agent that stops answering must not hang a bulk read: drop it, gpg takes the rest.
    const timer = setTimeout(() => this.close(), 10_000);
    try {
      const out = await this.exchange(cmd, inquire);
      // Out of step with the agent (an unexpected line): no later answer can be trusted.
      if (out === null) this.close();
      return out ?? undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** One command's exchange; undefined after ERR, null when the protocol went wrong. */
  private async exchange(
    cmd: string,
    inquire?: (what: string) => Uint8Array | undefined,
  ): Promise<string | undefined | null> {
    this.send(`${cmd}\n`);
    let data = "";
    for (;;) {
      const l = await this.line();
      if (l === null) return null;
      if (l === "OK" || l.startsWith("OK ")) return data;
      if (l.startsWith("ERR")) return undefined;
      if (l.startsWith("D ")) data += l.slice(2);
      else if (l.startsWith("INQUIRE ")) {
        const answer = inquire?.(l.slice(8).split(" ")[0]);
        if (!answer) {
          this.send("CAN\n");
          continue;
        }
        let out = "";
        // Assuan lines are at most 1000 bytes: 300 bytes escape to 900 characters at most.
        for (let i = 0; i < answer.length; i += 300)
          out += `D ${escapeAssuan(answer.subarray(i, i + 300))}\n`;
        this.send(`${out}END\n`);
      } else if (!l.startsWith("S ") && !l.startsWith("#") && l !== "") return null;
    }
  }

  close(): void {
    this.closed = true;
    this.sock.destroy();
    this.wake();
  }
}

/** Runs a tool; the pass store passes its runTool. */
export type RunTool = (cmd: string, args: readonly string[], opts: { env: Env }) => Promise<ToolResult>;

async function connect(path: string): Promise<Socket | undefined> {
  const net = await import("node:net");
  return new Promise((resolve) => {
    const s = net.createConnection({ path });
    s.once("connect", () => resolve(s));
    s.once("error", () => resolve(undefined));
  });
}

/**
 * A session that decrypts pass files through gpg-agent. `decrypt` resolves to the plaintext,
 * or undefined when this entry must go through the gpg binary instead.
 */
export class AgentDecryptor {
  private readonly free: Assuan[];
  private readonly waiting: ((c: Assuan) => void)[] = [];

  private constructor(
    private readonly conns: Assuan[],
    private readonly keys: Map<string, SecretKey>,
  ) {
    this.free = [...conns];
  }

  /** How many entries may be decrypted side by side (one agent connection each). */
  get width(): number {
    return this.conns.length;
  }

  /**
   * Opens a session of `width` connections: finds the agent's socket and the secret keys (one
   * gpgconf and one gpg run, side by side), starting the agent if needed. Undefined when
   * anything is off.
   */
  static async open(env: Env, run: RunTool, width = 2): Promise<AgentDecryptor | undefined> {
    const [dirs, list] = await Promise.all([
      run("gpgconf", ["--list-dirs", "agent-socket"], { env }),
      run("gpg", ["--batch", "--with-colons", "--with-keygrip", "--with-key-data", "--list-secret-keys"], {
        env,
      }),
    ]);
    const path = dirs.stdout.toString("utf8").trim();
    if (dirs.code !== 0 || list.code !== 0 || path === "" || path.includes("\n")) return undefined;
    const keys = parseSecretKeys(list.stdout.toString("utf8"));
    if (keys.size === 0) return undefined;
    let first = await connect(path);
    if (!first) {
      if ((await run("gpgconf", ["--launch", "gpg-agent"], { env })).code !== 0) return undefined;
      first = await connect(path);
      if (!first) return undefined;
    }
    const socks = [first, ...(await Promise.all(Array.from({ length: width - 1 }, () => connect(path))))];
    const conns = socks.flatMap((s) => (s ? [new Assuan(s)] : []));
    const ready = await Promise.all(
      conns.map(async (c) => {
        const hello = await c.line();
        // The agent must never prompt on these connections: a key that needs its passphrase
        // makes the request fail, and that entry goes through gpg, which asks the way the user
        // has set up.
        return hello?.startsWith("OK") && (await c.command("OPTION pinentry-mode=cancel")) !== undefined;
      }),
    );
    if (ready.includes(false)) {
      for (const c of conns) c.close();
      return undefined;
    }
    return new AgentDecryptor(conns, keys);
  }

  /** The plaintext of one binary pass file, or undefined to leave it to gpg. */
  async decrypt(bytes: Uint8Array): Promise<Uint8Array | undefined> {
    const msg = parseMessage(bytes);
    if (!msg) return undefined;
    const p = msg.pkesks.find((k) => this.keys.get(k.keyid)?.algo === k.algo && k.algo === 18);
    const key = p && this.keys.get(p.keyid);
    if (!p || !key) return undefined;
    const [e, wrapped] = p.fields;
    // As gpg builds it (g10/pubkey-enc.c): the wrapped key keeps its length byte.
    const ciph = encodeSexp([
      atom("enc-val"),
      [atom("ecdh"), [atom("s"), concat([Uint8Array.of(wrapped.length), wrapped])], [atom("e"), e]],
    ]);
    const conn = this.free.pop() ?? (await new Promise<Assuan>((r) => this.waiting.push(r)));
    let res: string | undefined;
    try {
      if (conn.grip !== key.grip) {
        conn.grip = undefined;
        if ((await conn.command(`SETKEY ${key.grip}`)) === undefined) return undefined;
        conn.grip = key.grip;
      }
      res = await conn.command("PKDECRYPT", (what) => (what === "CIPHERTEXT" ? ciph : undefined));
    } finally {
      const next = this.waiting.shift();
      if (next) next(conn);
      else this.free.push(conn);
    }
    if (res === undefined) return undefined;
    const parsed = parseSexp(unescapeAssuan(res));
    const shared = parsed && findValue(parsed);
    if (!shared) return undefined;
    const sk = unwrapEcdh(shared, wrapped, key);
    if (!sk) return undefined;
    return decryptSeipd(sk.algo, sk.key, msg.encrypted);
  }

  /** Closes the connections to the agent. */
  close(): void {
    for (const c of this.conns) c.close();
  }
}
