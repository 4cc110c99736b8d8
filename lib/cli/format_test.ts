import assert from "node:assert/strict";
import { escapeControls, humanDuration, humanSize, table, timeAgo } from "./format.ts";

Deno.test("durations read as docker's", () => {
  assert.equal(humanDuration(500), "Less than a second");
  assert.equal(humanDuration(1_000), "1 second");
  assert.equal(humanDuration(45_000), "45 seconds");
  assert.equal(humanDuration(90_000), "About a minute");
  assert.equal(humanDuration(3 * 60_000), "3 minutes");
  assert.equal(humanDuration(3_600_000), "About an hour");
  assert.equal(humanDuration(5 * 3_600_000), "5 hours");
  assert.equal(humanDuration(3 * 86_400_000), "3 days");
  assert.equal(timeAgo("2026-01-01T00:00:00Z", Date.parse("2026-01-01T00:02:00Z")), "2 minutes ago");
});

Deno.test("sizes use SI units with three significant digits", () => {
  assert.equal(humanSize(999), "999B");
  assert.equal(humanSize(2_140_160), "2.14MB");
  assert.equal(humanSize(1_000_000_000), "1GB");
});

Deno.test("tables pad every column but the last", () => {
  assert.equal(table(["A", "BB"], [["long", "x"]]), "A      BB\nlong   x");
});

Deno.test("with minWidth, a column and its gap take at least that much, as Go's tabwriter in docker top", () => {
  assert.equal(
    table(["UID", "PID", "CMD"], [["root", "12345678901234567890", "sleep 1"]], { minWidth: 20 }),
    "UID                 PID                    CMD\nroot                12345678901234567890   sleep 1",
  );
});

Deno.test("table cells escape control characters, and columns line up on the escaped text", () => {
  assert.equal(
    table(["CMD", "NAME"], [["echo \x1b[31mred\x07", "a"], ["ok", "b"]]),
    [
      `CMD${" ".repeat(17)}   NAME`,
      "echo \\x1b[31mred\\x07   a", // 20 characters, as escaped
      `ok${" ".repeat(18)}   b`,
    ].join("\n"),
  );
  assert.equal(table(["A"], [["line\nbreak\r\t"]]), "A\nline\\x0abreak\\x0d\\x09");
  // deno-lint-ignore no-control-regex
  assert.ok(!/[\x00-\x09\x0b-\x1f\x7f-\x9f]/.test(table(["H\x1b"], [["\x9b2J\x7f\x00"]])));
});

Deno.test("C1 controls, bidi overrides and line separators are escaped; other text is kept", () => {
  assert.equal(escapeControls("\x9b31m"), "\\x9b31m");
  assert.equal(escapeControls("abc\u202edcba"), "abc\\u202edcba");
  assert.equal(escapeControls("a\u2028b"), "a\\u2028b");
  assert.equal(escapeControls("héllo wörld ✓ 日本"), "héllo wörld ✓ 日本");
});
