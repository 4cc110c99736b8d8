import assert from "node:assert/strict";
import { writeAtomic } from "./store.ts";

/** Runs `fn` on a fresh 64 KiB tmpfs, unmounted and removed afterwards. */
async function withTinyDisk(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "skiff-tinydisk-" });
  const mount = (...args: string[]) => new Deno.Command("mount", { args }).outputSync();
  assert.equal(mount("-t", "tmpfs", "-o", "size=64k", "tinydisk", dir).code, 0);
  try {
    await fn(dir);
  } finally {
    new Deno.Command("umount", { args: [dir] }).outputSync();
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test({
  name: "[root] a record write that fails on a full or read-only disk leaves the previous record",
  ignore: Deno.uid() !== 0,
  async fn() {
    await withTinyDisk(async (dir) => {
      const record = `${dir}/config.json`;
      await writeAtomic(record, '{"status":"running"}');
      // Fill the disk: writes fail with ENOSPC from here on.
      const filler = Deno.openSync(`${dir}/filler`, { create: true, write: true });
      try {
        for (;;) filler.writeSync(new Uint8Array(4096));
      } catch (e) {
        assert.match(String(e), /No space left on device/);
      } finally {
        filler.close();
      }
      await assert.rejects(writeAtomic(record, JSON.stringify({ status: "exited", pad: "x".repeat(8192) })));
      assert.equal(Deno.readTextFileSync(record), '{"status":"running"}');
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["config.json", "filler"]);

      Deno.removeSync(`${dir}/filler`);
      const remount = new Deno.Command("mount", { args: ["-o", "remount,ro", dir] }).outputSync();
      assert.equal(remount.code, 0);
      await assert.rejects(writeAtomic(record, '{"status":"exited"}'), /Read-only file system/);
      assert.equal(Deno.readTextFileSync(record), '{"status":"running"}');
    });
  },
});
