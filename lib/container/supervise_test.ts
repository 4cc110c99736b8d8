import assert from "node:assert/strict";
import { parseSignal } from "../host/proc.ts";
import { findCommand } from "../host/spawn.ts";
import { logTime, parseLog, SUPERVISE, supervisorArgv } from "./supervise.ts";
import { BUSYBOX } from "../host/tools.ts";
import { exists } from "../store/store.ts";

Deno.test("log lines keep their time and stream; a line cut short by a crash is skipped", () => {
  const log = "1795829482.018350 stderr err 1\n1795829482.020022 stdout tick 1\n1795829482.2 std";
  assert.deepEqual(parseLog(log), [
    { time: 1795829482.01835, stream: "stderr", text: "err 1" },
    { time: 1795829482.020022, stream: "stdout", text: "tick 1" },
  ]);
  assert.deepEqual(parseLog("1.5 stdout \n"), [{ time: 1.5, stream: "stdout", text: "" }], "an empty line");
});

Deno.test("log times print as RFC 3339 with microseconds", () => {
  assert.equal(logTime(0.000001), "1970-01-01T00:00:00.000001Z");
  assert.equal(logTime(1795829482.25), "2026-11-28T01:31:22.250000Z");
});

Deno.test({
  name: "the supervisor's script reads each argument as what it is, then runs the keeper's argv",
  ignore: !exists(BUSYBOX),
  async fn() {
    const keeper = ["k", "x y"];
    const argv = supervisorArgv(
      { dir: "/d", runtime: "/r", lock: "/l", trash: "/t", autoRemove: true, cgroups: ["/a", "/b"] },
      keeper,
    );
    const [program, ...args] = argv;
    assert.equal(program, BUSYBOX, "the host's static busybox");
    assert.deepEqual(args.slice(0, 2), ["sh", "-c"]);
    assert.ok(args.includes(SUPERVISE));
    // The script's own first lines name its arguments: run them, then print the names.
    const head = SUPERVISE.slice(0, SUPERVISE.indexOf("shift 6") + "shift 6".length);
    const probe =
      `${head}\nprintf '%s\\n' "dir=$dir" "run=$run" "lock=$lock" "trash=$trash" "rm=$rm" "cgroups=$cgroups" "$@"`;
    const out = await new Deno.Command(program, {
      args: args.map((a) => a === SUPERVISE ? probe : a),
      stdout: "piped",
    }).output();
    assert.equal(
      new TextDecoder().decode(out.stdout),
      ["dir=/d", "run=/r", "lock=/l", "trash=/t", "rm=1", "cgroups=/a /b", ...keeper].join("\n") + "\n",
    );
  },
});

Deno.test("signals are named as the user likes", () => {
  assert.equal(parseSignal("TERM"), "SIGTERM");
  assert.equal(parseSignal("sigkill"), "SIGKILL");
  assert.equal(parseSignal("1"), "SIGHUP");
  assert.equal(parseSignal("BOGUS"), null);
});

Deno.test("a command is found along PATH, or left as named", () => {
  assert.equal(findCommand("sh", "/nonexistent:/bin"), "/bin/sh");
  assert.equal(findCommand("no-such-command-here", "/bin"), "no-such-command-here");
});
