/**
 * End-to-end tests of layers against hostile input and a hostile end: tars
 * whose headers name a member two ways, a skiff SIGKILLed while its helpers
 * run, and `export` of a container with host data mounted on it.
 */

import assert from "node:assert/strict";
import { background, ROOT_ONLY, waitFor, withStore } from "./helpers.ts";
import { member } from "./tar_craft.ts";
import { childrenOf } from "../lib/host/proc.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

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
      const helpers = () => {
        const pid = importing.skiffPid();
        if (pid === undefined) return new Map<string, number>();
        return new Map(
          childrenOf(pid).map((c) => {
            try {
              return [Deno.readTextFileSync(`/proc/${c}/comm`).trim(), c] as const;
            } catch {
              return ["", c] as const;
            }
          }),
        );
      };
      await waitFor(() => helpers().has("tar") && helpers().has("openssl"));
      // Stopped, they cannot finish on their own: only a signal ends them now.
      for (const [name, pid] of helpers()) {
        if (name !== "tar" && name !== "openssl") continue;
        Deno.kill(pid, "SIGSTOP");
        stopped.push(pid);
      }
      assert.equal(stopped.length, 2);
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
