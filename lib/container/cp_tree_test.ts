/**
 * cp's tree copy against real directories standing for a container's root
 * and the host beyond it, with a fake of its file operations that swaps a
 * directory for a symlink between two of them, as a hostile container
 * could at any moment: the host side must stay untouched.
 */

import assert from "node:assert/strict";
import { extract, realTreeFs, type TreeFs, walk, writeTar } from "./cp_tree.ts";
import { cleanPath, parseCpArg } from "./cp.ts";
import { close, openPath } from "../../ffi/libc.ts";

/** A container root and an "outside" dir holding a secret, removed after `fn`. */
async function withRoots(fn: (root: string, outside: string) => Promise<void>): Promise<void> {
  const base = await Deno.makeTempDir({ prefix: "skiff-cp-" });
  try {
    const root = `${base}/a/b/root`;
    const outside = `${base}/outside`;
    Deno.mkdirSync(root, { recursive: true });
    Deno.mkdirSync(outside);
    Deno.writeTextFileSync(`${outside}/secret`, "host secret");
    await fn(root, outside);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

/** Lists a tree as `path kind`, sorted. */
function tree(dir: string, prefix = ""): string[] {
  return [...Deno.readDirSync(dir)].flatMap((e) => {
    const path = `${prefix}${e.name}`;
    const kind = e.isSymlink ? `-> ${Deno.readLinkSync(`${dir}/${e.name}`)}` : e.isDirectory ? "/" : "";
    return [`${path}${kind}`, ...(e.isDirectory && !e.isSymlink ? tree(`${dir}/${e.name}`, `${path}/`) : [])];
  }).sort();
}

/** Copies host dir `src`'s entry `name` into `destDir` of the tree at `root`. */
async function copyIn(fs: TreeFs, src: string, name: string, root: string, destDir: string): Promise<void> {
  const [srcRoot, rootFd] = [openPath("/"), openPath(root)];
  const top = fs.open(srcRoot, `${src}/${name}`, false);
  try {
    await extract(fs, rootFd, destDir, walk(fs, top, name), {
      owners: "caller",
      devices: false,
      label: (p) => `ctr:${p}`,
    });
  } finally {
    close(top);
    close(srcRoot);
    close(rootFd);
  }
}

/** A source tree: a dir with a file, a mode, a symlink and an mtime. */
function makeSource(dir: string): void {
  Deno.mkdirSync(`${dir}/pkg/bin`, { recursive: true });
  Deno.writeTextFileSync(`${dir}/pkg/bin/tool`, "#!/bin/sh\n");
  Deno.chmodSync(`${dir}/pkg/bin/tool`, 0o4755);
  Deno.symlinkSync("bin/tool", `${dir}/pkg/link`);
  Deno.utimeSync(`${dir}/pkg/bin/tool`, 1_000_000, 1_000_000);
  Deno.utimeSync(`${dir}/pkg/bin`, 2_000_000, 2_000_000);
}

Deno.test("a tree is copied with its modes, symlinks and mtimes, directories' last", async () => {
  await withRoots(async (root, outside) => {
    makeSource(outside);
    Deno.mkdirSync(`${root}/dst`);
    await copyIn(realTreeFs, outside, "pkg", root, "/dst");
    assert.deepEqual(tree(`${root}/dst`), ["pkg/", "pkg/bin/", "pkg/bin/tool", "pkg/link-> bin/tool"]);
    const tool = Deno.statSync(`${root}/dst/pkg/bin/tool`);
    assert.equal(tool.mode! & 0o7777, 0o4755, "set-user-ID kept");
    assert.equal(tool.mtime!.getTime(), 1_000_000_000);
    assert.equal(Deno.statSync(`${root}/dst/pkg/bin`).mtime!.getTime(), 2_000_000_000);
  });
});

Deno.test("a container's symlinks to the host's paths resolve inside its root", async () => {
  await withRoots(async (root, outside) => {
    const src = await Deno.makeTempDir({ prefix: "skiff-cp-src-" });
    try {
      Deno.writeTextFileSync(`${src}/file`, "from host");
      Deno.mkdirSync(`${root}/etc`);
      Deno.symlinkSync(outside, `${root}/abs`); // absolute: the host's outside dir
      Deno.symlinkSync("../../..", `${root}/up`); // the host's base dir, lexically
      Deno.symlinkSync("/etc", `${root}/data`);
      await copyIn(realTreeFs, src, "file", root, "/data");
      assert.equal(Deno.readTextFileSync(`${root}/etc/file`), "from host", "the container's /etc");
      await copyIn(realTreeFs, src, "file", root, "/up");
      assert.equal(Deno.readTextFileSync(`${root}/file`), "from host", "../.. stops at the root");
      const base = [...Deno.readDirSync(`${root}/../../..`)].map((e) => e.name).sort();
      assert.deepEqual(base, ["a", "outside"], "nothing made beside the root");
      await assert.rejects(copyIn(realTreeFs, src, "file", root, "/abs"), /ENOENT/, "no such path inside");
      assert.deepEqual(tree(outside), ["secret"], "the host is untouched");
    } finally {
      await Deno.remove(src, { recursive: true });
    }
  });
});

/** realTreeFs, with `swap` run once just before the `n`th call of `op` (counting from 1). */
function swapBefore(op: keyof TreeFs, n: number, swap: () => void): TreeFs {
  let calls = 0;
  const real = realTreeFs[op] as (...args: unknown[]) => unknown;
  return {
    ...realTreeFs,
    [op]: (...args: unknown[]) => {
      if (++calls === n) swap();
      return real(...args);
    },
  } as TreeFs;
}

Deno.test("a destination dir swapped for a symlink to the host between resolving and opening stays inside", async () => {
  await withRoots(async (root, outside) => {
    makeSource(`${root}/..`);
    Deno.mkdirSync(`${root}/dst`);
    // open #1: the source's top; #2: the parent of pkg, /dst, in the root
    const fs = swapBefore("open", 2, () => {
      Deno.renameSync(`${root}/dst`, `${root}/dst.old`);
      Deno.symlinkSync(outside, `${root}/dst`);
    });
    await assert.rejects(copyIn(fs, `${root}/..`, "pkg", root, "/dst"), /ENOENT/);
    assert.deepEqual(tree(outside), ["secret"], "the host is untouched");
  });
});

Deno.test("a parent swapped for a symlink out of the root mid-copy: what follows resolves inside the root", async () => {
  await withRoots(async (root, outside) => {
    makeSource(`${root}/..`);
    Deno.mkdirSync(`${root}/dst`);
    // the first mkdir is pkg's, in /dst, whose descriptor is then held
    const fs = swapBefore("mkdir", 1, () => {
      Deno.renameSync(`${root}/dst`, `${root}/dst.old`);
      Deno.symlinkSync("../../../../outside", `${root}/dst`);
    });
    // pkg is made in the dir /dst was; its entries' parent, /dst/pkg, is
    // then looked up again inside the root, where /outside is not
    await assert.rejects(copyIn(fs, `${root}/..`, "pkg", root, "/dst"), /openat2 "\/dst\/pkg": ENOENT/);
    assert.deepEqual(tree(outside), ["secret"], "the host is untouched");
    assert.deepEqual(tree(`${root}/dst.old`), ["pkg/"]);
  });
});

Deno.test("a symlink put where a file is about to be made makes the copy fail, and is not followed", async () => {
  await withRoots(async (root, outside) => {
    const src = `${root}/../src`;
    Deno.mkdirSync(src);
    Deno.writeTextFileSync(`${src}/passwd`, "evil");
    Deno.mkdirSync(`${root}/etc`);
    const fs = swapBefore("create", 1, () => Deno.symlinkSync(`${outside}/secret`, `${root}/etc/passwd`));
    await assert.rejects(copyIn(fs, src, "passwd", root, "/etc"), /EEXIST/);
    assert.equal(Deno.readTextFileSync(`${outside}/secret`), "host secret");
  });
});

Deno.test("a source dir swapped for a symlink to the host while walked is copied as the symlink", async () => {
  await withRoots(async (root, outside) => {
    Deno.mkdirSync(`${root}/app/conf`, { recursive: true });
    Deno.writeTextFileSync(`${root}/app/conf/x`, "x");
    const dest = `${root}/../copy`;
    Deno.mkdirSync(dest);
    // list #1 is /app's: then conf becomes a symlink to the host's dir
    const fs = swapBefore("list", 1, () => {
      Deno.removeSync(`${root}/app/conf`, { recursive: true });
      Deno.symlinkSync(outside, `${root}/app/conf`);
    });
    const [rootFd, hostFd] = [openPath(root), openPath(dest)];
    const top = fs.open(rootFd, "/app", false);
    try {
      await extract(realTreeFs, hostFd, "/", walk(fs, top, "app"), {
        owners: "caller",
        devices: false,
        label: (p) => p,
      });
    } finally {
      [top, rootFd, hostFd].forEach(close);
    }
    assert.deepEqual(tree(dest), ["app/", `app/conf-> ${outside}`], "the link, not the host's secret");
  });
});

Deno.test("the tar of a tree reads back with GNU tar, long names and links through pax", async () => {
  await withRoots(async (root) => {
    const long = "d".repeat(120);
    Deno.mkdirSync(`${root}/top/${long}`, { recursive: true });
    Deno.writeTextFileSync(`${root}/top/${long}/f`, "data");
    Deno.symlinkSync("t".repeat(150), `${root}/top/l`);
    const rootFd = openPath(root);
    const top = realTreeFs.open(rootFd, "/top", false);
    const chunks: Uint8Array[] = [];
    try {
      await writeTar(
        realTreeFs,
        walk(realTreeFs, top, "top"),
        new WritableStream({ write: (c) => void chunks.push(c) }),
      );
    } finally {
      close(top);
      close(rootFd);
    }
    const tar = new Deno.Command("tar", { args: ["-tvf", "-"], stdin: "piped", stdout: "piped" }).spawn();
    const w = tar.stdin.getWriter();
    for (const c of chunks) await w.write(c);
    await w.close();
    const out = new TextDecoder().decode((await tar.output()).stdout);
    assert.match(out, new RegExp(`top/${long}/f\n`));
    assert.match(out, new RegExp(`top/l -> ${"t".repeat(150)}\n`));
    assert.match(out, /^drwx.* top\/\n/m);
  });
});

Deno.test("cp's arguments split as docker's, and paths clean as Go's", () => {
  assert.deepEqual(parseCpArg("ctr:/etc/hosts"), { container: "ctr", path: "/etc/hosts" });
  assert.deepEqual(parseCpArg("/abs/with:colon"), { host: "/abs/with:colon" });
  assert.deepEqual(parseCpArg("./rel:colon"), { host: "./rel:colon" });
  assert.deepEqual(parseCpArg("plain"), { host: "plain" });
  assert.deepEqual(parseCpArg("-"), { stream: true });
  assert.equal(cleanPath("/a/./b/../c/"), "/a/c");
  assert.equal(cleanPath("/../../etc"), "/etc");
  assert.equal(cleanPath("/."), "/");
});
