/**
 * `container prune` and `volume prune`: what no container needs, removed,
 * and the space it took, as docker reports it.
 *
 * @module
 */

import { type ContainerRecord, listContainers, readRecords, removeContainer } from "./containers.ts";
import { InvalidStateError } from "../errors.ts";
import { containersUsing, listVolumes, type Volume } from "./volumes.ts";
import type { Store } from "../store/store.ts";

/** What a prune removed: ids or names, and the bytes they held. */
export interface Pruned {
  removed: string[];
  bytes: number;
}

/**
 * The bytes of the files under `dir` (a hard-linked file once), as docker
 * counts a container's writable layer or a volume: directories' own blocks
 * not counted.
 */
export function treeSize(dir: string): number {
  const seen = new Set<number>();
  let bytes = 0;
  const walk = (path: string) => {
    for (const entry of Deno.readDirSync(path)) {
      const info = Deno.lstatSync(`${path}/${entry.name}`);
      if (info.isDirectory) walk(`${path}/${entry.name}`);
      else if (info.ino === null || !seen.has(info.ino)) {
        if (info.ino !== null) seen.add(info.ino);
        bytes += info.size;
      }
    }
  };
  try {
    walk(dir);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return bytes;
}

/**
 * Removes every exited container, as `docker container prune` does. Each
 * is removed as `rm` removes it, which checks again under the store lock
 * that it is exited: one started meanwhile stays.
 */
export async function pruneContainers(store: Store): Promise<Pruned> {
  const pruned: Pruned = { removed: [], bytes: 0 };
  for (const record of await listContainers(store)) {
    if (record.status !== "exited") continue;
    const bytes = treeSize(`${store.container(record.id)}/upper`);
    try {
      await removeContainer(store, record.id);
    } catch (e) {
      if (e instanceof InvalidStateError) continue; // started again meanwhile
      throw e;
    }
    pruned.removed.push(record.id);
    pruned.bytes += bytes;
  }
  return pruned;
}

/**
 * Removes every volume no container uses, running or not, as
 * `docker volume prune` does, deciding and removing under one hold of the
 * store lock. While a container is being set up none is removed: its
 * record names its volumes only once they are ready, so any volume could
 * be about to be its.
 */
export async function pruneVolumes(store: Store): Promise<Pruned> {
  const unused = (records: ContainerRecord[], volumes: Volume[]) =>
    records.some((r) => r.status === "created")
      ? []
      : volumes.filter((v) => containersUsing(records, v.Name).length === 0);
  // sizes before the lock (a big volume takes a while to walk), of those unused now
  const sizes = new Map<string, number>();
  for (const v of unused(await listContainers(store), await listVolumes(store))) {
    sizes.set(v.Name, treeSize(v.Mountpoint));
  }
  return await store.locked(async () => {
    const pruned: Pruned = { removed: [], bytes: 0 };
    for (const v of unused(await readRecords(store), await listVolumes(store))) {
      store.discard(store.volume(v.Name));
      pruned.removed.push(v.Name);
      pruned.bytes += sizes.get(v.Name) ?? 0;
    }
    return pruned;
  });
}
