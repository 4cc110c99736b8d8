import assert from "node:assert/strict";
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY } from "../../ffi/libc.ts";
import { parseTmpfs } from "./tmpfs.ts";

Deno.test("--tmpfs is noexec, nosuid and nodev unless its options say otherwise, as docker's", () => {
  assert.deepEqual(parseTmpfs("/tmp"), { target: "/tmp", flags: MS_NOEXEC | MS_NOSUID | MS_NODEV, data: "" });
  assert.deepEqual(parseTmpfs("/run:exec,ro,size=64m,mode=1777"), {
    target: "/run",
    flags: MS_NOSUID | MS_NODEV | MS_RDONLY,
    data: "size=64m,mode=1777",
  });
  assert.equal(parseTmpfs("/x:suid,dev,rw").flags, MS_NOEXEC);
});

Deno.test("a bad --tmpfs is a one-line error naming it", () => {
  assert.throws(
    () => parseTmpfs("tmp"),
    /^UsageError: Invalid --tmpfs "tmp": the path must be absolute and not \/$/,
  );
  assert.throws(() => parseTmpfs("/"), /the path must be absolute and not \//);
  assert.throws(() => parseTmpfs("/a/../b"), /may not hold "\.\."/);
  assert.throws(() => parseTmpfs("/t:bogus"), /unknown option "bogus" \(known: ro, rw, .*size=/);
  assert.throws(() => parseTmpfs("/t:size=big"), /bad value in "size=big"/);
  assert.throws(() => parseTmpfs("/t:mode=9"), /bad value in "mode=9"/);
  assert.throws(() => parseTmpfs("/t:data=1,x"), /unknown option "data=1"/);
});
