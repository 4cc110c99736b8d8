import assert from "node:assert/strict";
import { formatBytes, plainProgress, terminalProgress } from "./progress.ts";

Deno.test("sizes print as podman prints them", () => {
  assert.equal(formatBytes(512), "512B");
  assert.equal(formatBytes(1536), "1.5KiB");
  assert.equal(formatBytes(3 * 1024 * 1024), "3.0MiB");
});

Deno.test("on a terminal each blob has one line, redrawn in place with bytes and rate", () => {
  let out = "";
  let clock = 0;
  const p = terminalProgress((t) => out += t, () => clock);
  p.start("a", "Copying blob aaaa", 2 << 20);
  p.start("b", "Copying blob bbbb", 1 << 20);
  out = "";
  clock = 1000;
  p.update("a", 1 << 20);
  assert.equal(
    out,
    "\x1b[2A\r\x1b[2KCopying blob aaaa 1.0MiB / 2.0MiB 1.0MiB/s\n\r\x1b[2KCopying blob bbbb 0B / 1.0MiB 0B/s\n",
  );
  out = "";
  clock = 1050;
  p.update("a", 1.5 * (1 << 20));
  assert.equal(out, "", "no redraw within 100 ms");
  p.done("b");
  assert.match(out, /Copying blob bbbb 1\.0MiB done\n$/);
  p.skipped("Copying blob cccc");
  // deno-lint-ignore no-control-regex
  assert.match(out, /\x1b\[2A.*Copying blob cccc skipped: already exists\n$/s);
});

Deno.test("on a narrow terminal each line is cut to its width, so a redraw never lands on a wrapped row", () => {
  let out = "";
  const p = terminalProgress((t) => out += t, () => 0, () => 20);
  p.start("a", "Copying blob aaaaaaaaaaaa", 2 << 20);
  assert.equal(
    out,
    "\r\x1b[2KCopying blob aaaaaa\n",
    "19 of 20 columns: the last would wrap on some terminals",
  );
});

Deno.test("off a terminal, plain lines: one per blob started or skipped", () => {
  const lines: string[] = [];
  const p = plainProgress((l) => lines.push(l));
  p.line("Pulling x");
  p.start("a", "Copying blob aaaa", 2048);
  p.update("a", 1024);
  p.done("a");
  p.skipped("Copying blob bbbb");
  assert.deepEqual(lines, [
    "Pulling x",
    "Copying blob aaaa (2.0KiB)",
    "Copying blob bbbb skipped: already exists",
  ]);
});
