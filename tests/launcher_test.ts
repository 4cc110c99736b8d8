/**
 * The launcher's own logic, run with sh: what it takes from run's arguments
 * before any Deno starts, held to the CLI's parser.
 */

import assert from "node:assert/strict";
import { CONTAINER_VERBS } from "../lib/cli/container.ts";

const LAUNCHER = Deno.readTextFileSync(new URL("../lib/container/launcher.sh", import.meta.url));

/** The launcher's shell text from the line starting with `from` up to the one starting with `to`. */
function section(from: string, to: string): string {
  const start = LAUNCHER.indexOf(`\n${from}`);
  const end = LAUNCHER.indexOf(`\n${to}`, start);
  assert.ok(start >= 0 && end > start, `launcher.sh has "${from}" before "${to}"`);
  return LAUNCHER.slice(start, end);
}

/** Whether the launcher's skiff_tty finds -t in `args` (run's arguments after the verb). */
function tty(args: string[]): boolean {
  const out = new Deno.Command("sh", {
    args: ["-c", `${section("SKIFF_RUN_VALUES=", "skiff_inside()")}\nskiff_tty "$@"`, "sh", ...args],
  }).outputSync();
  return out.code === 0;
}

Deno.test("the launcher knows every option of run that takes a value, as the CLI's parser does", () => {
  const values = CONTAINER_VERBS.run.options.filter((o) => o.kind !== "flag");
  const long = section("SKIFF_RUN_VALUES=", "SKIFF_RUN_SHORT_VALUES=").match(/"([^"]*)"/)![1].split(" ");
  assert.deepEqual(long.sort(), values.map((o) => o.long).sort());
  const short = section("SKIFF_RUN_SHORT_VALUES=", "skiff_tty()").trim().split("=")[1];
  assert.deepEqual([...short].sort(), values.flatMap((o) => o.short ?? []).sort());
});

Deno.test("the launcher finds -t among run's own options only, as the CLI's parser would", () => {
  for (
    const args of [
      "-it busybox sh",
      "--tty busybox",
      "-e X -t busybox",
      "--name=x -dit busybox",
      "-v a:b -ti x",
    ]
  ) {
    assert.equal(tty(args.split(" ")), true, args);
  }
  // a value that looks like -t, and a -t of the command's own
  for (
    const args of [
      "-i busybox sh",
      "-e -t busybox",
      "-eX busybox -t",
      "--name -t busybox",
      "--rm busybox ls -t",
    ]
  ) {
    assert.equal(tty(args.split(" ")), false, args);
  }
});
