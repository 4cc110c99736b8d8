/**
 * End-to-end tests of images: the busybox recipe, importing tarballs, and
 * running an image straight from a tarball path.
 */

import assert from "node:assert/strict";
import { entries, ROOT_ONLY, skiff, skiffOk, underScript, withStore } from "./helpers.ts";

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

/** A rootfs tarball in `dir` of busybox and a file, different for each `name`. */
async function oneFileTar(dir: string, name: string): Promise<string> {
  await Deno.mkdir(`${dir}/${name}/bin`, { recursive: true });
  await Deno.copyFile("/bin/busybox", `${dir}/${name}/bin/busybox`);
  await Deno.writeTextFile(`${dir}/${name}/file`, `${name}\n`);
  const out = `${dir}/${name}.tar`;
  const args = ["-c", "-f", out, "-C", `${dir}/${name}`, "."];
  assert.equal((await new Deno.Command("tar", { args }).output()).code, 0);
  return out;
}

/** The id of image `ref`, hex. */
async function idOf(store: string, ref: string): Promise<string> {
  return JSON.parse(await skiffOk(store, ["inspect", ref]))[0].Id.slice("sha256:".length);
}

test("image prune removes dangling images and unheld downloads, never an image a container uses; -a every unused one", async () => {
  await withStore(async (store) => {
    const dir = await Deno.makeTempDir({ prefix: "skiff-prune-" });
    const downloads = `${store}/downloads`;
    const [free, held] = ["a".repeat(64), "b".repeat(64)];
    let lock: Deno.FsFile | undefined;
    try {
      await skiffOk(store, ["import", await oneFileTar(dir, "one"), "x:1"]);
      const dangling = await idOf(store, "x:1");
      await skiffOk(store, ["import", await oneFileTar(dir, "two"), "x:1"]);
      const used = await idOf(store, "x:1");
      await skiffOk(store, ["run", "--name", "user", "x:1", "/bin/busybox", "true"]);
      assert.match(await skiffOk(store, ["ps", "-a"]), /\buser\b/);
      await skiffOk(store, ["import", await oneFileTar(dir, "three"), "x:1"]);
      const tagged = await idOf(store, "x:1");
      const busybox = await idOf(store, "busybox");
      await Deno.mkdir(downloads);
      Deno.writeTextFileSync(`${downloads}/${free}.partial`, "left by a killed pull");
      Deno.writeTextFileSync(`${downloads}/${held}.partial`, "a pull is writing this");
      lock = Deno.openSync(`${downloads}/${held}.lock`, { create: true, write: true });
      lock.lockSync(true);
      const blobs = entries(`${store}/blobs/sha256`);

      const refused = await skiff(store, ["image", "prune"]);
      assert.equal(refused.code, 125);
      assert.equal(
        refused.stderr,
        'skiff: "skiff image prune" asks before it removes anything, and stdin is not a terminal: use -f to prune without asking\n',
      );
      assert.deepEqual(entries(`${store}/blobs/sha256`), blobs, "nothing removed without -f");

      const pruned = await skiffOk(store, ["image", "prune", "-f"]);
      assert.match(
        pruned,
        new RegExp(
          `^Deleted Images:\ndeleted: sha256:${dangling}\n\nDeleted Downloads:\ndeleted: ${free}.partial\n\nTotal reclaimed space: \\d+(\\.\\d+)?MB\n$`,
        ),
      );
      const left = entries(`${store}/blobs/sha256`);
      assert.ok(!left.includes(dangling), "the dangling image's config went");
      assert.ok(left.includes(used), "the image the container uses stays, untagged as it is");
      assert.deepEqual(entries(downloads), [`${held}.lock`, `${held}.partial`], "the held download stays");
      assert.equal(await skiffOk(store, ["image", "prune", "-f"]), "Total reclaimed space: 0B\n");

      const all = await skiffOk(store, ["image", "prune", "-a", "-f"]);
      assert.deepEqual(all.split("\n").filter((l) => l.startsWith("untagged: ")).sort(), [
        "untagged: localhost/busybox:latest",
        "untagged: localhost/x:1",
      ]);
      assert.deepEqual(
        all.split("\n").filter((l) => l.startsWith("deleted: ")).sort(),
        [
          `deleted: sha256:${busybox}`,
          `deleted: sha256:${tagged}`,
        ].sort(),
      );
      assert.equal(await skiffOk(store, ["images", "-q"]), "");
      assert.ok(entries(`${store}/blobs/sha256`).includes(used), "-a keeps what a container uses");
      const usedLayers = JSON.parse(Deno.readTextFileSync(`${store}/blobs/sha256/${used}`)).rootfs.diff_ids;
      for (const d of usedLayers) {
        assert.ok(entries(`${store}/layers`).includes(d.slice(7)), "and its layers");
      }

      await skiffOk(store, ["rm", "user"]);
      assert.match(
        await skiffOk(store, ["image", "prune", "-f"]),
        new RegExp(`^Deleted Images:\ndeleted: sha256:${used}\n`),
      );
      assert.deepEqual(entries(`${store}/layers`), []);
    } finally {
      lock?.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
});

test("image prune asks on a terminal, and removes nothing unless the answer is yes", async () => {
  await withStore(async (store) => {
    const dir = await Deno.makeTempDir({ prefix: "skiff-prune-" });
    try {
      await skiffOk(store, ["import", await oneFileTar(dir, "one"), "x:1"]);
      const dangling = await idOf(store, "x:1");
      await skiffOk(store, ["import", await oneFileTar(dir, "two"), "x:1"]);
      const no = await underScript(store, "skiff image prune", "n\n");
      assert.equal(no.code, 0, no.out);
      assert.match(
        no.out,
        /WARNING! This will remove all dangling images\.\nAre you sure you want to continue\? \[y\/N\] $/,
      );
      assert.ok(entries(`${store}/blobs/sha256`).includes(dangling), "kept on no");
      const yes = await underScript(store, "skiff image prune", "y\n");
      assert.equal(yes.code, 0, yes.out);
      assert.match(yes.out, new RegExp(`\\[y/N\\] Deleted Images:\ndeleted: sha256:${dangling}\n`));
      assert.ok(!entries(`${store}/blobs/sha256`).includes(dangling), "removed on yes");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
