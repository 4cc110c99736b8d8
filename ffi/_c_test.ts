import assert from "node:assert/strict";
import { ERRNO_SYMBOL, lazyLibc } from "./_c.ts";

Deno.test("errno is read as the failed call left it, even when the call was the first bound", () => {
  for (let i = 0; i < 20; i++) {
    // a fresh table each time: close is bound on this call, errno's reader with it
    const libc = lazyLibc({ close: { parameters: ["i32"], result: "i32" }, ...ERRNO_SYMBOL } as const);
    assert.equal(libc().close(-1), -1);
    assert.equal(libc.errno(), 9, "EBADF");
  }
});
