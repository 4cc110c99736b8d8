import assert from "node:assert/strict";
import { describeError, UsageError } from "../errors.ts";
import {
  defaultRunRoot,
  defaultStoreRoot,
  MARKER,
  readJson,
  ROOT_STORE,
  rootlessStoreRoot,
  Store,
  writeAtomic,
} from "./store.ts";

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

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "skiff-store-test-" });
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

const hasStrace = new Deno.Command("sh", { args: ["-c", "command -v strace"], stdout: "null" }).outputSync()
  .success;

Deno.test("an empty --root or $SKIFF_ROOT is unset: the store is never /", () => {
  const saved = Deno.env.get("SKIFF_ROOT");
  try {
    Deno.env.set("SKIFF_ROOT", "");
    const fallback = Deno.uid() === 0 ? ROOT_STORE : rootlessStoreRoot();
    assert.equal(defaultStoreRoot(""), fallback);
    assert.equal(defaultStoreRoot(undefined), fallback);
    Deno.env.set("SKIFF_ROOT", "/srv/skiff");
    assert.equal(defaultStoreRoot(""), "/srv/skiff", "an empty flag falls back to $SKIFF_ROOT");
    assert.equal(defaultStoreRoot("/x"), "/x");
  } finally {
    if (saved === undefined) Deno.env.delete("SKIFF_ROOT");
    else Deno.env.set("SKIFF_ROOT", saved);
  }
});

Deno.test("a new or empty directory becomes a store with its marker; a store made before the marker is adopted", async () => {
  await withDir(async (dir) => {
    const fresh = new Store(`${dir}/new`);
    await fresh.init();
    assert.ok(names(`${dir}/new`).includes(MARKER));
    assert.ok(Deno.statSync(fresh.tmpDir).isDirectory);

    Deno.mkdirSync(`${dir}/empty`);
    await new Store(`${dir}/empty`).init();
    assert.ok(names(`${dir}/empty`).includes(MARKER));

    // An older skiff's store: the layout, a lock and a runtime dir, no marker.
    const old = `${dir}/old`;
    for (const d of ["images", "blobs/sha256", "layers", "containers", "volumes", "tmp", "run/containers"]) {
      Deno.mkdirSync(`${old}/${d}`, { recursive: true });
    }
    Deno.writeTextFileSync(`${old}/lock`, "");
    Deno.writeTextFileSync(`${old}/images/index.json`, "{}");
    await new Store(old).init();
    assert.ok(names(old).includes(MARKER));
    assert.equal(Deno.readTextFileSync(`${old}/images/index.json`), "{}");
  });
});

Deno.test("a store being made by a racing first command is made, not refused", async () => {
  await withDir(async (dir) => {
    // What another first command has done so far: the runtime dir, then the marker's tmp.
    Deno.mkdirSync(`${dir}/s/run/containers`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/s/${MARKER}.4242.tmp`, "");
    for (const root of [`${dir}/s`, `${dir}/s/`]) await new Store(root).init();
    assert.ok(names(`${dir}/s`).includes(MARKER));
  });
});

Deno.test("a directory that is not a store, or a file, is refused and nothing is made in it", async () => {
  await withDir(async (dir) => {
    Deno.mkdirSync(`${dir}/home/tmp`, { recursive: true });
    Deno.mkdirSync(`${dir}/home/layers`);
    Deno.writeTextFileSync(`${dir}/home/tmp/rm-notes`, "mine");
    Deno.writeTextFileSync(`${dir}/home/notes.txt`, "mine");
    const before = names(`${dir}/home`);
    await assert.rejects(
      new Store(`${dir}/home`).init(),
      (e: Error) =>
        e instanceof UsageError &&
        e.message ===
          `Cannot use "${dir}/home" as a store: it is a directory with other files and no ${MARKER}; choose an empty or new directory for --root`,
    );
    await assert.rejects(new Store(`${dir}/home`).locked(() => Promise.resolve()), UsageError);
    assert.deepEqual(names(`${dir}/home`), before);
    assert.deepEqual(names(`${dir}/home/tmp`), ["rm-notes"]);

    Deno.writeTextFileSync(`${dir}/file`, "");
    await assert.rejects(
      new Store(`${dir}/file`).init(),
      { message: `Cannot use "${dir}/file" as a store: it is not a directory; choose another --root` },
    );
    await assert.rejects(new Store("").init(), UsageError);
  });
});

Deno.test("one runtime dir per store: the library's default is the CLI's", () => {
  const root = Deno.uid() === 0 ? ROOT_STORE : rootlessStoreRoot();
  assert.equal(new Store(root).runRoot, defaultRunRoot(root));
  assert.equal(defaultRunRoot(`${root}/`), defaultRunRoot(root), "a trailing slash names the same store");
  if (Deno.uid() === 0) assert.equal(new Store(ROOT_STORE).runRoot, "/run/skiff");
  assert.equal(new Store("/srv/skiff").runRoot, "/srv/skiff/run");
  assert.equal(new Store("/srv/skiff", "/run/other").runRoot, "/run/other");
});

Deno.test("a JSON file of the store that cannot be parsed is named in the error", async () => {
  await withDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/config.json`, '{"id": "abc');
    await assert.rejects(readJson(`${dir}/config.json`), (e: Error) => {
      assert.match(describeError(e), new RegExp(`^Cannot parse "${dir}/config.json": Unterminated string`));
      return true;
    });
    assert.equal(await readJson(`${dir}/missing.json`), null);
  });
});

Deno.test({
  name: "a record is flushed to disk before its rename, and its directory after",
  ignore: !hasStrace,
  async fn() {
    await withDir((dir) => {
      const store = new URL("./store.ts", import.meta.url).href;
      const code =
        `import { writeAtomic } from "${store}"; await writeAtomic(Deno.args[0], "[]"); await writeAtomic(Deno.args[0], "{}");`;
      const trace = `${dir}/trace`;
      const out = new Deno.Command("strace", {
        args: ["-f", "-qq", "-y", "-o", trace, "-e", "trace=fsync,fdatasync,rename,renameat,renameat2"]
          .concat([Deno.execPath(), "eval", "--quiet", code, `${dir}/config.json`]),
      }).outputSync();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const calls = Deno.readTextFileSync(trace).split("\n");
      const renames = calls.flatMap((l, i) =>
        /rename\w*\(.*config\.json\.tmp".*config\.json"/.test(l) ? [i] : []
      );
      assert.equal(renames.length, 2, "the record is renamed into place, twice");
      const synced = (path: string) => (l: string) =>
        /\b(fsync|fdatasync)\(\d+</.test(l) && l.includes(`<${path}>`);
      assert.ok(
        calls.slice(0, renames[0]).some(synced(`${dir}/config.json.tmp`)),
        "the data is flushed first",
      );
      assert.ok(calls.slice(renames[0], renames[1]).some(synced(dir)), "then the directory of the new name");
      assert.ok(
        calls.slice(renames[0] + 1, renames[1]).some(synced(`${dir}/config.json.tmp`)),
        "a replacement is flushed before its rename too",
      );
      assert.equal(Deno.readTextFileSync(`${dir}/config.json`), "{}");
      return Promise.resolve();
    });
  },
});

Deno.test("waiting for the store lock does not stall the event loop", async () => {
  await withDir(async (dir) => {
    const store = new Store(dir);
    await store.init();
    // Another process holds the lock until this one's timer says so (or,
    // should the timer never run, for some seconds, so the test fails
    // rather than hangs).
    const go = `${dir}/go`;
    const holder = new Deno.Command("flock", {
      args: [
        store.lockFile,
        "sh",
        "-c",
        `echo held; i=0; while [ ! -e ${go} ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done`,
      ],
      stdout: "piped",
    }).spawn();
    const reader = holder.stdout.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), "held\n");
    reader.releaseLock();
    const order: string[] = [];
    const locked = store.locked(() => Promise.resolve(order.push("locked")));
    setTimeout(() => {
      order.push("timer");
      Deno.writeTextFileSync(go, "");
    }, 0);
    await locked;
    await holder.output();
    assert.deepEqual(order, ["timer", "locked"]);
  });
});
