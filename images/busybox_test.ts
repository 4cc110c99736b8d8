import assert from "node:assert/strict";
import { isStaticElf } from "./busybox.ts";

Deno.test("a static ELF is told from a dynamic one by its PT_INTERP header", async () => {
  assert.equal(isStaticElf(await Deno.readFile("/bin/busybox")), true, "busybox-static's binary");
  assert.equal(isStaticElf(await Deno.readFile("/bin/sh")), false, "dash is dynamically linked");
  assert.equal(isStaticElf(new TextEncoder().encode("#!/bin/sh\n".padEnd(128))), false);
});
