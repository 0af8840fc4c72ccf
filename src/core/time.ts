import { UsageError } from "./errors.js";

/** Parses `--at`: unix seconds (possibly fractional) or an ISO 8601 time. Returns unix milliseconds. */
export function parseTime(value: string): number {
  const v = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const ms = Date.parse(v);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new UsageError(`invalid time "${v.slice(0, 40)}": give unix seconds or an ISO 8601 time`);
}

/** YYYY-MM-DD in UTC, the date format of `used`, `printed` and file names. */
export function formatDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** ISO 8601 to the second in UTC, the format of `verified:`. */
export function formatInstant(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
