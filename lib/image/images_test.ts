import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import {
  findImage,
  importFile,
  layerDirs,
  listImages,
  localRef,
  normalizeRef,
  removeImage,
  tarballName,
} from "./images.ts";
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

Deno.test("a local name gets the localhost registry, as podman stores it; a qualified one is kept", () => {
  assert.equal(localRef("busybox"), "localhost/busybox:latest");
  assert.equal(localRef("my/app:1.0"), "localhost/my/app:1.0");
  assert.equal(localRef("localhost/app"), "localhost/app:latest");
  assert.equal(localRef("127.0.0.1:5000/app:2"), "127.0.0.1:5000/app:2");
  assert.equal(localRef("docker.io/library/alpine"), "docker.io/library/alpine:latest");
  assert.throws(() => localRef("Busybox"), UsageError);
});

Deno.test("a name with an IPv6 registry is stored and found like any other", async () => {
  assert.equal(normalizeRef("[::1]:5000/team/app"), "[::1]:5000/team/app:latest");
  assert.equal(localRef("[::1]:5000/team/app:1"), "[::1]:5000/team/app:1");
  assert.equal(localRef("[fd00::2]/app:1"), "[fd00::2]/app:1");
  assert.throws(() => normalizeRef("[::1:5000/app"), UsageError);
  assert.throws(() => normalizeRef("[zz::1]:5000/app"), UsageError);
  await withDir(async (dir) => {
    const store = new Store(`${dir}/store`);
    const image = await importFile(store, await makeTar(dir), "[::1]:5000/team/app:1");
    assert.equal(image.ref, "[::1]:5000/team/app:1");
    assert.equal((await findImage(store, "[::1]:5000/team/app:1"))?.id, image.id);
    assert.equal(await findImage(store, "[::1]:5000/team/app"), null, "latest is another tag");
    assert.deepEqual((await listImages(store)).map((i) => i.ref), ["[::1]:5000/team/app:1"]);
    await removeImage(store, "[::1]:5000/team/app:1");
    assert.deepEqual(await listImages(store), []);
  });
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
      assert.equal(image.ref, "localhost/test:1");
      assert.equal(image.config.rootfs.diff_ids.length, 1);
      const [layer] = layerDirs(store, image.config);
      assert.equal(await Deno.readTextFile(`${layer}/etc/motd`), "hello\n");
      assert.equal(await Deno.readLink(`${layer}/etc/link`), "motd");
      assert.deepEqual((await listImages(store)).map((i) => i.ref), ["localhost/test:1"]);
      assert.equal((await findImage(store, image.id.slice(0, 12)))?.ref, "localhost/test:1");
      assert.equal((await findImage(store, "test:1"))?.id, image.id, "the short name finds it");
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

/**
 * A store whose index is written by hand, so ids can share prefixes: each
 * `[ref, id]` gets a config blob.
 */
async function withIndex(entries: [string, string][], fn: (store: Store) => Promise<void>): Promise<void> {
  await withDir(async (dir) => {
    const store = new Store(`${dir}/store`);
    await store.init();
    const index: Record<string, { id: string; manifest: string; size: number }> = {};
    for (const [ref, id] of entries) {
      index[ref] = { id, manifest: "9".repeat(64), size: 1 };
      const config = { os: "linux", config: {}, rootfs: { type: "layers", diff_ids: [] } };
      await Deno.writeTextFile(store.blob(id), JSON.stringify(config));
    }
    await Deno.writeTextFile(store.imageIndex, JSON.stringify(index));
    await fn(store);
  });
}

const BUSYBOX_ID = "daa8" + "1".repeat(60);
const OTHER_ID = "daa8" + "2".repeat(60);

Deno.test("an exact reference wins over an id prefix, and a full id over a reference", async () => {
  await withIndex(
    [["localhost/busybox:latest", BUSYBOX_ID], ["localhost/daa8:latest", OTHER_ID]],
    async (store) => {
      assert.equal((await findImage(store, "daa8"))?.id, OTHER_ID, "the tag daa8, not busybox's id prefix");
      assert.equal((await findImage(store, "daa8:latest"))?.id, OTHER_ID);
      assert.equal((await findImage(store, "daa81"))?.ref, "localhost/busybox:latest");
      assert.equal((await findImage(store, BUSYBOX_ID))?.ref, "localhost/busybox:latest");
      assert.equal(
        (await findImage(store, `sha256:${BUSYBOX_ID.slice(0, 8)}`))?.ref,
        "localhost/busybox:latest",
      );
      assert.equal(await findImage(store, "sha256:latest"), null, "sha256: names only ids");
      assert.equal(await findImage(store, "dab"), null);
    },
  );
});

Deno.test("an id prefix that matches several images is refused, listing each with its tags", async () => {
  await withIndex(
    [["localhost/busybox:latest", BUSYBOX_ID], ["localhost/other:v1", OTHER_ID], [
      "localhost/other:v2",
      OTHER_ID,
    ]],
    async (store) => {
      await assert.rejects(
        findImage(store, "daa8"),
        (e) =>
          e instanceof UsageError &&
          e.message ===
            'Image id prefix "daa8" is ambiguous: it matches 2 images, daa811111111 (localhost/busybox:latest), daa822222222 (localhost/other:v1, localhost/other:v2); give more characters',
      );
      assert.equal(
        (await findImage(store, "daa82"))?.ref,
        "localhost/other:v1",
        "one image under two tags is one match",
      );
    },
  );
});

Deno.test("a short name finds the local image first, then docker.io's; localhost/ names only the local one", async () => {
  await withIndex(
    [["localhost/busybox:latest", BUSYBOX_ID], ["docker.io/library/busybox:latest", OTHER_ID], [
      "docker.io/library/alpine:3",
      OTHER_ID,
    ]],
    async (store) => {
      assert.equal((await findImage(store, "busybox"))?.ref, "localhost/busybox:latest");
      assert.equal((await findImage(store, "localhost/busybox"))?.ref, "localhost/busybox:latest");
      assert.equal((await findImage(store, "docker.io/library/busybox"))?.id, OTHER_ID);
      assert.equal((await findImage(store, "alpine:3"))?.ref, "docker.io/library/alpine:3");
      assert.equal(await findImage(store, "localhost/alpine:3"), null);
    },
  );
});

Deno.test("an older store's plain names read as localhost/ names, and the next write stores them so", async () => {
  await withIndex(
    [["busybox:latest", BUSYBOX_ID], ["my/app:1", OTHER_ID], ["other:v1", OTHER_ID], [
      "localhost/other:v1",
      BUSYBOX_ID,
    ]],
    async (store) => {
      assert.deepEqual((await listImages(store)).map((i) => i.ref), [
        "localhost/busybox:latest",
        "localhost/my/app:1",
        "localhost/other:v1",
        "other:v1",
      ], "a plain name whose localhost/ twin exists keeps its own, so no tag is lost");
      assert.equal((await findImage(store, "busybox"))?.ref, "localhost/busybox:latest");
      assert.equal((await findImage(store, "localhost/my/app:1"))?.id, OTHER_ID);
      assert.equal((await findImage(store, "other:v1"))?.id, BUSYBOX_ID, "the localhost/ name first");
      await removeImage(store, "my/app:1");
      assert.deepEqual(Object.keys(JSON.parse(await Deno.readTextFile(store.imageIndex))).sort(), [
        "localhost/busybox:latest",
        "localhost/other:v1",
        "other:v1",
      ]);
    },
  );
});

Deno.test("a repository name of 64 hex digits is refused: it would shadow that image id", () => {
  assert.throws(() => normalizeRef(BUSYBOX_ID), /a name of 64 hex digits reads as an image id/);
  assert.throws(() => normalizeRef(`${BUSYBOX_ID}:v1`), UsageError);
  assert.equal(normalizeRef(BUSYBOX_ID.slice(0, 12)), `${BUSYBOX_ID.slice(0, 12)}:latest`);
});
