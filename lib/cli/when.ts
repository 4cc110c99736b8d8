/**
 * The times `logs --since` and `--until` take, as docker's
 * GetTimestamp reads them: a Go duration before now (`10m`, `1h30m`,
 * `1.5h`), an RFC 3339 time (`2026-12-02T04:05:06Z`, fractions and an
 * offset allowed; without a zone, UTC; a date alone, or without seconds),
 * or Unix seconds (`1764648306.5`).
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** Go's duration units, in seconds. */
const UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, "µs": 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** A Go duration (`1h30m`, `-5s`), in seconds; null when it is not one. */
export function parseDuration(text: string): number | null {
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(text);
  if (!m) return null;
  let seconds = 0;
  for (const [, n, unit] of text.slice(m[1].length).matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) {
    seconds += Number(n) * UNITS[unit];
  }
  return m[1] === "-" ? -seconds : seconds;
}

/**
 * A `--since`/`--until` value as seconds since the epoch.
 *
 * @param flag the option's name, for the message
 * @throws {UsageError} `invalid value for "since": failed to parse value as time or duration: "X"`
 */
export function parseTimestamp(value: string, flag: string, now = Date.now() / 1000): number {
  const duration = parseDuration(value);
  if (duration !== null) return now - duration;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  const rfc = /^(\d{4}-\d\d-\d\d)(?:T(\d\d:\d\d)(:\d\d(?:\.\d+)?)?)?(Z|[-+]\d\d:\d\d)?$/.exec(value);
  if (rfc) {
    const [, date, hm = "00:00", sec = ":00", zone = "Z"] = rfc;
    const ms = Date.parse(`${date}T${hm}${sec}${zone}`);
    if (!Number.isNaN(ms)) {
      // Date keeps milliseconds; the log's microseconds come from the fraction itself
      const fraction = /\.(\d+)/.exec(sec)?.[1] ?? "";
      return Math.floor(ms / 1000) + Number(`0.${fraction || "0"}`);
    }
  }
  throw new UsageError(`invalid value for "${flag}": failed to parse value as time or duration: "${value}"`);
}
