/**
 * `diff`: what a container changed, from its upper dir, as docker's
 * overlay driver reports it: `A` added, `C` changed, `D` deleted (an
 * overlay whiteout, or an opaque directory over one the image has), each
 * added or deleted path's directory changed too, sorted by path.
 *
 * @module
 */

import { findContainer, listContainers } from "./containers.ts";
import { notChanges } from "./commit.ts";
import { type ImageConfig, layerDirs } from "../image/images.ts";
import { walkUpper } from "../image/layers.ts";
import { readJson, type Store } from "../store/store.ts";

/** One change, as docker diff prints it: `C /etc`. */
export interface Change {
  kind: "A" | "C" | "D";
  /** Absolute inside the container. */
  path: string;
}

/**
 * A path in the image's layers (topmost first), or null when none has it
 * or the topmost that has it whites it out.
 */
function inLayers(lowers: string[], path: string): Deno.FileInfo | null {
  for (const layer of lowers) {
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(`${layer}/${path}`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) continue;
      throw e;
    }
    return info.isCharDevice && info.rdev === 0 ? null : info;
  }
  return null;
}

/**
 * The changes an upper dir makes over its lower layers, as moby's
 * archive.OverlayChanges finds them: a directory that is in the image with
 * the same size, mode and mtime is no change by itself; the directory of
 * an added or deleted path is changed. Under an opaque directory nothing
 * of the image shows, so what is there is added.
 *
 * @param lowers the image's layer directories, topmost first
 * @param exclude paths relative to `upper` that are not the container's (mount points)
 */
export function upperChanges(upper: string, lowers: string[], exclude: string[]): Change[] {
  const changes: Change[] = [];
  const changedDirs = new Set<string>();
  const opaque: string[] = [];
  for (const entry of walkUpper(upper, exclude)) {
    const path = `/${entry.path}`;
    const hidden = opaque.some((dir) => path.startsWith(`${dir}/`));
    const below = hidden ? null : inLayers(lowers, entry.path);
    let kind: Change["kind"];
    if (entry.whiteout || (entry.opaque && below !== null)) kind = "D";
    else if (below === null) kind = "A";
    else {
      const { info } = entry;
      const same = info.isDirectory && below.isDirectory && info.size === below.size &&
        info.mode === below.mode && info.mtime?.getTime() === below.mtime?.getTime();
      if (same) continue;
      // a directory changed only by skiff's mount points in it (/etc by
      // /etc/hosts): docker makes those in a layer below the container's
      if (info.isDirectory && onlyExcluded(upper, entry.path, exclude)) continue;
      kind = "C";
    }
    if (entry.opaque) opaque.push(path);
    if (entry.info.isDirectory) changedDirs.add(path);
    const parent = path.slice(0, path.lastIndexOf("/"));
    if (kind !== "C" && parent !== "" && !changedDirs.has(parent)) {
      changes.push({ kind: "C", path: parent });
      changedDirs.add(parent);
    }
    changes.push({ kind, path });
  }
  // docker sorts by path, as Go compares strings: byte by byte
  return changes.sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

/** Whether every entry of the upper dir's directory `rel` is an excluded path (and there is one). */
function onlyExcluded(upper: string, rel: string, exclude: string[]): boolean {
  const names = [...Deno.readDirSync(`${upper}/${rel}`)].map((e) => `${rel}/${e.name}`);
  return names.length > 0 && names.every((n) => exclude.includes(n));
}

/**
 * A container's changes to its image's filesystem, running or not.
 *
 * @throws {NotFoundError} when no container answers to `ref`
 */
export async function containerDiff(store: Store, ref: string): Promise<Change[]> {
  const record = findContainer(await listContainers(store), ref);
  const config = await readJson<ImageConfig>(store.blob(record.imageId));
  if (config === null) throw new Error(`Cannot diff container "${ref}": its image's config is gone`);
  return upperChanges(`${store.container(record.id)}/upper`, layerDirs(store, config), notChanges(record));
}
