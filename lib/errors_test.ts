import assert from "node:assert/strict";
import { describeError } from "./errors.ts";
import { classify, SyscallError } from "../ffi/errors.ts";

Deno.test("an error sorted into its errno class reads as one line, its cause not repeated", () => {
  const sorted = classify(new SyscallError("mount", 16, "/m"));
  const e = new Error('Cannot mount "/m"', { cause: sorted });
  assert.equal(describeError(e), 'Cannot mount "/m": mount "/m": EBUSY (Device or resource busy)');
});

Deno.test("an error reads as its message, then each cause after a colon", () => {
  const e = new Error("outer", { cause: new Error("middle", { cause: "inner" }) });
  assert.equal(describeError(e), "outer: middle: inner");
});
