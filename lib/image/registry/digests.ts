/**
 * Repo digests: which registry manifests an image of the store came from
 * or went to (`docker.io/library/alpine@sha256:…`), for `images --digests`
 * and `inspect`'s RepoDigests, and the gzip blob each layer is known by
 * (pulled as, or compressed to for a push), so a push can skip or mount it. Kept in `ROOT/images/repodigests.json`,
 * keyed by image id, beside the index rather than in it, so the index's
 * format stays as it is. Pure file access: no registry code is loaded.
 *
 * @module
 */

import { readJson, type Store, writeAtomic } from "../../store/store.ts";

type Digests = Record<string, string[]>;

function file(store: Store): string {
  return `${store.root}/images/repodigests.json`;
}

/** Records `name@digest` entries for image `id` (hex), keeping the others. */
export async function recordRepoDigests(store: Store, id: string, entries: string[]): Promise<void> {
  await store.locked(async () => {
    const all = (await readJson<Digests>(file(store)).catch(() => null)) ?? {};
    all[id] = [...new Set([...(all[id] ?? []), ...entries])].sort();
    await writeAtomic(file(store), JSON.stringify(all, null, 2));
  });
}

/** The repo digests of image `id` (hex), or [] when none are known. */
export async function repoDigests(store: Store, id: string): Promise<string[]> {
  const all = await readJson<Digests>(file(store)).catch(() => null);
  return all?.[id] ?? [];
}

/** A layer's gzip blob, as a registry has it. */
export interface Compressed {
  digest: string;
  size: number;
}

/** Beside the index and repodigests.json: the download area holds only downloads. */
function gzipFile(store: Store): string {
  return `${store.root}/images/layerblobs.json`;
}

/** The known gzip blob of each layer, by diff id (hex). */
export async function compressedLayers(store: Store): Promise<Record<string, Compressed>> {
  return (await readJson<Record<string, Compressed>>(gzipFile(store)).catch(() => null)) ?? {};
}

/** Remembers layers' gzip blobs, by diff id (hex), keeping the others. */
export async function rememberCompressed(store: Store, layers: Record<string, Compressed>): Promise<void> {
  if (Object.keys(layers).length === 0) return;
  await store.locked(async () => {
    await writeAtomic(gzipFile(store), JSON.stringify({ ...(await compressedLayers(store)), ...layers }));
  });
}
