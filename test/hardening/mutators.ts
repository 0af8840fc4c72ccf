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

/** Every path to a node of a JSON tree (the root is []). */
function paths(v: Json, at: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === "object") for (const k of Object.keys(v)) paths(v[k], [...at, k], out);
  return out;
}

function getAt(v: Json, p: (string | number)[]): Json {
  let x: Json = v;
  for (const k of p) x = (x as Record<string, Json>)[k as string];
  return x;
}

function setAt(root: Json, p: (string | number)[], value: Json | undefined): Json {
  if (p.length === 0) return value === undefined ? null : value;
  const parent = getAt(root, p.slice(0, -1)) as Record<string, Json> | Json[];
  const k = p[p.length - 1];
  if (Array.isArray(parent)) {
    if (value === undefined) parent.splice(k as number, 1);
    else parent[k as number] = value;
  } else if (value === undefined) delete parent[k as string];
  else parent[k as string] = value;
  return root;
}

/** Values of the wrong type, and the values that break parsers most often. */
const nasty: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
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
  ),
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
);

/** One edit of a JSON tree: which node (an index into its paths) and what happens to it. */
const jsonEdit = fc.record({
  node: fc.nat(),
  other: fc.nat(),
  op: fc.constantFrom("delete", "replace", "swap", "copy", "stringify", "truncate-string", "wrap"),
  value: nasty,
  cut: fc.nat(),
});

/** Applies edits to a deep copy of a JSON tree. */
export function mutateJson(tree: unknown, edits: fc.RecordValue<typeof jsonEdit>[]): Json {
  let root = structuredClone(tree) as Json;
  for (const e of edits) {
    const all = paths(root);
    const p = all[e.node % all.length];
    const q = all[e.other % all.length];
    const here = getAt(root, p);
    switch (e.op) {
      case "delete":
        root = setAt(root, p, undefined);
        break;
      case "replace":
        root = setAt(root, p, e.value);
        break;
      case "swap": {
        // Swapping a node with one of its own ancestors would make a cycle: only swap leaves' values.
        const there = getAt(root, q);
        if (typeof here !== "object" && typeof there !== "object" && p.length > 0 && q.length > 0) {
          root = setAt(root, p, there);
          root = setAt(root, q, here);
        }
        break;
      }
      case "copy":
        if (p.length > 0) root = setAt(root, p, structuredClone(getAt(root, q)));
        break;
      case "stringify":
        root = setAt(root, p, JSON.stringify(here) ?? "");
        break;
      case "truncate-string":
        if (typeof here === "string") root = setAt(root, p, here.slice(0, e.cut % (here.length + 1)));
        break;
      case "wrap":
        root = setAt(root, p, [here]);
        break;
    }
  }
  return root;
}

/** A mutated JSON document as bytes (sometimes cut short). */
export function jsonMutant(tree: unknown): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.array(jsonEdit, { minLength: 1, maxLength: 4 }), fc.option(fc.nat(), { freq: 6 }))
    .map(([edits, cut]) => {
      const text = JSON.stringify(mutateJson(tree, edits));
      const t = cut === null ? text : text.slice(0, cut % (text.length + 1));
      return new TextEncoder().encode(t);
    });
}

/** One byte-level edit: flip, set, delete or duplicate a range, or cut the file. */
const byteEdit = fc.record({
  at: fc.nat(),
  len: fc.integer({ min: 1, max: 64 }),
  op: fc.constantFrom("flip", "set", "delete", "dup", "truncate", "insert"),
  byte: fc.integer({ min: 0, max: 255 }),
  bytes: fc.uint8Array({ maxLength: 32 }),
});

/** Applies byte edits to a copy. */
export function mutateBytes(src: Uint8Array, edits: fc.RecordValue<typeof byteEdit>[]): Uint8Array {
  let b = Uint8Array.from(src);
  for (const e of edits) {
    if (b.length === 0) return b;
    const at = e.at % b.length;
    const end = Math.min(b.length, at + e.len);
    switch (e.op) {
      case "flip":
        b[at] ^= 1 << (e.byte % 8);
        break;
      case "set":
        b.fill(e.byte, at, end);
        break;
      case "delete":
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(end)]);
        break;
      case "dup":
        b = Uint8Array.from([...b.subarray(0, end), ...b.subarray(at, end), ...b.subarray(end)]);
        break;
      case "truncate":
        b = b.slice(0, at);
        break;
      case "insert":
        b = Uint8Array.from([...b.subarray(0, at), ...e.bytes, ...b.subarray(at)]);
        break;
    }
  }
  return b;
}

/** A byte-mutated copy of a file. */
export function byteMutant(src: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.array(byteEdit, { minLength: 1, maxLength: 4 }).map((edits) => mutateBytes(src, edits));
}

/** Line-level edits of a text file: drop, duplicate, swap lines, or mangle one line. */
export function lineMutant(src: Uint8Array): fc.Arbitrary<Uint8Array> {
  const text = Buffer.from(src).toString("utf8");
  const lines = text.split("\n");
  return fc
    .array(
      fc.record({
        i: fc.nat(),
        j: fc.nat(),
        op: fc.constantFrom("drop", "dup", "swap", "cut", "junk"),
        junk: fc.string({ maxLength: 30 }),
      }),
      { minLength: 1, maxLength: 4 },
    )
    .map((edits) => {
      const l = [...lines];
      for (const e of edits) {
        if (l.length === 0) break;
        const i = e.i % l.length;
        const j = e.j % l.length;
        if (e.op === "drop") l.splice(i, 1);
        else if (e.op === "dup") l.splice(i, 0, l[i]);
        else if (e.op === "swap") [l[i], l[j]] = [l[j], l[i]];
        else if (e.op === "cut") l[i] = l[i].slice(0, e.j % (l[i].length + 1));
        else l[i] = l[i].slice(0, e.j % (l[i].length + 1)) + e.junk + l[i].slice(e.j % (l[i].length + 1));
      }
      return new TextEncoder().encode(l.join("\n"));
    });
}

/** Any mutation that suits the file: JSON edits for JSON, line edits for text, byte edits for all. */
export function anyMutant(f: Fixture): fc.Arbitrary<Uint8Array> {
  const options: fc.Arbitrary<Uint8Array>[] = [byteMutant(f.bytes)];
  if (f.json !== undefined) options.push(jsonMutant(f.json), jsonMutant(f.json));
  else if (isText(f.bytes)) options.push(lineMutant(f.bytes));
  return fc.oneof(...options);
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
