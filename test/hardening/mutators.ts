// Mutations of real exports for the fuzz and CLI tests: truncations, byte flips, field swaps and
// values of the wrong type, driven by fast-check so that a failure prints a replayable seed.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import fc from "fast-check";
import { FIXTURES } from "../e2e/harness.js";

/** One real export, read in place. */
export interface Fixture {
  /** Path relative to FIXTURES. */
  rel: string;
  path: string;
  bytes: Uint8Array;
  /** Parsed JSON when the file is JSON. */
  json?: unknown;
  /** The file's password (MANIFEST.md, or a `password` file beside it), when it is encrypted. */
  password?: string;
  /** Base32 runs of 16+ characters in the file: what an error message must never repeat. */
  secrets: string[];
}

const MANIFEST_PASSWORDS: Record<string, string> = {
  "aegis_encrypted.json": "test",
  "2fas_authenticator_encrypted.2fas": "test",
  "2fas_authenticator_encrypted_v3.2fas": "test",
  "2fas_authenticator_encrypted_v4.2fas": "test",
  "andotp_encrypted.bin": "test",
  "andotp_encrypted_old.bin": "test",
  "authy_encrypted.xml": "testtest",
  "authenticator_plus.zip": "testtesttest",
  "totp_authenticator.bin": "Testtest1",
  "stratum_encrypted.bin": "test",
  "stratum_encrypted_legacy.bin": "test",
  "freeotp_v2_api23.xml": "test",
  "freeotp_v2_api25.xml": "test",
  "freeotp_v2_api27.xml": "test",
  "freeotp_v2_api34.xml": "test",
  "freeotp_v2_null_algo.xml": "test",
};

/** Every export under FIXTURES (not the manifests, password files or expected-text tables). */
export function loadFixtures(): Fixture[] {
  const out: Fixture[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        walk(path);
        continue;
      }
      if (name === "MANIFEST.md" || name === "password" || name.endsWith(".tsv")) continue;
      const bytes = new Uint8Array(readFileSync(path));
      const text = Buffer.from(bytes).toString("latin1");
      let json: unknown;
      try {
        json = JSON.parse(Buffer.from(bytes).toString("utf8"));
      } catch {
        json = undefined;
      }
      let password = MANIFEST_PASSWORDS[name];
      try {
        if (/encrypt/i.test(name)) password = readFileSync(join(dir, "password"), "utf8").trim();
      } catch {
        // no password file in this folder
      }
      const secrets = [...new Set(text.match(/[A-Z2-7]{16,}/g) ?? [])];
      out.push({ rel: relative(FIXTURES, path), path, bytes, json, password, secrets });
    }
  };
  walk(FIXTURES);
  return out;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A small fast PRNG (xorshift32) so that a case is a seed: cheap to draw, replayable. */
export class Rng {
  private x: number;
  constructor(seed: number) {
    this.x = seed | 0 || 0x9e3779b9;
  }
  /** A 32-bit unsigned integer. */
  next(): number {
    let x = this.x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.x = x;
    return x >>> 0;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }
  /** A short string of mixed characters (ASCII, punctuation, control, non-ASCII). */
  text(max: number): string {
    const alphabet = "aZ09 :/?&=%#+-_.~\"'\\\n\t\u0000\u00e9\u4e2d\u{1f600}ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const chars = [...alphabet];
    let out = "";
    for (let i = this.int(max + 1); i > 0; i--) out += this.pick(chars);
    return out;
  }
}

/** Values of the wrong type, and the values that break parsers most often. */
const NASTY: Json[] = [
  null,
  true,
  false,
  0,
  -1,
  1,
  1e308,
  -1e308,
  2 ** 53,
  4294967296,
  0.5,
  "",
  " ",
  "0",
  "-1",
  "NaN",
  "null",
  "SHA1",
  "SHA999",
  "totp",
  "hotp",
  "steam",
  "otpauth://totp/x?secret=",
  "AAAA",
  "====",
  "%",
  "\u0000",
  "../../etc/passwd",
  [],
  {},
  [null],
  { type: null },
  "x".repeat(5000),
];

function nastyValue(r: Rng): Json {
  switch (r.int(4)) {
    case 0:
      return r.text(20);
    case 1:
      return r.int(2) === 0 ? r.next() - 2 ** 31 : (r.next() / 7) * (r.int(2) ? 1 : -1);
    default:
      return structuredClone(r.pick(NASTY));
  }
}

/** Every path to a node of a JSON tree (the root is []). */
function paths(v: Json, at: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(at);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) paths(v[i], [...at, i], out);
  } else if (v !== null && typeof v === "object")
    for (const k of Object.keys(v)) paths(v[k], [...at, k], out);
  return out;
}

function getAt(v: Json, p: (string | number)[]): Json {
  let x: Json = v;
  for (const k of p) {
    if (x === null || typeof x !== "object") return undefined as unknown as Json;
    x = (x as Record<string, Json>)[k as string];
  }
  return x;
}

function setAt(root: Json, p: (string | number)[], value: Json | undefined): Json {
  if (p.length === 0) return value === undefined ? null : value;
  const parent = getAt(root, p.slice(0, -1)) as Record<string, Json> | Json[];
  if (parent === null || typeof parent !== "object") return root;
  const k = p[p.length - 1];
  if (Array.isArray(parent)) {
    if (value === undefined) parent.splice(k as number, 1);
    else parent[k as number] = value;
  } else if (value === undefined) delete parent[k as string];
  else parent[k as string] = value;
  return root;
}

/** 1-4 edits of a JSON tree: delete, replace with a wrong type, swap two fields, copy, wrap. */
export function mutateJson(tree: unknown, r: Rng): Json {
  let root = structuredClone(tree) as Json;
  for (let n = 1 + r.int(4); n > 0; n--) {
    const all = paths(root);
    const p = r.pick(all);
    const q = r.pick(all);
    const here = getAt(root, p);
    switch (r.int(7)) {
      case 0:
        root = setAt(root, p, undefined);
        break;
      case 1:
        root = setAt(root, p, nastyValue(r));
        break;
      case 2: {
        // Swap two leaves' values (swapping a node with its own ancestor would make a cycle).
        const there = getAt(root, q);
        if (typeof here !== "object" && typeof there !== "object" && p.length > 0 && q.length > 0) {
          root = setAt(root, p, there);
          root = setAt(root, q, here);
        }
        break;
      }
      case 3:
        if (p.length > 0) root = setAt(root, p, structuredClone(getAt(root, q)));
        break;
      case 4:
        root = setAt(root, p, JSON.stringify(here) ?? "");
        break;
      case 5:
        if (typeof here === "string") root = setAt(root, p, here.slice(0, r.int(here.length + 1)));
        else root = setAt(root, p, nastyValue(r));
        break;
      default:
        root = setAt(root, p, [here]);
        break;
    }
  }
  return root;
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** 1-4 byte-level edits: flip a bit, overwrite, delete, duplicate or insert a range, or cut. */
export function mutateBytes(src: Uint8Array, r: Rng): Uint8Array {
  let b: Uint8Array = Uint8Array.from(src);
  for (let n = 1 + r.int(4); n > 0 && b.length > 0; n--) {
    const at = r.int(b.length);
    const end = Math.min(b.length, at + 1 + r.int(64));
    switch (r.int(6)) {
      case 0:
        b[at] ^= 1 << r.int(8);
        break;
      case 1:
        b.fill(r.int(256), at, end);
        break;
      case 2:
        b = concat(b.subarray(0, at), b.subarray(end));
        break;
      case 3:
        b = concat(b.subarray(0, end), b.subarray(at, end), b.subarray(end));
        break;
      case 4:
        b = b.slice(0, at);
        break;
      default:
        b = concat(b.subarray(0, at), r.bytes(1 + r.int(16)), b.subarray(at));
        break;
    }
  }
  return b;
}

/** Line-level edits of a text file: drop, duplicate, swap lines, cut or salt one line. */
export function mutateLines(src: Uint8Array, r: Rng): Uint8Array {
  const l = Buffer.from(src).toString("utf8").split("\n");
  for (let n = 1 + r.int(4); n > 0 && l.length > 0; n--) {
    const i = r.int(l.length);
    const j = r.int(l.length);
    const cut = r.int(l[i].length + 1);
    switch (r.int(5)) {
      case 0:
        l.splice(i, 1);
        break;
      case 1:
        l.splice(i, 0, l[i]);
        break;
      case 2:
        [l[i], l[j]] = [l[j], l[i]];
        break;
      case 3:
        l[i] = l[i].slice(0, cut);
        break;
      default:
        l[i] = l[i].slice(0, cut) + r.text(30) + l[i].slice(cut);
    }
  }
  return new TextEncoder().encode(l.join("\n"));
}

/** A mutant of a file from a seed: JSON edits for JSON, line edits for text, byte edits for all. */
export function mutantOf(f: Fixture, seed: number): { bytes: Uint8Array; how: string } {
  const r = new Rng(seed);
  const kinds =
    f.json !== undefined ? ["json", "json", "bytes"] : isText(f.bytes) ? ["lines", "bytes"] : ["bytes"];
  const how = r.pick(kinds);
  let bytes: Uint8Array;
  if (how === "json") {
    const text = JSON.stringify(mutateJson(f.json, r));
    // Now and then the document is cut short as well.
    bytes = new TextEncoder().encode(r.int(6) === 0 ? text.slice(0, r.int(text.length + 1)) : text);
  } else if (how === "lines") bytes = mutateLines(f.bytes, r);
  else bytes = mutateBytes(f.bytes, r);
  return { bytes, how };
}

/** Cases as fast-check values: a fixture and a seed; the mutant is computed from them. */
export function mutantArb(pool: readonly Fixture[]): fc.Arbitrary<{ f: Fixture; seed: number }> {
  return fc.record({ f: fc.constantFrom(...pool), seed: fc.integer() });
}

/** Random bytes of up to `max` bytes, from a seed. */
export function randomBytesArb(max: number): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.integer(), fc.nat({ max })).map(([seed, n]) => new Rng(seed).bytes(n));
}

/** Whether bytes are UTF-8 text. */
export function isText(b: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(b);
    return !b.includes(0);
  } catch {
    return false;
  }
}

export { concat };

/** The four mutations the issue names, one at a time, for the CLI test. */
export type MutationKind = "truncate" | "flip" | "swap" | "types";

/** One named mutation of a file: JSON files get field swaps and wrong types, others byte or line edits. */
export function mutateAs(f: Fixture, kind: MutationKind, seed: number): Uint8Array {
  const r = new Rng(seed);
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  if (kind === "truncate")
    return f.bytes.slice(0, Math.max(0, Math.floor(f.bytes.length * (0.05 + 0.9 * (r.next() / 2 ** 32)))));
  if (kind === "flip") {
    const b = Uint8Array.from(f.bytes);
    for (let i = 0; i < 1 + r.int(8); i++) b[r.int(b.length)] ^= 1 << r.int(8);
    return b;
  }
  if (f.json !== undefined) {
    const tree = structuredClone(f.json) as Json;
    const all = () => paths(tree).filter((p) => p.length > 0);
    if (kind === "swap") {
      const leaves = all().filter((p) => typeof getAt(tree, p) !== "object");
      for (let i = 0; i < 3 && leaves.length > 1; i++) {
        const a = r.pick(leaves);
        const b = r.pick(leaves);
        const va = getAt(tree, a);
        setAt(tree, a, getAt(tree, b));
        setAt(tree, b, va);
      }
      return enc(tree);
    }
    for (let i = 0; i < 3 && all().length > 0; i++) {
      const p = r.pick(all());
      const v = getAt(tree, p);
      if (v === undefined) continue;
      const wrong: Json[] =
        typeof v === "string"
          ? [1, null, [], {}, true]
          : typeof v === "number"
            ? ["1", null, [], -1, 1e300]
            : ["x", 0, null];
      setAt(tree, p, r.pick(wrong));
    }
    return enc(tree);
  }
  if (isText(f.bytes)) return mutateLines(f.bytes, r);
  return mutateBytes(f.bytes, r);
}
