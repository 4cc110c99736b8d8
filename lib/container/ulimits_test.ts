import assert from "node:assert/strict";
import { parseUlimits, rlimitsOf } from "./ulimits.ts";

Deno.test("--ulimit: docker's names, the hard limit the soft one when absent, -1 unlimited, the last of a name kept", () => {
  const limits = parseUlimits(["nofile=1024:2048", "core=-1", "nproc=10", "nofile=512:4096"]);
  assert.deepEqual(limits, [
    { Name: "nofile", Soft: 512, Hard: 4096 },
    { Name: "core", Soft: -1, Hard: -1 },
    { Name: "nproc", Soft: 10, Hard: 10 },
  ]);
  assert.deepEqual(rlimitsOf(limits), [[7, 512, 4096], [4, -1, -1], [6, 10, 10]]);
  assert.deepEqual(parseUlimits(["stack=8192:-1"]), [{ Name: "stack", Soft: 8192, Hard: -1 }]);
});

Deno.test("--ulimit refuses unknown names, non-numbers, and a soft limit above the hard one", () => {
  assert.throws(
    () => parseUlimits(["files=1"]),
    /Invalid --ulimit "files=1": use NAME=SOFT\[:HARD\], NAME one of cpu,/,
  );
  assert.throws(() => parseUlimits(["nofile"]), /Invalid --ulimit "nofile"/);
  for (const bad of ["nofile=a", "nofile=1:2:3", "nofile=-2", "nofile=1.5", "nofile="]) {
    assert.throws(() => parseUlimits([bad]), /SOFT and HARD are numbers/, bad);
  }
  assert.throws(() => parseUlimits(["nofile=5:4"]), /the soft limit must not exceed the hard limit/);
  assert.throws(() => parseUlimits(["nofile=-1:4"]), /the soft limit must not exceed the hard limit/);
});
