import assert from "node:assert/strict";
import { errnoCode, SyscallError } from "./errors.ts";

Deno.test("a syscall error names the call, the path and the errno", () => {
  const e = new SyscallError("pivot_root", 22, "/var/lib/skiff/x");
  assert.equal(e.message, 'pivot_root "/var/lib/skiff/x": EINVAL (Invalid argument)');
  assert.equal(e.code, "EINVAL");
  assert.equal(e.errno, 22);
  assert.equal(e.syscall, "pivot_root");
});

Deno.test("an errno missing from the table still has a code", () => {
  assert.equal(errnoCode(16), "EBUSY");
  assert.equal(errnoCode(999), "E999");
  assert.equal(new SyscallError("umount2", 999).message, "umount2: E999 (Unknown error)");
});
