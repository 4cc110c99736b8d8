/**
 * The layer cache: each step's image, found again by a key made of what
 * decides the step's result: the parent image's id (its config's digest),
 * the instruction as expanded, the build args it sees, and for COPY and
 * ADD the digest of what is copied (copy.ts: content and metadata, not
 * mtimes). `images/build-cache.json` maps keys to images, as the index
 * maps names; garbage collection keeps what it names, and `image prune`
 * drops it with the other dangling images (lib/store/gc.ts, lib/image/prune.ts).
 *
 * @module
 */

import { type Image, type ImageConfig, writeImage } from "../image/images.ts";
import type { Layer } from "../image/layers.ts";
import { hasImage } from "../store/gc.ts";
import { readJson, sha256Hex, type Store, writeAtomic } from "../store/store.ts";

/** A cache entry: the image a step made. */
interface CacheEntry {
  id: string;
  manifest: string;
  size: number;
}

/** What a step's key is made of. */
export interface KeyParts {
  /** The parent image's id, or "scratch". */
  parent: string;
  /** The instruction, expanded, flags included. */
  instruction: string;
  /** The build args in scope, `K=V`, for RUN (what its environment gets). */
  args?: string[];
  /** COPY and ADD: the digest of what is copied. */
  content?: string;
}

/** A step's cache key. */
export async function cacheKey(parts: KeyParts): Promise<string> {
  return await sha256Hex(
    JSON.stringify([parts.parent, parts.instruction, parts.args ?? [], parts.content ?? ""]),
  );
}

/** The image cached under `key`, when it is whole in the store; null otherwise. */
export async function findCached(store: Store, key: string): Promise<Image | null> {
  const entry = ((await readJson<Record<string, CacheEntry>>(store.buildCache)) ?? {})[key];
  if (!entry || !(await hasImage(store, entry.id))) return null;
  const config = await readJson<ImageConfig>(store.blob(entry.id));
  if (config === null) return null;
  return { ref: "", ...entry, config };
}

/**
 * Stores a step's image (config and manifest blobs) and records it under
 * `key`, in one hold of the store lock, so the collector never sees its
 * layers unrecorded.
 */
export async function storeCached(
  store: Store,
  key: string,
  config: ImageConfig,
  layers: Layer[],
): Promise<Image> {
  return await store.locked(async () => {
    const image = await writeImage(store, config, layers);
    const cache = (await readJson<Record<string, CacheEntry>>(store.buildCache)) ?? {};
    cache[key] = { id: image.id, manifest: image.manifest, size: image.size };
    await writeAtomic(store.buildCache, JSON.stringify(cache, null, 1));
    return image;
  });
}
