/**
 * End-to-end tests of layers against hostile input and a hostile end: tars
 * whose headers name a member two ways, a skiff SIGKILLed while its helpers
 * run, and `export` of a container with host data mounted on it.
 */

import assert from "node:assert/strict";
import { background, entries, ROOT_ONLY, skiff, skiffArgv, skiffOk, waitFor, withStore } from "./helpers.ts";
import { longName, member, pax, tar } from "./tar_craft.ts";
import { childrenOf } from "../lib/host/proc.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** "type path size target" for every entry under `dir` (find's %y %P %s %l), sorted. */
async function tree(dir: string): Promise<string[]> {
  const out = await new Deno.Command("find", { args: [dir, "-mindepth", "1", "-printf", "%y %P %s %l\n"] })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "").sort();
}

async function run(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  assert.equal(out.code, 0, `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

const libc = Deno.dlopen("libc.so.6", {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
});
/** O_WRONLY | O_NONBLOCK, the same on x86_64 and aarch64. */
const WRITE_NONBLOCK = 0o1 | 0o4000;

/**
 * Whether a process has `fifo` open (or is opening it) for reading: a
 * non-blocking open for writing succeeds only then (fifo(7)). Opening it
 * also lets such a reader go on (and read nothing) instead of hanging.
 */
function fifoHasReader(fifo: string): boolean {
  const fd = libc.symbols.open(new TextEncoder().encode(`${fifo}\0`), WRITE_NONBLOCK);
  if (fd === -1) return false; // ENXIO: no reader
  libc.symbols.close(fd);
  return true;
}

test("save gives back a tar whose longname and pax path disagree, never opening what the longname names", async () => {
  await withStore(async (store) => {
    const dir = await Deno.makeTempDir({ prefix: "skiff-hostile-" });
    try {
      // A host file of the payload's size, its atime before its mtime: a read would move it (relatime).
      const secret = `${dir}/host-secret`;
      await Deno.writeTextFile(secret, "secret!\n");
      await Deno.utime(secret, 1000, new Date());
      const before = (await Deno.stat(secret)).atime!.getTime();
      // GNU tar names the file "real" (the pax path); the longname names the FIFO, or the symlink.
      const lie = [pax([["path", "real"]]), longName("trap"), member("header-name", "payload\n")];
      const variants: Record<string, Uint8Array<ArrayBuffer>> = {
        fifo: tar(member("trap", "", { type: "6" }), ...lie) as Uint8Array<ArrayBuffer>,
        symlink: tar(member("trap", "", { type: "2", linkname: secret }), ...lie) as Uint8Array<ArrayBuffer>,
        // GNU tar writes s/f through the symlink s -> d: no split then, a copy
        "symlinked dir": tar(
          member("d/", "", { type: "5", mode: 0o755 }),
          member("s", "", { type: "2", linkname: "d" }),
          member("s/f", "payload\n"),
        ) as Uint8Array<ArrayBuffer>,
      };
      for (const [name, bytes] of Object.entries(variants)) {
        const file = `${dir}/${name.replace(" ", "-")}.tar`;
        await Deno.writeFile(file, bytes);
        const diffId = await sha256(bytes);
        await skiffOk(store, ["import", file, name.replace(" ", "-")]);
        const gnu = `${dir}/${name.replace(" ", "-")}.gnu`;
        await Deno.mkdir(gnu);
        await run("tar", "-xf", file, "-C", gnu);
        assert.deepEqual(await tree(`${store}/layers/${diffId}`), await tree(gnu), `${name}: GNU tar's tree`);

        const out = `${dir}/${name.replace(" ", "-")}.oci.tar`;
        const saving = new Deno.Command(Deno.execPath(), {
          args: skiffArgv(store, ["save", "-o", out, name.replace(" ", "-")]),
          stdout: "null",
          stderr: "piped",
        }).output();
        let done = false;
        saving.finally(() => done = true);
        let openedFifo = false;
        while (!done) {
          if (name === "fifo" && fifoHasReader(`${store}/layers/${diffId}/trap`)) openedFifo = true;
          await new Promise((r) => setTimeout(r, 20));
        }
        const saved = await saving;
        assert.ok(!openedFifo, `${name}: save opened the layer's FIFO`);
        assert.equal(saved.code, 0, `${name}: ${new TextDecoder().decode(saved.stderr)}`);
        await Deno.mkdir(`${out}.d`);
        await run("tar", "-xf", out, "-C", `${out}.d`);
        const layer = await Deno.readFile(`${out}.d/blobs/sha256/${diffId}`);
        assert.equal(await sha256(layer), diffId, `${name}: the saved layer is the imported tar`);
      }
      assert.equal((await Deno.stat(secret)).atime!.getTime(), before, "the host file was not read");
      const symlinked = await sha256(variants["symlinked dir"]);
      assert.ok(
        entries(`${store}/blobs/sha256`).includes(symlinked),
        "a layer whose split fails is kept whole",
      );
      assert.ok(!entries(`${store}/blobs/sha256`).includes(`${symlinked}.split`));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }, { empty: true });
});

/** The processes whose command line mentions `path` and whose name is one of `names`. */
function processesOf(path: string, names: string[]): number[] {
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const comm = Deno.readTextFileSync(`/proc/${entry.name}/comm`).trim();
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`);
      if (names.includes(comm) && cmdline.includes(path)) found.push(Number(entry.name));
    } catch {
      // it ended meanwhile
    }
  }
  return found;
}

test("skiff SIGKILLed during an import leaves no tar or openssl running", async () => {
  await withStore(async (store) => {
    const dir = await Deno.makeTempDir({ prefix: "skiff-hostile-" });
    const stopped: number[] = [];
    // A tar of one 1 GiB file of zeros, sparse on disk: long to extract and
    // to hash, cheap to make.
    const file = `${dir}/big.tar`;
    const size = 1 << 30;
    await Deno.writeFile(file, member("zeros", "", { size }).subarray(0, 512));
    await Deno.truncate(file, 512 + size + 1024);
    const importing = background(store, ["import", file, "big"]);
    try {
      // Each helper is stopped the moment it shows up as skiff's child:
      // stopped, it cannot finish on its own, only a signal ends it now.
      const seen = new Set<string>();
      const stopNew = () => {
        const skiffPid = importing.skiffPid();
        for (const pid of skiffPid === undefined ? [] : childrenOf(skiffPid)) {
          let name = "";
          try {
            name = Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
          } catch { /* it ended */ }
          if ((name !== "tar" && name !== "openssl") || seen.has(name)) continue;
          Deno.kill(pid, "SIGSTOP");
          stopped.push(pid);
          seen.add(name);
        }
        return seen.size === 2;
      };
      await waitFor(stopNew);
      await importing.stop();
      await waitFor(() => stopped.every((pid) => !isRunning(pid)));
      assert.deepEqual(processesOf(store, ["tar", "openssl"]), []);
    } finally {
      for (const pid of stopped) {
        try {
          if (isRunning(pid)) Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
      await importing.stop();
      await Deno.remove(dir, { recursive: true });
    }
  }, { empty: true });
});

/** Whether a process exists and is not a zombie. */
function isRunning(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return false;
  }
}

test("export has the container's own files, not /proc, /sys or a volume, running or stopped alike", async () => {
  await withStore(async (store) => {
    const host = await Deno.makeTempDir({ prefix: "skiff-hostile-" });
    try {
      await Deno.writeTextFile(`${host}/host-data`, "from the host\n");
      const id = (await skiffOk(store, [
        "run",
        "-d",
        "--name",
        "c",
        "-v",
        `${host}:/data`,
        "busybox",
        "sh",
        "-c",
        "echo written > /written; while true; do sleep 0.1; done",
      ])).trim();
      await waitFor(() => entries(`${store}/containers/${id}/upper`).includes("written"));
      await skiffOk(store, ["export", "-o", `${host}/running.tar`, "c"]);
      await skiffOk(store, ["stop", "-t", "0", "c"]);
      await skiffOk(store, ["export", "-o", `${host}/stopped.tar`, "c"]);
      const names = (await run("tar", "-tf", `${host}/running.tar`)).split("\n").filter((n) => n !== "");
      assert.ok(names.includes("./written"), "the container's file");
      assert.ok(names.includes("./bin/busybox"), "the image's files");
      assert.ok(names.includes("./data/"), "the volume's mount point");
      assert.deepEqual(
        names.filter((n) => n.startsWith("./data/") && n !== "./data/"),
        [],
        "no volume contents",
      );
      for (const mount of ["proc", "sys", "dev"]) {
        assert.deepEqual(names.filter((n) => n.startsWith(`./${mount}/`) && n !== `./${mount}/`), [], mount);
      }
      assert.equal(
        await run("tar", "-xOf", `${host}/running.tar`, "./written"),
        "written\n",
      );
      assert.deepEqual(
        await run("tar", "-tvf", `${host}/running.tar`),
        await run("tar", "-tvf", `${host}/stopped.tar`),
        "the same tree, running or stopped",
      );
      assert.deepEqual(entries(`${store}/tmp`), [], "the mount point is gone");
    } finally {
      await skiff(store, ["rm", "-f", "c"]);
      await Deno.remove(host, { recursive: true });
    }
  });
});
