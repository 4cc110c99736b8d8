import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { findImage, importFile, layerDirs, listImages, normalizeRef, tarballName } from "./images.ts";
import { Store } from "../store/store.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A small rootfs tarball made by GNU tar, optionally gzipped. */
async function makeTar(dir: string, gzip = false): Promise<string> {
  await Deno.mkdir(`${dir}/src/etc`, { recursive: true });
  await Deno.writeTextFile(`${dir}/src/etc/motd`, "hello\n");
  await Deno.symlink("motd", `${dir}/src/etc/link`);
  const out = `${dir}/rootfs.tar${gzip ? ".gz" : ""}`;
  const args = ["-c", ...(gzip ? ["-z"] : []), "-f", out, "-C", `${dir}/src`, "."];
  assert.equal((await new Deno.Command("tar", { args }).output()).code, 0);
  return out;
}

Deno.test("references normalise to name:tag and bad ones are refused", () => {
  assert.equal(normalizeRef("busybox"), "busybox:latest");
  assert.equal(normalizeRef("my/app:1.0"), "my/app:1.0");
  assert.equal(normalizeRef("localhost/app"), "localhost/app:latest");
  assert.throws(() => normalizeRef("Busybox"), UsageError);
  assert.throws(() => normalizeRef("a:b:c"), UsageError);
  assert.throws(() => normalizeRef(""), UsageError);
});

Deno.test("a tarball's file name gives the image name", () => {
  assert.equal(tarballName("/x/Busybox.tar"), "busybox");
  assert.equal(tarballName("rootfs.tar.gz"), "rootfs");
  assert.equal(tarballName("./my image.tgz"), "my-image");
});

for (const gzip of [false, true]) {
  Deno.test(`a ${gzip ? "gzipped" : "plain"} tarball imports as a one-layer image`, async () => {
    await withDir(async (dir) => {
      const store = new Store(`${dir}/store`);
      const image = await importFile(store, await makeTar(dir, gzip), "test:1");
      assert.equal(image.ref, "test:1");
      assert.equal(image.config.rootfs.diff_ids.length, 1);
      const [layer] = layerDirs(store, image.config);
      assert.equal(await Deno.readTextFile(`${layer}/etc/motd`), "hello\n");
      assert.equal(await Deno.readLink(`${layer}/etc/link`), "motd");
      assert.deepEqual((await listImages(store)).map((i) => i.ref), ["test:1"]);
      assert.equal((await findImage(store, image.id.slice(0, 12)))?.ref, "test:1");
      assert.deepEqual([...Deno.readDirSync(store.tmpDir)], []);
    });
  });
}

Deno.test("the same tar imported twice shares one layer directory", async () => {
  await withDir(async (dir) => {
    const store = new Store(`${dir}/store`);
    const tar = await makeTar(dir);
    const a = await importFile(store, tar, "a");
    const b = await importFile(store, tar, "b");
    assert.deepEqual(a.config.rootfs.diff_ids, b.config.rootfs.diff_ids);
    assert.equal([...Deno.readDirSync(`${store.root}/layers`)].length, 1);
  });
});

Deno.test("a file that is not a tarball is refused and leaves nothing", async () => {
  await withDir(async (dir) => {
    const store = new Store(`${dir}/store`);
    await Deno.writeTextFile(`${dir}/notes.txt`, "not a tar archive, just words\n".repeat(40));
    await assert.rejects(
      importFile(store, `${dir}/notes.txt`, "x"),
      (e: Error) => e.message === `Cannot import "${dir}/notes.txt": it is not a tar archive`,
    );
    await assert.rejects(importFile(store, `${dir}/missing.tar`, "x"), /no such file/);
    assert.deepEqual([...Deno.readDirSync(store.tmpDir)], []);
    assert.deepEqual([...Deno.readDirSync(`${store.root}/layers`)], []);
    assert.deepEqual(await listImages(store), []);
  });
});
