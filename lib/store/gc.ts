/**
 * Garbage collection: which images containers use, and the blobs and
 * layer directories nothing needs any more. It reads the image index, the
 * image configs and the container records as store data, under the store
 * lock, so what is in use is decided at the moment of deletion and no
 * caller can hand it a wrong set.
 *
 * @module
 */

import { DamagedFileError, readJson, type Store } from "./store.ts";

/** What the index maps a `name:tag` to (lib/image/images.ts). */
interface IndexEntry {
  id: string;
  manifest: string;
}

/** The images containers use. */
export interface InUse {
  /** Image ids (config sha256, hex) named by container records. */
  ids: Set<string>;
  /** Damaged records whose image could not be read: anything may be in use. */
  unknown: string[];
}

/** Records are written with JSON.stringify(record, null, 2): a cut-short one still shows its imageId. */
const IMAGE_ID = /"imageId":\s*"([0-9a-f]{64})"/;

/** The images that container records name. The caller holds the store lock. */
export async function imagesInUse(store: Store): Promise<InUse> {
  const used: InUse = { ids: new Set(), unknown: [] };
  let ids: string[];
  try {
    ids = [...Deno.readDirSync(store.containersDir)].map((e) => e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return used;
    throw e;
  }
  for (const id of ids) {
    try {
      const record = await readJson<{ imageId?: string }>(store.record(id));
      if (record?.imageId) used.ids.add(record.imageId);
    } catch (e) {
      if (!(e instanceof DamagedFileError)) throw e;
      const imageId = IMAGE_ID.exec(Deno.readTextFileSync(e.path))?.[1];
      if (imageId) used.ids.add(imageId);
      else used.unknown.push(e.path);
    }
  }
  return used;
}

/** A pin: `pin-PID-STARTTIME-DIFFID` in tmp/ (see {@link pinLayer}). */
const PIN = /^pin-\d+-\d+-([0-9a-f]{64})$/;

/**
 * Keeps layer `hex` (its directory and blob) from the collector until
 * {@link unpinLayers}, or until this process ends (the sweep then takes
 * the pin): extraction places a layer before its image is recorded, in
 * another hold of the lock. The caller holds the store lock.
 */
export function pinLayer(store: Store, hex: string): void {
  Deno.writeTextFileSync(`${store.tmpDir}/${store.tempPrefix("pin")}${hex}`, "");
}

/** Drops this process's pins of `hexes`, once an image names them. The caller holds the store lock. */
export function unpinLayers(store: Store, hexes: string[]): void {
  for (const hex of hexes) {
    try {
      Deno.removeSync(`${store.tmpDir}/${store.tempPrefix("pin")}${hex}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
}

/**
 * Whether image `id` is whole in the store: its config blob and every
 * layer directory it names. The caller holds the store lock.
 */
export async function hasImage(store: Store, id: string): Promise<boolean> {
  const config = await readJson<{ rootfs?: { diff_ids?: string[] } }>(store.blob(id));
  if (config === null) return false;
  return (config.rootfs?.diff_ids ?? []).every((d) => isDir(store.layer(d.replace(/^sha256:/, ""))));
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Every blob and layer directory that neither a tagged image, an image of
 * the build cache, an image a container uses, nor a live process's pin
 * refers to, as paths. When a
 * container record or an image config is damaged, what it needs is
 * unknown: the answer is null (a warning names the file). The caller
 * holds the store lock.
 */
export async function unneeded(store: Store): Promise<string[] | null> {
  const used = await imagesInUse(store);
  const unsure = [...used.unknown];
  const keep = new Set<string>();
  const keepConfig = async (id: string) => {
    keep.add(id);
    try {
      const config = await readJson<{ rootfs?: { diff_ids?: string[] } }>(store.blob(id));
      for (const d of config?.rootfs?.diff_ids ?? []) keep.add(d.replace(/^sha256:/, ""));
    } catch (e) {
      if (!(e instanceof DamagedFileError)) throw e;
      unsure.push(e.path);
    }
  };
  const index = (await readJson<Record<string, IndexEntry>>(store.imageIndex)) ?? {};
  // A build's intermediate images are kept for its cache until `image prune`.
  const cache = (await readJson<Record<string, IndexEntry>>(store.buildCache)) ?? {};
  for (const entry of [...Object.values(index), ...Object.values(cache)]) {
    keep.add(entry.manifest);
    await keepConfig(entry.id);
  }
  for (const id of used.ids) await keepConfig(id);
  // Layers placed for images not recorded yet; a dead maker's pins were swept already.
  for (const entry of Deno.readDirSync(store.tmpDir)) {
    const pinned = PIN.exec(entry.name)?.[1];
    if (pinned) keep.add(pinned);
  }
  if (unsure.length > 0) {
    console.warn(
      `skiff: warning: no layers removed: "${unsure[0]}" is damaged, so what is in use is unknown`,
    );
    return null;
  }
  const paths: string[] = [];
  for (const dir of [`${store.root}/blobs/sha256`, `${store.root}/layers`]) {
    for (const entry of Deno.readDirSync(dir)) {
      if (!keep.has(entry.name.replace(/\.split$/, ""))) paths.push(`${dir}/${entry.name}`);
    }
  }
  return paths;
}

/**
 * Moves to the trash everything {@link unneeded} finds; it is deleted once
 * the lock is released ({@link Store.discard}). A store too damaged to
 * tell what is in use keeps everything. The caller holds the store lock.
 *
 * @returns how many entries went
 */
export async function collectGarbage(store: Store): Promise<number> {
  let removed = 0;
  for (const path of await unneeded(store) ?? []) if (store.discard(path)) removed++;
  return removed;
}

/**
 * Undoes a failed import, load or pull: drops this process's pins of
 * `hexes`, then collects, so what it added goes unless an image, a
 * container or another live process's pin needs it. Takes the store lock;
 * a store too damaged to tell what is in use keeps everything (a warning
 * says which file).
 */
export async function discardUnrecorded(store: Store, hexes: string[]): Promise<void> {
  await store.locked(async () => {
    unpinLayers(store, hexes);
    await collectGarbage(store);
  });
}
