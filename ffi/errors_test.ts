import assert from "node:assert/strict";
import {
  AlreadyExists,
  Busy,
  classify,
  ErrnoError,
  InvalidArgument,
  NotFound,
  PermissionDenied,
  SyscallError,
} from "./errors.ts";
import { openPath } from "./libc.ts";

Deno.test("a syscall error names the call, the path and the errno", () => {
  const e = new SyscallError("pivot_root", 22, "/var/lib/skiff/x");
  assert.equal(e.message, 'pivot_root "/var/lib/skiff/x": EINVAL (Invalid argument)');
  assert.equal(e.code, "EINVAL");
  assert.equal(e.errno, 22);
  assert.equal(e.syscall, "pivot_root");
});

Deno.test("an errno missing from the table still has a code", () => {
  const e = new SyscallError("umount2", 999);
  assert.equal(e.code, "E999");
  assert.equal(e.message, "umount2: E999 (Unknown error)");
  assert.equal(new SyscallError("umount2", 16).code, "EBUSY");
});

Deno.test("errno codes are sorted into a few classes, the syscall error kept as the cause", () => {
  const cases: [number, typeof ErrnoError][] = [
    [2, NotFound],
    [17, AlreadyExists],
    [1, PermissionDenied],
    [13, PermissionDenied],
    [16, Busy],
    [22, InvalidArgument],
  ];
  for (const [errno, Class] of cases) {
    const original = new SyscallError("mount", errno, "/x");
    const sorted = classify(original);
    assert.ok(sorted instanceof Class, `${original.code} is a ${Class.name}`);
    assert.equal(sorted.cause, original);
    assert.equal(sorted.code, original.code);
    assert.equal(sorted.message, original.message);
    assert.equal(sorted.name, Class.name);
  }
});

Deno.test("an errno with no class, a sorted error and a non-error stay as they are", () => {
  const noClass = new SyscallError("mount", 19, "/x"); // ENODEV
  assert.equal(classify(noClass), noClass);
  const sorted = classify(new SyscallError("mount", 16, "/x"));
  assert.equal(classify(sorted), sorted);
  assert.equal(classify("text"), "text");
  assert.equal(classify(new Error("plain")) instanceof ErrnoError, false);
});

Deno.test("Deno's own errors are sorted by their code too: EBUSY, which Deno has no class for", () => {
  const busy = Object.assign(new Error("Device or resource busy (os error 16)"), { code: "EBUSY" });
  assert.ok(classify(busy) instanceof Busy);
  let missing: unknown;
  try {
    Deno.readFileSync("/nonexistent/skiff-errors-test");
  } catch (e) {
    missing = e;
  }
  assert.ok(classify(missing) instanceof NotFound);
});

Deno.test("a failed libc call throws its class, with the SyscallError as the cause", () => {
  const path = "/nonexistent/skiff-errors-test";
  assert.throws(() => openPath(path), (e: unknown) => {
    assert.ok(e instanceof NotFound, String(e));
    assert.ok(e.cause instanceof SyscallError);
    assert.equal(e.cause.syscall, "open");
    assert.equal(e.message, `open "${path}": ENOENT (No such file or directory)`);
    return true;
  });
});
