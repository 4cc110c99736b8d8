/**
 * End-to-end tests of images: the busybox recipe, importing tarballs, and
 * running an image straight from a tarball path.
 */

import assert from "node:assert/strict";
import { entries, ROOT_ONLY, skiff, skiffOk, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

/** A rootfs tarball like `docker export` writes: busybox, a file, an owner. */
async function exportLikeTar(dir: string, gzip = false): Promise<string> {
  const root = `${dir}/rootfs${gzip ? "-gz" : ""}`;
  await Deno.mkdir(`${root}/bin`, { recursive: true });
  await Deno.mkdir(`${root}/data`);
  await Deno.copyFile("/bin/busybox", `${root}/bin/busybox`);
  for (const applet of ["sh", "cat", "ls", "stat"]) await Deno.symlink("busybox", `${root}/bin/${applet}`);
  await Deno.writeTextFile(`${root}/data/message`, "from the tarball\n");
  await Deno.chown(`${root}/data/message`, 1234, 5678);
  const out = `${dir}/exported.tar${gzip ? ".gz" : ""}`;
  const args = ["-c", ...(gzip ? ["-z"] : []), "--numeric-owner", "-f", out, "-C", root, "."];
  assert.equal((await new Deno.Command("tar", { args }).output()).code, 0);
  return out;
}

test("the busybox image is built on first use and listed", async () => {
  await withStore(async (store) => {
    assert.equal(await skiffOk(store, ["images"]), "REPOSITORY   TAG   IMAGE ID   CREATED   SIZE\n");
    assert.equal(
      await skiffOk(store, ["run", "--rm", "busybox", "cat", "/etc/passwd"]),
      [
        "root:x:0:0:root:/root:/bin/sh",
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false",
        "",
      ].join("\n"),
    );
    const [header, row, ...rest] = (await skiffOk(store, ["images"])).trim().split("\n");
    assert.match(header, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.match(row, /^localhost\/busybox\s+latest\s+[0-9a-f]{12}\s+.+ ago\s+\d+(\.\d+)?MB$/);
    assert.deepEqual(rest, []);
    const sh = await skiffOk(store, ["run", "--rm", "busybox"], { stdin: "" });
    assert.equal(sh, "", "the default command is the image's sh, reading an empty stdin");
  }, { empty: true });
});

test("a rootfs tarball imports as an image that runs, keeping owners", async () => {
  await withStore(async (store) => {
    const dir = await Deno.makeTempDir({ prefix: "skiff-tar-" });
    try {
      for (const gzip of [false, true]) {
        const tar = await exportLikeTar(dir, gzip);
        const ref = gzip ? "zipped:v1" : "exported";
        const id = (await skiffOk(store, ["import", tar, ref])).trim();
        assert.match(id, /^sha256:[0-9a-f]{64}$/);
        const out = await skiffOk(store, [
          "run",
          "--rm",
          ref,
          "/bin/sh",
          "-c",
          "cat /data/message; stat -c %u:%g /data/message",
        ]);
        assert.equal(out, "from the tarball\n1234:5678\n");
      }
      assert.match(
        await skiffOk(store, ["images"]),
        /\nlocalhost\/exported\s+latest\s+.*\nlocalhost\/zipped\s+v1\s+/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }, { empty: true });
});

test("run takes a tarball path, importing it under the file's name", async () => {
  await withStore(async (store) => {
    const dir = await Deno.makeTempDir({ prefix: "skiff-tar-" });
    try {
      const tar = await exportLikeTar(dir);
      const out = await skiffOk(store, ["run", "--rm", tar, "/bin/cat", "/data/message"]);
      assert.equal(out, "from the tarball\n");
      assert.match(await skiffOk(store, ["images"]), /\nlocalhost\/exported\s+latest\s+/);
      const noShell = await skiff(store, ["run", "--rm", "exported", "ls", "/"]);
      assert.equal(noShell.code, 0, noShell.stderr);
      assert.deepEqual(noShell.stdout.trim().split("\n"), ["bin", "data", "dev", "proc", "sys"]);
      assert.equal(entries(`${store}/layers`).length, 1);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }, { empty: true });
});

test("an imported tar is kept as headers only, and save rebuilds it byte for byte", async () => {
  await withStore(async (store) => {
    const dir = await Deno.makeTempDir({ prefix: "skiff-split-" });
    try {
      const tar = await exportLikeTar(dir);
      await skiffOk(store, ["import", tar, "split:1"]);
      const [inspected] = JSON.parse(await skiffOk(store, ["inspect", "split:1"]));
      const diffId = inspected.rootfs.diff_ids[0].slice(7);
      const blobs = entries(`${store}/blobs/sha256`);
      assert.ok(blobs.includes(`${diffId}.split`), "kept split");
      assert.ok(!blobs.includes(diffId), "no second copy of the tar");
      for (const format of ["oci", "docker"]) {
        await skiffOk(store, ["save", "--format", format, "-o", `${dir}/${format}.tar`, "split:1"]);
        const out = `${dir}/${format}`;
        await Deno.mkdir(out);
        assert.equal(
          (await new Deno.Command("tar", { args: ["-xf", `${dir}/${format}.tar`, "-C", out] }).output()).code,
          0,
        );
        const layer = format === "oci" ? `${out}/blobs/sha256/${diffId}` : `${out}/${diffId}/layer.tar`;
        assert.deepEqual(
          await Deno.readFile(layer),
          await Deno.readFile(tar),
          `${format}: the very tar imported`,
        );
      }
      await skiffOk(store, ["rmi", "split:1"]);
      await skiffOk(store, ["load", "-i", `${dir}/docker.tar`]);
      assert.equal(
        await skiffOk(store, ["run", "--rm", "split:1", "cat", "/data/message"]),
        "from the tarball\n",
      );
      await skiffOk(store, ["rmi", "split:1"]);
      assert.deepEqual(
        entries(`${store}/blobs/sha256`).filter((b) => b.startsWith(diffId)),
        [],
        "gc takes both",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

test("a store of an older skiff keeps its plain busybox:latest: run finds it, images lists it as localhost/busybox", async () => {
  await withStore(async (store) => {
    const index = `${store}/images/index.json`;
    const entries0 = JSON.parse(Deno.readTextFileSync(index));
    const { "localhost/busybox:latest": busybox, ...rest } = entries0;
    assert.ok(busybox, "the seed is stored as localhost/busybox:latest");
    Deno.writeTextFileSync(index, JSON.stringify({ ...rest, "busybox:latest": busybox }));
    const layers = entries(`${store}/layers`);
    assert.equal(await skiffOk(store, ["run", "--rm", "busybox", "echo", "found"]), "found\n");
    assert.deepEqual(entries(`${store}/layers`), layers, "nothing was built again");
    assert.match(
      await skiffOk(store, ["images"]),
      new RegExp(`\nlocalhost/busybox\\s+latest\\s+${busybox.id.slice(0, 12)}`),
    );
    await skiffOk(store, ["tag", "busybox", "again:1"]);
    assert.deepEqual(Object.keys(JSON.parse(Deno.readTextFileSync(index))).sort(), [
      "localhost/again:1",
      "localhost/busybox:latest",
    ], "the next write stores the old name as localhost/");
  });
});
