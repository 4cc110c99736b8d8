import assert from "node:assert/strict";
import { treeSize } from "./prune.ts";

Deno.test("treeSize counts files' bytes, a hard-linked file once, and no directory's own size", async () => {
  const dir = await Deno.makeTempDir({ prefix: "skiff-size-" });
  try {
    Deno.mkdirSync(`${dir}/sub/deeper`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/a`, "12345");
    Deno.writeTextFileSync(`${dir}/sub/deeper/b`, "123");
    Deno.linkSync(`${dir}/a`, `${dir}/sub/a-again`);
    Deno.symlinkSync("a", `${dir}/link`); // a symlink's own size: its target's name, 1 byte
    assert.equal(treeSize(dir), 5 + 3 + 1);
    assert.equal(treeSize(`${dir}/missing`), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
