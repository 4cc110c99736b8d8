import assert from "node:assert/strict";
import { resolveInRoot } from "./sys.ts";

/** A temporary "container root" with hostile symlinks, next to a "host" dir. */
async function withRoots(fn: (root: string, host: string) => void): Promise<void> {
  const top = await Deno.makeTempDir({ prefix: "skiff-resolve-" });
  try {
    const root = `${top}/root`;
    const host = `${top}/host`;
    await Deno.mkdir(`${root}/etc`, { recursive: true });
    await Deno.mkdir(host);
    await Deno.symlink(host, `${root}/abs`); // absolute link out of the root
    await Deno.symlink("../../../../../..", `${root}/up`); // relative link climbing out
    await Deno.symlink("/etc", `${root}/data`); // means the container's /etc
    await Deno.symlink("/nowhere", `${root}/dangling`);
    fn(root, host);
  } finally {
    await Deno.remove(top, { recursive: true });
  }
}

function realPath(resolved: { path: string; release(): void }): string {
  try {
    return Deno.readLinkSync(resolved.path);
  } finally {
    resolved.release();
  }
}

Deno.test("a target is resolved inside the root and missing parts are created there", async () => {
  await withRoots((root) => {
    assert.equal(realPath(resolveInRoot(root, "/srv/app/data", "dir")), `${root}/srv/app/data`);
    assert.ok(Deno.statSync(`${root}/srv/app/data`).isDirectory);
    assert.equal(realPath(resolveInRoot(root, "/etc/conf", "file")), `${root}/etc/conf`);
    assert.ok(Deno.statSync(`${root}/etc/conf`).isFile);
  });
});

Deno.test("symlinks in the image resolve within the root, never on the host", async () => {
  await withRoots((root, host) => {
    assert.equal(realPath(resolveInRoot(root, "/data/sub", "dir")), `${root}/etc/sub`);
    // the host path it names does not exist inside the root: refused
    assert.throws(() => resolveInRoot(root, "/abs/x", "dir"), /"\/abs" is a symlink to a path missing/);
    assert.equal(realPath(resolveInRoot(root, "/up/tmp/y", "dir")), `${root}/tmp/y`);
    assert.equal(realPath(resolveInRoot(root, "/../../z", "dir")), `${root}/z`);
    assert.deepEqual([...Deno.readDirSync(host)], [], "nothing appeared on the host side");
  });
});

Deno.test("a dangling symlink in the path is refused", async () => {
  await withRoots((root) => {
    assert.throws(
      () => resolveInRoot(root, "/dangling/x", "dir"),
      /"\/dangling" is a symlink to a path missing/,
    );
  });
});
