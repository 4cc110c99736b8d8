/**
 * The store end to end: what skiff accepts as a store, what its sweep and
 * collector may delete, and how it behaves when another command runs at
 * the same time, a record is damaged, or the disk is read-only.
 */

import assert from "node:assert/strict";
import {
  background,
  entries,
  mountsUnder,
  ROOT_ONLY,
  skiff,
  skiffArgv,
  skiffOk,
  waitFor,
  withStore,
} from "./helpers.ts";
import { childrenOf, processStartTime } from "../lib/host/proc.ts";
import { removeImage, storeImage } from "../lib/image/images.ts";
import { extractLayer } from "../lib/image/layers.ts";
import { Store } from "../lib/store/store.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A pid that is certainly dead: a process we ran and waited for. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

/** Every process below `pid`. */
function descendants(pid: number): number[] {
  const kids = childrenOf(pid);
  return kids.concat(kids.flatMap(descendants));
}

/** A process's state letter from /proc (R, S, T...), or null when it is gone. */
function stateOf(pid: number): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return null;
  }
}

/** Whether anyone holds the store's lock: `flock -n` fails then. */
function lockIsHeld(store: string): boolean {
  return !new Deno.Command("flock", { args: ["-n", `${store}/lock`, "true"] }).outputSync().success;
}

/** Whether a process waits for the store's lock (a `->` line of /proc/locks on its inode). */
function someoneWaitsForLock(store: string): boolean {
  const ino = Deno.statSync(`${store}/lock`).ino;
  return Deno.readTextFileSync("/proc/locks").split("\n").some((l) =>
    l.includes("->") && l.includes(`:${ino} `)
  );
}

/** The layer directories and config blob of image `id` that are missing from the store. */
function missingParts(store: string, id: string): string[] {
  const config = `${store}/blobs/sha256/${id}`;
  if (!exists(config)) return [config];
  const diffIds: string[] = JSON.parse(Deno.readTextFileSync(config)).rootfs.diff_ids;
  return diffIds.map((d) => `${store}/layers/${d.slice(7)}`).filter((p) => !exists(p));
}

/** Fills a container's writable layer with `n` small files, so that deleting it takes a while. */
function fillUpper(store: string, id: string, n: number): void {
  const dir = `${store}/containers/${id}/upper/many`;
  const py =
    "import os,sys\nd=sys.argv[1]\nos.makedirs(d)\nfor i in range(int(sys.argv[2])): open(f'{d}/{i}','w').close()";
  assert.ok(new Deno.Command("python3", { args: ["-c", py, dir, String(n)] }).outputSync().success);
}

test("an empty --root or --runroot is unset: the store is $SKIFF_ROOT's, never the host's /", async () => {
  await withStore(async (store) => {
    const before = { lock: exists("/lock"), containers: exists("/containers"), images: exists("/images") };
    const r = await skiff(store, [
      "--root",
      "",
      "--runroot",
      "",
      "run",
      "--rm",
      "busybox",
      "echo",
      "in-store",
    ], {
      env: { SKIFF_ROOT: store },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "in-store\n");
    assert.deepEqual(
      { lock: exists("/lock"), containers: exists("/containers"), images: exists("/images") },
      before,
      "nothing made in /",
    );
    assert.ok(exists(`${store}/run/containers`), "the runtime dir is the store's own");
  });
});

test("a directory that is not a store is refused by ps and rmi, and its files stay", async () => {
  const dir = await Deno.makeTempDir({ prefix: "skiff-notastore-" });
  try {
    const other = await deadPid();
    Deno.mkdirSync(`${dir}/tmp/rm-draft`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/tmp/name-${other}-notes`, "someone's");
    Deno.mkdirSync(`${dir}/layers/photos`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/todo.txt`, "mine");
    const before = [entries(dir), entries(`${dir}/tmp`), entries(`${dir}/layers`)];
    for (const args of [["ps", "-a"], ["rmi", "busybox"], ["run", "--rm", "busybox", "true"]]) {
      const r = await skiff(dir, args);
      assert.equal(r.code, args[0] === "rmi" ? 1 : 125, `${args[0]}: ${r.stderr}`);
      assert.equal(
        r.stderr,
        `skiff: Cannot use "${dir}" as a store: it is a directory with other files and no skiff-store.json; choose an empty or new directory for --root\n`,
      );
    }
    assert.deepEqual([entries(dir), entries(`${dir}/tmp`), entries(`${dir}/layers`)], before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("a store made before the marker is adopted: it gets the marker and keeps its images", async () => {
  await withStore(async (store) => {
    Deno.removeSync(`${store}/skiff-store.json`);
    await skiffOk(store, ["ps", "-a"]);
    assert.ok(exists(`${store}/skiff-store.json`));
    assert.match(await skiffOk(store, ["images"]), /busybox/);
  });
});

test("the sweep removes only skiff's leftovers whose maker is dead, by pid and start time", async () => {
  await withStore(async (store) => {
    const sleeper = new Deno.Command("sleep", { args: ["1000"] }).spawn();
    try {
      const dead = await deadPid();
      const live = `${sleeper.pid}-${processStartTime(sleeper.pid)}`;
      const made = {
        [`layer-${dead}-4242-abc`]: false, // its maker is gone: swept
        [`layer-${sleeper.pid}-1-abc`]: false, // the pid was reused by another process: swept
        [`layer-${live}-abc`]: true, // its maker lives: kept
        [`rm-${live}-0-big`]: true, // a live removal: kept
        [`name-${dead}-notes`]: true, // no start time: not skiff's name
        "rm-draft": true, // not skiff's name either
      };
      for (const name of Object.keys(made)) Deno.mkdirSync(`${store}/tmp/${name}/sub`, { recursive: true });
      await skiffOk(store, ["ps", "-a"]);
      const kept = Object.entries(made).filter(([, keep]) => keep).map(([name]) => name).sort();
      assert.deepEqual(entries(`${store}/tmp`), kept);
      for (const name of kept) Deno.removeSync(`${store}/tmp/${name}`, { recursive: true });
    } finally {
      sleeper.kill("SIGKILL");
      await sleeper.status;
    }
  });
});

test("an import's work in tmp survives other commands while it lives, and is swept once it is killed", async () => {
  await withStore(async (store) => {
    const tar = `${store}-rootfs.tar`;
    const py = "import tarfile,io,sys\nwith tarfile.open(sys.argv[1],'w') as t:\n" +
      " for i in range(200):\n  d=bytes(4096); f=tarfile.TarInfo(f'f{i}'); f.size=len(d); t.addfile(f,io.BytesIO(d))";
    assert.ok(new Deno.Command("python3", { args: ["-c", py, tar] }).outputSync().success);
    try {
      for (const ending of ["continue", "kill"] as const) {
        const importing = background(store, ["import", tar, `img-${ending}`]);
        try {
          await waitFor(() => entries(`${store}/tmp`).some((e) => e.startsWith("layer-")));
          const pid = importing.skiffPid()!;
          Deno.kill(pid, "SIGSTOP"); // alive, but going nowhere
          await waitFor(() => stateOf(pid) === "T");
          const work = entries(`${store}/tmp`);
          await skiffOk(store, ["ps", "-a"]);
          assert.deepEqual(entries(`${store}/tmp`), work, "a live maker's work stays");
          if (ending === "kill") {
            await importing.stop();
            await skiffOk(store, ["ps", "-a"]);
            assert.deepEqual(entries(`${store}/tmp`), [], "a dead maker's work is swept");
          } else {
            Deno.kill(pid, "SIGCONT");
            assert.equal((await importing.child.status).code, 0);
            assert.match(await skiffOk(store, ["images"]), /img-continue/);
          }
        } finally {
          await importing.stop();
        }
      }
    } finally {
      Deno.removeSync(tar);
    }
  });
});

test("rmi decides what is in use under the lock: a run starting meanwhile keeps its layers or fails cleanly", async () => {
  await withStore(async (store) => {
    // rmi is held where it reads the image index, by a FIFO in its place:
    // the run below starts while rmi is between looking and deleting.
    const index = `${store}/images/index.json`;
    const content = Deno.readTextFileSync(index);
    const fifo = `${store}/index.fifo`;
    assert.ok(new Deno.Command("mkfifo", { args: [fifo] }).outputSync().success);
    Deno.linkSync(fifo, `${index}.fifo`);
    Deno.renameSync(`${index}.fifo`, index);
    const rmi = new Deno.Command(Deno.execPath(), {
      args: skiffArgv(store, ["rmi", "busybox"]),
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const rmiDone = rmi.output();
    let runDone: Promise<Deno.CommandOutput> | undefined;
    let fed = false;
    const feed = () => {
      if (fed) return;
      fed = true;
      using writer = Deno.openSync(fifo, { write: true });
      writer.writeSync(new TextEncoder().encode(content));
    };
    try {
      const waitsOnFifo = (pid: number) => {
        try {
          return Deno.readTextFileSync(`/proc/${pid}/wchan`) === "wait_for_partner";
        } catch {
          return false;
        }
      };
      await waitFor(() => descendants(rmi.pid).some(waitsOnFifo));
      Deno.writeTextFileSync(`${index}.tmp`, content);
      Deno.renameSync(`${index}.tmp`, index); // the run reads the real index
      const run = new Deno.Command(Deno.execPath(), {
        args: skiffArgv(store, ["run", "-d", "--name", "c", "busybox", "sleep", "1000"]),
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      runDone = run.output();
      const ended = runDone.then(() => true);
      // The run gets as far as it can: done, or waiting for the lock rmi holds.
      await waitFor(async () => someoneWaitsForLock(store) || await Promise.race([ended, false]));
      feed();
      const [removed, started] = await Promise.all([rmiDone, runDone]);
      const text = new TextDecoder();
      const containers = (await skiffOk(store, ["ps", "-a", "--format", "json"])).trim().split("\n")
        .filter((l) => l !== "").map((l) => JSON.parse(l));
      for (const c of containers) {
        assert.deepEqual(missingParts(store, c.imageId), [], `container ${c.name} keeps its image's layers`);
      }
      if (removed.code === 0) {
        assert.equal(containers.length, 0, "the image went first: the run must not have a container");
        assert.equal(started.code, 125);
        assert.match(text.decode(started.stderr), /^skiff: .*was removed meanwhile; try again\n$/);
      } else {
        assert.equal(started.code, 0, text.decode(started.stderr));
        assert.match(text.decode(removed.stderr), /a container uses it/);
      }
    } finally {
      // Unfed, rmi may wait on the FIFO for ever: it goes (a writer would block without it).
      if (!fed) {
        for (const pid of descendants(rmi.pid).reverse()) Deno.kill(pid, "SIGKILL");
      }
      await rmiDone;
      await runDone;
      await skiff(store, ["rm", "-f", "c"]);
      Deno.removeSync(fifo);
    }
  });
});

test("removeImage decides for itself: a library caller cannot make it delete the layers a container uses", async () => {
  await withStore(async (store) => {
    await skiffOk(store, ["run", "--name", "c", "busybox", "true"]);
    const [imageId] = (await skiffOk(store, ["ps", "-a", "--format", "json"])).trim().split("\n")
      .map((l) => JSON.parse(l).imageId);
    await removeImage(new Store(store), "busybox", { force: true });
    assert.doesNotMatch(await skiffOk(store, ["images"]), /busybox/, "untagged");
    assert.deepEqual(missingParts(store, imageId), [], "the container's layers stay");
    const r = await skiff(store, ["start", "-a", "c"]);
    assert.equal(r.code, 0, r.stderr);
    await skiffOk(store, ["rm", "c"]);
  });
});

test("rm of a big container deletes its files after releasing the lock; a killed rm's trash is swept", async () => {
  await withStore(async (store) => {
    for (const name of ["big", "big2"]) {
      await skiffOk(store, ["run", "--name", name, "busybox", "true"]);
      const id = (await skiffOk(store, ["ps", "-a", "-q", "--no-trunc"])).split("\n")[0];
      fillUpper(store, id, 20000);
      const removing = background(store, ["rm", name]);
      try {
        const trash = () => entries(`${store}/tmp`).some((e) => e.startsWith("rm-"));
        // Stop rm whenever its trash is there, and look at the lock.
        let freeWhileDeleting = false;
        await waitFor(async () => {
          const pid = removing.skiffPid();
          if (pid === undefined || !trash()) {
            return await Promise.race([removing.child.status.then(() => true), false]);
          }
          Deno.kill(pid, "SIGSTOP");
          await waitFor(() => stateOf(pid) === "T" || stateOf(pid) === null);
          freeWhileDeleting = trash() && !lockIsHeld(store);
          if (freeWhileDeleting && name === "big2") return true;
          Deno.kill(pid, "SIGCONT");
          return freeWhileDeleting;
        });
        assert.ok(freeWhileDeleting, "other commands may take the lock while the files go");
        if (name === "big") {
          assert.equal((await removing.child.status).code, 0);
        } else {
          await removing.stop(); // SIGKILLed halfway through the delete
          assert.ok(trash());
          await skiffOk(store, ["ps", "-a"]);
          assert.deepEqual(entries(`${store}/tmp`), [], "the next command empties a dead remover's trash");
        }
        assert.deepEqual(entries(`${store}/containers`), []);
      } finally {
        const pid = removing.skiffPid();
        if (pid !== undefined) {
          try {
            Deno.kill(pid, "SIGCONT");
          } catch { /* gone */ }
        }
        await removing.stop();
      }
    }
  });
});

test("a container run through the library and removed by the CLI leaves no runtime state", async () => {
  await withStore(async (store) => {
    const mod = new URL("../mod.ts", import.meta.url).href;
    const code = `import { runContainer, Store } from "${mod}";
      const store = new Store(Deno.args[0]);
      Deno.exit(await runContainer(store, { image: "busybox", command: ["true"], name: "lib", env: ["TOKEN=s3cret"], network: { network: "none" } }));`;
    const ran = await new Deno.Command(Deno.execPath(), { args: ["eval", "--quiet", code, store] }).output();
    assert.equal(ran.code, 0, new TextDecoder().decode(ran.stderr));
    const runtime = `${store}/run/containers`;
    const [id] = entries(runtime);
    assert.ok(exists(`${runtime}/${id}/init.json`), "the library's run left its spec, secrets included");
    // The CLI may be given another runtime dir (--runroot, or a default of
    // its own): removal still takes the one the container was made with.
    const otherRun = `${store}-run`;
    try {
      await skiffOk(store, ["--runroot", otherRun, "rm", "lib"]);
      assert.deepEqual(entries(runtime), []);
      assert.deepEqual(entries(`${otherRun}/containers`), []);
    } finally {
      await Deno.remove(otherRun, { recursive: true }).catch(() => {});
    }
  });
});

test("a damaged record is skipped with a warning naming it, shown by ps -a, and removed by rm -f", async () => {
  await withStore(async (store) => {
    await skiffOk(store, ["run", "--name", "good", "busybox", "true"]);
    await skiffOk(store, ["run", "--name", "bad", "busybox", "true"]);
    const records = (await skiffOk(store, ["ps", "-a", "--format", "json"])).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    const bad = records.find((r) => r.name === "bad").id as string;
    const file = `${store}/containers/${bad}/config.json`;
    const text = Deno.readTextFileSync(file);
    Deno.writeTextFileSync(file, text.slice(0, text.indexOf('"command"') + 15)); // cut short, as a crash can

    const ps = await skiff(store, ["ps", "-a"]);
    assert.equal(ps.code, 0, ps.stderr);
    assert.equal(ps.stderr.split("\n").length, 2, `one line: ${ps.stderr}`);
    assert.match(ps.stderr, new RegExp(`^skiff: warning: .*"${file}" is damaged: .*JSON.*\n$`));
    const rows = ps.stdout.trim().split("\n");
    assert.ok(rows.some((r) => r.includes("good") && r.includes("Exited (0)")));
    assert.ok(rows.some((r) => r.startsWith(bad.slice(0, 12)) && r.includes("Damaged")), ps.stdout);
    assert.doesNotMatch(await skiffOk(store, ["ps"]), /Damaged/, "only -a shows it");

    const run = await skiff(store, ["run", "--rm", "busybox", "echo", "still-runs"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "still-runs\n");

    const refused = await skiff(store, ["rm", bad.slice(0, 12)]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`its record "${file}" is damaged; use rm -f`));
    await skiffOk(store, ["rm", "-f", bad.slice(0, 12)]);
    const after = await skiff(store, ["ps", "-a"]);
    assert.equal(after.stderr, "");
    assert.doesNotMatch(after.stdout, /Damaged/);
    assert.deepEqual(entries(`${store}/containers`), [records.find((r) => r.name === "good").id]);

    Deno.writeTextFileSync(`${store}/images/index.json`, '{"busybox:latest": {"id": "ab');
    const images = await skiff(store, ["images"]);
    assert.equal(images.code, 125);
    assert.match(images.stderr, new RegExp(`^skiff: Cannot parse "${store}/images/index.json": .*\n$`));
  });
});

test("a read-only store gets one clear line, and --root FILE names --root", async () => {
  await withStore(async (store) => {
    const ro = `${store}-ro`;
    Deno.mkdirSync(ro);
    const mount = (...args: string[]) => new Deno.Command("mount", { args }).outputSync();
    try {
      assert.equal(mount("--bind", store, ro).code, 0);
      assert.equal(mount("-o", "remount,bind,ro", ro).code, 0);
      for (const args of [["ps"], ["run", "--rm", "busybox", "true"], ["rmi", "busybox"]]) {
        const r = await skiff(ro, args);
        assert.equal(r.code, args[0] === "rmi" ? 1 : 125, r.stderr);
        assert.equal(r.stderr, `skiff: Cannot write the store "${ro}": read-only file system\n`);
      }
    } finally {
      for (const _ of mountsUnder(ro)) new Deno.Command("umount", { args: [ro] }).outputSync();
      Deno.removeSync(ro);
    }
    const file = `${store}/a-file`;
    Deno.writeTextFileSync(file, "");
    const r = await skiff(file, ["ps"]);
    assert.equal(r.code, 125);
    assert.equal(
      r.stderr,
      `skiff: Cannot use "${file}" as a store: it is not a directory; choose another --root\n`,
    );
  });
});

test("a layer extracted for an image not yet stored survives a collection meanwhile", async () => {
  await withStore(async (store) => {
    const tar = `${store}-layer.tar`;
    const py = "import tarfile,io,sys\nwith tarfile.open(sys.argv[1],'w') as t:\n" +
      " d=b'pinned\\n'; f=tarfile.TarInfo('hello'); f.size=len(d); t.addfile(f,io.BytesIO(d))";
    assert.ok(new Deno.Command("python3", { args: ["-c", py, tar] }).outputSync().success);
    try {
      const lib = new Store(store);
      // What import, load and commit do: extract, then store the image; an
      // rmi of another image may collect in between.
      const layer = await extractLayer(lib, tar, "layer.tar");
      await skiffOk(store, ["run", "--name", "c", "busybox", "true"]);
      await removeImage(lib, "busybox", { force: true });
      assert.ok(exists(`${store}/layers/${layer.diffId}/hello`), "the new layer stays");
      await storeImage(lib, "pinned", {
        created: new Date().toISOString(),
        architecture: "amd64",
        os: "linux",
        config: {},
        rootfs: { type: "layers", diff_ids: [`sha256:${layer.diffId}`] },
      }, [layer]);
      assert.deepEqual(entries(`${store}/tmp`), [], "no pin outlives the image's record");
      await skiffOk(store, ["rm", "c"]);
      await skiffOk(store, ["rmi", "pinned"]);
      assert.deepEqual(entries(`${store}/layers`), [], "then it is collected like any other");
    } finally {
      Deno.removeSync(tar);
    }
  });
});
