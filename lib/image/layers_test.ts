import assert from "node:assert/strict";
import { extractLayer, sha256File } from "./layers.ts";
import { Store } from "../store/store.ts";

/**
 * Runs `fn` with a fake `name` first on PATH, a script that fails as
 * `script` says: the helper's failure is then certain, and its words known.
 */
async function withFailingTool(name: string, script: string, fn: () => Promise<void>): Promise<void> {
  const bin = await Deno.makeTempDir({ prefix: "skiff-fake-" });
  const path = Deno.env.get("PATH") ?? "/usr/bin:/bin";
  try {
    await Deno.writeTextFile(`${bin}/${name}`, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    Deno.env.set("PATH", `${bin}:${path}`);
    await fn();
  } finally {
    Deno.env.set("PATH", path);
    await Deno.remove(bin, { recursive: true });
  }
}

Deno.test("a failed whiteout search fails the import with find's words and status, and keeps nothing", async () => {
  const root = await Deno.makeTempDir({ prefix: "skiff-layers-" });
  try {
    await Deno.mkdir(`${root}/tree`);
    await Deno.writeTextFile(`${root}/tree/.wh.gone`, "");
    const made = await new Deno.Command("tar", { args: ["-cf", `${root}/t.tar`, "-C", `${root}/tree`, "."] })
      .output();
    assert.ok(made.success);
    const store = new Store(`${root}/store`);
    await withFailingTool("find", `echo "find: '$1/x': Permission denied" >&2; exit 1`, async () => {
      await assert.rejects(
        extractLayer(store, `${root}/t.tar`, "t.tar"),
        /^Error: Cannot import "t\.tar": find: '.+\/x': Permission denied \(find exited with status 1\)$/,
      );
    });
    for (const dir of ["layers", "blobs/sha256", "tmp"]) {
      assert.deepEqual([...Deno.readDirSync(`${root}/store/${dir}`)], [], `${dir} is empty`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a failed digest keeps openssl's words and exit status", async () => {
  const root = await Deno.makeTempDir({ prefix: "skiff-layers-" });
  try {
    // Large enough for openssl (small files are hashed in-process), sparse on disk.
    const file = `${root}/big`;
    await Deno.writeFile(file, new Uint8Array());
    await Deno.truncate(file, 17 << 20);
    await withFailingTool("openssl", 'echo "openssl: cannot read it" >&2; exit 3', async () => {
      await assert.rejects(
        sha256File(file),
        (e: Error) =>
          e.message === `Cannot hash "${file}": openssl: cannot read it (openssl exited with status 3)`,
      );
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
