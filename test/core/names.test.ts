import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UsageError, UserError } from "../../src/core/errors.js";
import {
  deriveName,
  findCaseCollision,
  freeName,
  matchQueries,
  matchQuery,
  validateName,
} from "../../src/core/names.js";
import { formatDate, formatInstant, parseTime } from "../../src/core/time.js";

describe("validateName", () => {
  it.each(["github", "github/alice", "a b/c@d.e", "Bücher/jörg", "x-1/y_2"])("accepts %j", (n) => {
    expect(validateName(n)).toBe(n);
  });
  it.each([
    ["", /empty/],
    ["../x", /"\.\."/],
    ["a/../b", /"\.\."/],
    ["/etc/passwd", /absolute/],
    ["C:\\x", /absolute/],
    ["a\\b", /backslash/],
    ["a//b", /empty path segment/],
    ["a/", /empty path segment/],
    ["./a", /empty path segment/],
    [".git/config", /start with "\."/],
    ["a/.gpg-id", /start with "\."/],
    ["a\nb", /control/],
    ["a\u0000b", /control/],
    ["x".repeat(201), /longer than 200/],
  ])("refuses %j", (n, msg) => {
    expect(() => validateName(n)).toThrow(UserError);
    expect(() => validateName(n)).toThrow(msg);
  });
});

describe("deriveName", () => {
  it.each([
    ["GitHub", "alice@example.com", "github/alice@example.com"],
    ["Big Bank", "John Smith", "big-bank/john-smith"],
    ["", "alice", "alice"],
    ["ACME", "", "acme"],
    ["", "", "unnamed"],
    ["a/b", "c:d", "a-b/c-d"],
    ["..", "..", "unnamed"],
    [" .hidden ", "x", "hidden/x"],
  ])("(%j, %j) -> %j", (issuer, account, want) => {
    expect(deriveName(issuer, account)).toBe(want);
  });
  it("always gives a valid name (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 300 }), (i, a) => {
        expect(validateName(deriveName(i, a))).toBeTruthy();
      }),
      { numRuns: 500 },
    );
  });
});

describe("matchQuery", () => {
  const names = ["github/alice", "github/bob", "gitlab/alice", "aws/root", "aws"];
  it("an exact name wins even when it is part of others", () => {
    expect(matchQuery(names, "aws")).toBe("aws");
  });
  it("a unique case-insensitive part", () => {
    expect(matchQuery(names, "BOB")).toBe("github/bob");
    expect(matchQuery(names, "lab/")).toBe("gitlab/alice");
  });
  it("none is an error that says how to list", () => {
    expect(() => matchQuery(names, "nope")).toThrow(/no entry matches "nope"/);
  });
  it("several is an error that lists them", () => {
    expect(() => matchQuery(names, "alice")).toThrow(/matches 2 entries: github\/alice, gitlab\/alice/);
  });
  it("matchQueries: union, none selects all, a miss is an error", () => {
    expect(matchQueries(names, [])).toEqual(names);
    expect(matchQueries(names, ["alice", "aws/root"])).toEqual(["github/alice", "gitlab/alice", "aws/root"]);
    expect(() => matchQueries(names, ["zzz"])).toThrow(UserError);
  });
});

describe("case collisions and free names", () => {
  it("findCaseCollision", () => {
    expect(findCaseCollision("GitHub/Alice", ["github/alice"])).toBe("github/alice");
    expect(findCaseCollision("github/alice", ["github/alice"])).toBeUndefined();
    expect(findCaseCollision("x", ["y"])).toBeUndefined();
  });
  it("freeName", () => {
    expect(freeName("a", [])).toBe("a");
    expect(freeName("a", ["A", "a-2"])).toBe("a-3");
  });
});

describe("time", () => {
  it.each([
    ["59", 59_000],
    ["1111111111", 1_111_111_111_000],
    ["1.5", 1500],
    ["2009-02-13T23:31:30Z", 1_234_567_890_000],
    ["2009-02-13T23:31:30+00:00", 1_234_567_890_000],
  ])("parseTime(%j)", (v, ms) => {
    expect(parseTime(v)).toBe(ms);
  });
  it.each(["", "yesterday", "12:00", "2009-13-45"])("parseTime(%j) is a usage error", (v) => {
    expect(() => parseTime(v)).toThrow(UsageError);
  });
  it("formatDate and formatInstant", () => {
    expect(formatDate(1_234_567_890_000)).toBe("2009-02-13");
    expect(formatInstant(1_234_567_890_123)).toBe("2009-02-13T23:31:30Z");
  });
});
