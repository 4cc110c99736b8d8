import assert from "node:assert/strict";
import { upperChanges } from "./diff.ts";
import { lsetxattr, mknod, S_IFCHR } from "../../ffi/xattr.ts";

/** Whiteouts are 0:0 character devices and opaque dirs trusted.* xattrs: root's to make. */
const ROOT_ONLY = { ignore: Deno.uid() !== 0 };

/** Makes `tree` under `dir`: a path ending in / is a directory, else a file with its text. */
function make(dir: string, tree: Record<string, string>): void {
  for (const [path, text] of Object.entries(tree)) {
    if (path.endsWith("/")) Deno.mkdirSync(`${dir}/${path}`, { recursive: true });
    else Deno.writeTextFileSync(`${dir}/${path}`, text);
  }
}

async function withLayers(fn: (upper: string, lower: string) => void): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "skiff-diff-" });
  try {
    for (const d of ["upper", "lower"]) Deno.mkdirSync(`${root}/${d}`);
    fn(`${root}/upper`, `${root}/lower`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const lines = (changes: { kind: string; path: string }[]) => changes.map((c) => `${c.kind} ${c.path}`);

Deno.test({
  name: "[root] diff reads whiteouts and opaque dirs as deletions, adds the changed parents, sorts by path",
  ...ROOT_ONLY,
  fn: () =>
    withLayers((upper, lower) => {
      make(lower, {
        "bin/": "",
        "bin/ls": "ls",
        "etc/": "",
        "etc/ssl/": "",
        "etc/ssl/cert": "c",
        "a-b": "x",
      });
      make(upper, { "bin/": "", "etc/": "", "etc/ssl/": "", "etc/ssl/new": "n", "tmp/": "", "tmp/x": "x" });
      make(upper, { "a-b": "changed", "a/": "", "a/b": "new", "proc/": "" });
      mknod(`${upper}/bin/ls`, S_IFCHR, 0n);
      lsetxattr(`${upper}/etc/ssl`, "trusted.overlay.opaque", "y");
      assert.deepEqual(lines(upperChanges(upper, [lower], ["proc"])), [
        "A /a",
        "C /a-b",
        "A /a/b",
        "C /bin",
        "D /bin/ls",
        "C /etc",
        "D /etc/ssl",
        "A /etc/ssl/new",
        "A /tmp",
        "A /tmp/x",
      ]);
    }),
});

Deno.test("diff skips a directory the image has unchanged, but shows it as the parent of a change", () =>
  withLayers((upper, lower) => {
    make(lower, { "usr/": "", "usr/lib/": "", "usr/lib/old": "o" });
    make(upper, { "usr/": "", "usr/lib/": "", "usr/lib/new": "n" });
    const mtime = Deno.statSync(`${lower}/usr`).mtime!;
    Deno.utimeSync(`${upper}/usr`, mtime, mtime);
    assert.deepEqual(lines(upperChanges(upper, [lower], [])), ["C /usr/lib", "A /usr/lib/new"]);
  }));

Deno.test("diff looks through the layers topmost first: a lower layer's whiteout hides what is below", () =>
  withLayers((upper, lower) => {
    const top = `${lower}/top`;
    make(lower, { "top/": "", "base/": "", "base/f": "f" });
    make(upper, { "f": "again" });
    // in the base layer only: the upper's f is a change
    assert.deepEqual(lines(upperChanges(upper, [top, `${lower}/base`], [])), ["C /f"]);
    if (Deno.uid() !== 0) return;
    mknod(`${top}/f`, S_IFCHR, 0n); // deleted by the top layer: the upper's f is new
    assert.deepEqual(lines(upperChanges(upper, [top, `${lower}/base`], [])), ["A /f"]);
  }));

Deno.test("diff leaves out a directory changed only by skiff's mount points in it (/etc by /etc/hosts)", () =>
  withLayers((upper, lower) => {
    make(lower, { "etc/": "", "etc/passwd": "root" });
    make(upper, { "etc/": "", "etc/hosts": "", "etc/resolv.conf": "" });
    Deno.utimeSync(`${upper}/etc`, 1, 1); // its mtime changed when the mount points were made
    const exclude = ["etc/hosts", "etc/resolv.conf", "etc/hostname"];
    assert.deepEqual(lines(upperChanges(upper, [lower], exclude)), []);
    make(upper, { "etc/motd": "hi" });
    assert.deepEqual(lines(upperChanges(upper, [lower], exclude)), ["C /etc", "A /etc/motd"]);
  }));
