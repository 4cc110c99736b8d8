/**
 * Repo digests: which registry manifests an image of the store came from
 * or went to (`docker.io/library/alpine@sha256:…`), for `images --digests`
 * and `inspect`'s RepoDigests. Kept in `ROOT/images/repodigests.json`,
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
