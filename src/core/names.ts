import { UserError } from "./errors.js";

/**
 * Checks an entry name given by a user or derived from a file: relative, no `..` or `.`
 * segments, no hidden segments (`.git`, `.gpg-id`), no NUL or control characters.
 */
export function validateName(name: string): string {
  const show = JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name);
  if (name === "") throw new UserError("invalid name: it is empty");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  if (/[\u0000-\u001f\u007f]/.test(name))
    throw new UserError(`invalid name ${show}: it holds a control character`);
  if (name.startsWith("/") || /^[A-Za-z]:[\\/]/.test(name))
    throw new UserError(`invalid name ${show}: it is an absolute path`);
  if (name.includes("\\")) throw new UserError(`invalid name ${show}: it holds a backslash`);
  const segments = name.split("/");
  for (const s of segments) {
    if (s === "..") throw new UserError(`invalid name ${show}: ".." is not allowed`);
    if (s === "" || s === ".") throw new UserError(`invalid name ${show}: it has an empty path segment`);
    if (s.startsWith(".")) throw new UserError(`invalid name ${show}: a segment may not start with "."`);
    if (s.length > 200) throw new UserError(`invalid name ${show}: a segment is longer than 200 characters`);
  }
  return name;
}

/** Makes one path segment from free text: lower case, spaces to dashes, nothing unsafe. */
function safeSegment(s: string): string {
  return (
    s
      .normalize("NFC")
      .toLowerCase()
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are stripped
      .replace(/[\u0000-\u001f\u007f/\\:*?"<>|]+/g, "-")
      .replace(/\s+/g, "-")
      .replace(/-{2,}/g, "-")
      .replace(/^[-.]+|[-.]+$/g, "")
      .slice(0, 100)
  );
}

/** The default entry name for an account: `issuer/account`, made safe as a path. */
export function deriveName(issuer: string, account: string): string {
  const parts = [safeSegment(issuer), safeSegment(account)].filter((p) => p !== "");
  return parts.length > 0 ? parts.join("/") : "unnamed";
}

/** The first folder of `name` whose spelling differs only in case from a folder of `other` ("github/"), if any. */
function folderClash(name: string, other: string): string | undefined {
  const a = name.split("/");
  const b = other.split("/");
  for (let i = 0; i < a.length - 1 && i < b.length - 1; i++) {
    if (a[i] === b[i]) continue;
    return a[i].toLowerCase() === b[i].toLowerCase() ? `${b.slice(0, i + 1).join("/")}/` : undefined;
  }
  return undefined;
}

/**
 * What `name` would collide with on a case-insensitive file system (macOS, Windows): an entry
 * whose name differs only in case, or a folder ("github/" for "GitHub/alice"), else undefined.
 */
export function findCaseCollision(name: string, existing: readonly string[]): string | undefined {
  const folded = name.toLowerCase();
  for (const n of existing) {
    if (n !== name && n.toLowerCase() === folded) return n;
    const folder = folderClash(name, n);
    if (folder) return folder;
  }
  return undefined;
}

/** `name` with its folders spelled as existing names spell them ("GitHub/x" -> "github/x"). */
function alignFolders(name: string, existing: readonly string[]): string {
  let out = name;
  // One folder level per pass: "Work/GitHub/x" may need both of its folders respelled.
  for (let pass = out.split("/").length; pass > 0; pass--) {
    const n = existing.find((e) => folderClash(out, e));
    if (!n) break;
    const folder = folderClash(out, n) as string;
    out =
      folder +
      out
        .split("/")
        .slice(folder.split("/").length - 1)
        .join("/");
  }
  return out;
}

/**
 * The first of `name`, `name-2`, `name-3`… that is not taken (case-insensitively), with its
 * folders spelled as the existing ones, so that no two names collide on a case-insensitive disk.
 */
export function freeName(name: string, existing: readonly string[]): string {
  const base = alignFolders(name, existing);
  const taken = new Set(existing.map((n) => n.toLowerCase()));
  if (!taken.has(base.toLowerCase())) return base;
  for (let i = 2; ; i++) {
    const candidate = `${base}-${i}`;
    if (!taken.has(candidate.toLowerCase())) return candidate;
  }
}

/**
 * Resolves a QUERY against entry names: an exact name wins; otherwise a case-insensitive part
 * of a name that matches exactly one entry. None or several matches are a UserError.
 */
export function matchQuery(names: readonly string[], query: string): string {
  if (names.includes(query)) return query;
  const q = query.toLowerCase();
  const hits = names.filter((n) => n.toLowerCase().includes(q));
  if (hits.length === 1) return hits[0];
  if (hits.length === 0) throw new UserError(`no entry matches "${query}" (see: sparekey list)`);
  const shown = hits.slice(0, 10).join(", ");
  throw new UserError(
    `"${query}" matches ${hits.length} entries: ${shown}${hits.length > 10 ? ", …" : ""}; give more of the name`,
  );
}

/** All names that a QUERY selects, for commands that take several (export, card): none is an error. */
export function matchQueries(names: readonly string[], queries: readonly string[]): string[] {
  if (queries.length === 0) return [...names];
  const out = new Set<string>();
  for (const query of queries) {
    if (names.includes(query)) {
      out.add(query);
      continue;
    }
    const q = query.toLowerCase();
    const hits = names.filter((n) => n.toLowerCase().includes(q));
    if (hits.length === 0) throw new UserError(`no entry matches "${query}" (see: sparekey list)`);
    for (const h of hits) out.add(h);
  }
  return [...out];
}
