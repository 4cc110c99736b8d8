/**
 * `image prune`, with docker's meaning: the dangling images go (those no
 * tag names and no container or tagged image needs: what a tag moved to
 * another image, or `rmi -f` of an image in use, leaves behind once its
 * container is gone); with `all`, every image no container uses is
 * untagged first. Downloads no running pull holds go too
 * (lib/image/registry/downloads.ts).
 *
 * @module
 */

import { listImages, removeTags } from "./images.ts";
import { imagesInUse, unneeded } from "../store/gc.ts";
import type { Store } from "../store/store.ts";
import { type RemovedDownload, sweepDownloads } from "./registry/downloads.ts";
import { MAX_MANIFEST } from "./registry/manifest.ts";

/** What a prune removed. */
export interface PruneReport {
  /** Names taken out of the index (with `all`). */
  untagged: string[];
  /** Ids (hex) of the images whose config went. */
  deleted: string[];
  /** Downloads removed from the download area. */
  downloads: RemovedDownload[];
  /** Bytes of the files removed, each hard-linked file once. */
  reclaimed: number;
}

/**
 * Removes dangling images, and with `all` every image no container uses,
 * then every blob and layer nothing needs and the downloads no pull holds.
 * Decided under one hold of the store lock, so a `run` starting meanwhile
 * either pinned its image first or finds it gone. A damaged container
 * record keeps everything (what it uses is unknown; a warning says so).
 */
export async function pruneImages(store: Store, { all = false } = {}): Promise<PruneReport> {
  const report: PruneReport = { untagged: [], deleted: [], downloads: [], reclaimed: 0 };
  await store.locked(async () => {
    if (all) {
      const used = await imagesInUse(store);
      // with a damaged record anything may be in use: untag nothing (unneeded warns)
      if (used.unknown.length === 0) {
        report.untagged = (await listImages(store)).filter((i) => !used.ids.has(i.id)).map((i) => i.ref);
        await removeTags(store, report.untagged);
      }
    }
    // The build cache's images are dangling ones too, as podman's intermediate images are.
    await Deno.remove(store.buildCache).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    const seen = new Set<string>();
    for (const path of await unneeded(store) ?? []) {
      const name = path.slice(path.lastIndexOf("/") + 1);
      if (path.startsWith(`${store.root}/blobs/`) && isImageConfig(path)) report.deleted.push(name);
      report.reclaimed += diskUsage(path, seen);
      store.discard(path);
    }
  });
  report.downloads = sweepDownloads(store);
  report.reclaimed += report.downloads.reduce((sum, d) => sum + d.size, 0);
  return report;
}

/** A dangling image, as `images --filter dangling=true` lists it. */
export interface DanglingImage {
  /** sha256 of its config, hex. */
  id: string;
  created: string;
  /** Its layers' bytes still in the store. */
  size: number;
}

/** The images `image prune` would remove: untagged, and needed by no container or tagged image. */
export async function danglingImages(store: Store): Promise<DanglingImage[]> {
  const paths = await store.locked(async () => (await unneeded(store)) ?? []);
  const found: DanglingImage[] = [];
  for (const path of paths) {
    if (!path.startsWith(`${store.root}/blobs/`) || !isImageConfig(path)) continue;
    const config = JSON.parse(Deno.readTextFileSync(path));
    const seen = new Set<string>();
    const size = (config.rootfs.diff_ids as string[])
      .reduce((n, d) => n + diskUsage(store.layer(d.replace(/^sha256:/, "")), seen), 0);
    found.push({
      id: path.slice(path.lastIndexOf("/") + 1),
      created: config.created ?? "1970-01-01T00:00:00Z",
      size,
    });
  }
  return found.sort((a, b) => (a.created < b.created ? 1 : -1));
}

/** Whether a blob is an image config (JSON with `rootfs.diff_ids`), not a manifest or a layer tar. */
function isImageConfig(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    if (!info.isFile || info.size > MAX_MANIFEST) return false;
    const doc = JSON.parse(Deno.readTextFileSync(path));
    return Array.isArray(doc?.rootfs?.diff_ids);
  } catch {
    return false; // a layer tar, or not JSON
  }
}

/** Bytes of the regular files at and under `path`, skipping inodes in `seen` (hard links). */
function diskUsage(path: string, seen: Set<string>): number {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch {
    return 0;
  }
  if (info.isDirectory) {
    let sum = 0;
    for (const entry of Deno.readDirSync(path)) sum += diskUsage(`${path}/${entry.name}`, seen);
    return sum;
  }
  if (!info.isFile) return 0;
  const key = `${info.dev}:${info.ino}`;
  if (seen.has(key)) return 0;
  seen.add(key);
  return info.size;
}
