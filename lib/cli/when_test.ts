import assert from "node:assert/strict";
import { parseDuration, parseTimestamp } from "./when.ts";
import { UsageError } from "../errors.ts";

Deno.test("Go durations, as docker reads --since 10m", () => {
  assert.equal(parseDuration("10m"), 600);
  assert.equal(parseDuration("1h30m"), 5400);
  assert.equal(parseDuration("1.5h"), 5400);
  assert.equal(parseDuration("300ms"), 0.3);
  assert.equal(parseDuration("-5s"), -5);
  assert.equal(parseDuration("10"), null, "a number alone is Unix seconds, not a duration");
  assert.equal(parseDuration("10x"), null);
});

Deno.test("--since and --until: a duration before now, RFC 3339, or Unix seconds", () => {
  const now = 1_800_000_000;
  assert.equal(parseTimestamp("10m", "since", now), now - 600);
  assert.equal(parseTimestamp("2026-12-02T04:05:06Z", "since"), Date.UTC(2026, 11, 2, 4, 5, 6) / 1000);
  assert.equal(
    parseTimestamp("2026-12-02T04:05:06.250001Z", "since"),
    Date.UTC(2026, 11, 2, 4, 5, 6) / 1000 + 0.250001,
  );
  assert.equal(parseTimestamp("2026-12-02T06:05:06+02:00", "since"), Date.UTC(2026, 11, 2, 4, 5, 6) / 1000);
  assert.equal(parseTimestamp("2026-12-02", "until"), Date.UTC(2026, 11, 2) / 1000);
  assert.equal(parseTimestamp("2026-12-02T04:05", "until"), Date.UTC(2026, 11, 2, 4, 5) / 1000);
  assert.equal(parseTimestamp("1764648306.5", "until"), 1764648306.5);
  assert.throws(
    () => parseTimestamp("yesterday", "since"),
    (e: unknown) =>
      e instanceof UsageError &&
      e.message === 'invalid value for "since": failed to parse value as time or duration: "yesterday"',
  );
});
