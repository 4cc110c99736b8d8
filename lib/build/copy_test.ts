import assert from "node:assert/strict";
import { cacheKey } from "./cache.ts";
import { hashEntries, parseChmod, parseChown, planCopy } from "./copy.ts";
import { IgnoreRules } from "./ignore.ts";
import { ContextTree, EMPTY_TREE, globRegex, LayerTree, matchSource, resolvePath } from "./tree.ts";
import { duration } from "./builder.ts";

/** A directory with `files` (path -> content; a "->target" content is a symlink), removed after `fn`. */
async function withDir(
  files: Record<string, string>,
  fn: (dir: string) => void | Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-copy-test-" });
  try {
    for (const [path, content] of Object.entries(files)) {
      await Deno.mkdir(`${dir}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
      if (content.startsWith("->")) await Deno.symlink(content.slice(2), `${dir}/${path}`);
      else await Deno.writeTextFile(`${dir}/${path}`, content);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the cache key changes with the parent, the instruction, the args and the content", async () => {
  const base = { parent: "p", instruction: "RUN x", args: ["A=1"], content: "c" };
  const key = await cacheKey(base);
  assert.equal(await cacheKey({ ...base }), key);
  for (const change of [{ parent: "q" }, { instruction: "RUN y" }, { args: ["A=2"] }, { content: "d" }]) {
    assert.notEqual(await cacheKey({ ...base, ...change }), key, JSON.stringify(change));
  }
});

Deno.test("globs are Go's: per component, * and ? never cross a slash, classes", () => {
  assert.ok(globRegex("*.txt").test("a.txt"));
  assert.ok(!globRegex("*.txt").test("a/b.txt"));
  assert.ok(globRegex("f?[0-9]").test("fa7"));
  assert.ok(!globRegex("f?[0-9]").test("fab"));
  assert.ok(globRegex("a\\*").test("a*"));
  assert.ok(!globRegex("a\\*").test("ab"));
});

Deno.test("sources: globs in name order, .dockerignore applied, nothing outside the context", async () => {
  await withDir(
    { "b.txt": "b", "a.txt": "a", "c.md": "c", "d/e.txt": "e", "out": "->/etc/passwd" },
    (dir) => {
      const tree = new ContextTree(dir, new IgnoreRules(["b.txt"]));
      assert.deepEqual(matchSource(tree, "*.txt"), ["a.txt"]);
      assert.deepEqual(matchSource(tree, "./d/*.txt"), ["d/e.txt"]);
      assert.deepEqual(matchSource(tree, "*/e.txt"), ["d/e.txt"]);
      assert.throws(() => matchSource(tree, "../x"), /outside the build context/);
      assert.throws(() => resolvePath(tree, "out"), /the symlink "out" points out of the build context/);
      assert.equal(resolvePath(tree, "d/../a.txt").rel, "a.txt");
    },
  );
});

Deno.test("a layer tree reads as overlay stacks it: the topmost entry wins, directories merge, links resolve inside", async () => {
  await withDir({
    "up/etc/a": "new",
    "low/etc/a": "old",
    "low/etc/b": "b",
    "low/bin": "->usr/bin",
    "low/usr/bin/sh": "sh",
  }, (dir) => {
    const tree = new LayerTree("image", [`${dir}/up`, `${dir}/low`]);
    assert.equal(Deno.readTextFileSync(tree.find("etc/a")!.host), "new");
    assert.deepEqual(tree.list("etc"), ["a", "b"]);
    assert.equal(resolvePath(tree, "bin/sh").rel, "usr/bin/sh", "symlinks resolve inside the image");
    assert.equal(tree.find("nothing"), null);
    assert.deepEqual(EMPTY_TREE.list(""), []);
  });
});

Deno.test("planCopy: dir contents, renamed files, parents as the image has them, digest without mtimes", async () => {
  await withDir(
    { "ctx/dir/x": "x", "ctx/dir/sub/y": "y", "ctx/f": "f", "img/opt/.keep": "" },
    async (dir) => {
      Deno.chmodSync(`${dir}/img/opt`, 0o700);
      const from = new ContextTree(`${dir}/ctx`);
      const into = new LayerTree("image", [`${dir}/img`]);
      const plan = (sources: string[], dest: string, extra = {}) =>
        planCopy({ from, into, sources, dest, keepOwner: false, unpack: false, ...extra });
      const entries = await plan(["dir"], "/opt/app");
      assert.deepEqual(entries.map((e) => [e.target, e.kind, e.parent ?? false]), [
        ["opt", "dir", true],
        ["opt/app", "dir", true],
        ["opt/app/sub", "dir", false],
        ["opt/app/sub/y", "file", false],
        ["opt/app/x", "file", false],
      ]);
      assert.equal(entries[0].mode, 0o700, "an existing parent keeps the image's mode");
      assert.equal(entries[1].mode, 0o755, "a missing one is made 0755");
      assert.ok(entries.every((e) => e.uid === 0 && e.gid === 0), "the context's files become root's");
      assert.deepEqual((await plan(["f"], "/opt/renamed")).map((e) => e.target), ["opt", "opt/renamed"]);
      assert.deepEqual((await plan(["f"], "/opt/")).map((e) => e.target), ["opt", "opt/f"]);
      const owned = await plan(["f"], "/g", { chown: { uid: 5, gid: 6 }, chmod: 0o600 });
      assert.deepEqual([owned[0].uid, owned[0].gid, owned[0].mode], [5, 6, 0o600]);
      await assert.rejects(() => plan(["f", "dir"], "/file"), /the destination must be a directory/);
      await assert.rejects(
        () => plan(["nope*"], "/"),
        /Cannot copy "nope\*": no such file or directory in the build context/,
      );

      const before = await hashEntries(await plan(["dir"], "/opt/app"));
      Deno.utimeSync(`${dir}/ctx/dir/x`, new Date(0), new Date(0));
      assert.equal(await hashEntries(await plan(["dir"], "/opt/app")), before, "mtime is no change");
      Deno.chmodSync(`${dir}/ctx/dir/x`, 0o600);
      assert.notEqual(await hashEntries(await plan(["dir"], "/opt/app")), before, "a mode is");
      Deno.chmodSync(`${dir}/ctx/dir/x`, 0o644);
      Deno.writeTextFileSync(`${dir}/ctx/dir/x`, "X");
      assert.notEqual(await hashEntries(await plan(["dir"], "/opt/app")), before, "content is");
    },
  );
});

Deno.test("--chown names come from the image, --chmod is octal, durations are Go's", async () => {
  await withDir({ "etc/passwd": "app:x:10:20::/:/bin/sh\n", "etc/group": "staff:x:50:\n" }, (dir) => {
    const image = new LayerTree("image", [dir]);
    assert.deepEqual(parseChown("app", image), { uid: 10, gid: 20 });
    assert.deepEqual(parseChown("app:staff", image), { uid: 10, gid: 50 });
    assert.deepEqual(parseChown("7", image), { uid: 7, gid: 7 });
    assert.deepEqual(parseChown("7:8", image), { uid: 7, gid: 8 });
    assert.throws(() => parseChown("nobody", image), /no user "nobody" in the image's \/etc\/passwd/);
  });
  assert.equal(parseChmod("0755"), 0o755);
  assert.throws(() => parseChmod("u+x"), /use an octal mode/);
  assert.equal(duration("1m30s"), 90e9);
  assert.equal(duration("500ms"), 5e8);
  assert.equal(duration("5"), null);
});
