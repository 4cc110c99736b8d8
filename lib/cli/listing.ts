/**
 * What `ps` and `images` do beyond their plain tables, loaded only when
 * asked for: `--filter`, ps's `-n`/`--last`, `-l`/`--latest`,
 * `-s`/`--size`, and a `--format` template (lib/cli/template.ts).
 *
 * @module
 */

import type { ContainerRecord } from "../container/containers.ts";
import {
  containerFilter,
  IMAGE_FILTERS,
  labelsMatch,
  parseFilters,
  pathMatch,
  PS_FILTERS,
} from "../container/filters.ts";
import { treeSize } from "../container/prune.ts";
import { findImage, type Image, listImages } from "../image/images.ts";
import { danglingImages } from "../image/prune.ts";
import { UsageError } from "../errors.ts";
import type { Store } from "../store/store.ts";
import {
  CONTAINER_HEADERS,
  containerContext,
  IMAGE_HEADERS,
  imageContext,
  IMAGES_TABLE,
  printFormatted,
  PS_TABLE,
} from "./contexts.ts";

/** ps's options as parsed. */
export type PsOptions = Record<string, boolean | string | string[] | undefined>;

/**
 * The containers ps shows, newest first: running ones unless `-a`, a
 * `status` filter, or `-n`/`-l` (which count every state, as docker's).
 *
 * @param records every container, newest first
 * @throws {UsageError} for a bad filter or `-n`
 */
export async function selectContainers(
  store: Store,
  records: ContainerRecord[],
  o: PsOptions,
): Promise<ContainerRecord[]> {
  const filters = parseFilters((o.filter as string[] | undefined) ?? [], PS_FILTERS);
  let last = o.latest ? 1 : undefined;
  if (o.last !== undefined) {
    last = Number(o.last);
    if (!/^-?[0-9]+$/.test(String(o.last))) {
      throw new UsageError(`invalid argument "${o.last}" for "-n, --last" flag: use a whole number`);
    }
  }
  const all = Boolean(o.all) || filters.has("status") || (last !== undefined && last > 0);
  const ancestors = new Map<string, string | null>();
  for (const a of filters.get("ancestor") ?? []) {
    ancestors.set(a, (await findImage(store, a).catch(() => null))?.id ?? null);
  }
  const keep = containerFilter(filters, records, ancestors);
  const shown = records.filter((r) => (all || r.status === "running" || r.status === "paused") && keep(r));
  return last !== undefined && last > 0 ? shown.slice(0, last) : shown;
}

/** -s: a container's writable layer and its image's bytes. */
export async function sizesOf(
  store: Store,
  records: ContainerRecord[],
): Promise<Map<string, { rw: number; image: number }>> {
  const images = new Map((await listImages(store)).map((i) => [i.id, i.size]));
  return new Map(
    records.map((
      r,
    ) => [r.id, { rw: treeSize(`${store.container(r.id)}/upper`), image: images.get(r.imageId) ?? 0 }]),
  );
}

/** Prints containers with a `--format` template (`table` too), docker's ContainerContext as the data. */
export async function printPsFormat(
  store: Store,
  records: ContainerRecord[],
  o: PsOptions,
  statusText: (r: ContainerRecord) => string,
): Promise<void> {
  const sizes = o.size ? await sizesOf(store, records) : new Map();
  const trunc = !o["no-trunc"];
  const items = records.map((r) =>
    containerContext(r, { trunc, status: statusText(r), size: sizes.get(r.id) })
  );
  printFormatted(String(o.format), items, CONTAINER_HEADERS, o.size ? `${PS_TABLE}\t{{.Size}}` : PS_TABLE);
}

/** One line of `images`: a tagged image, or a dangling one (no `image`: `<none>`). */
export interface ImageLine {
  image: Image | null;
  id: string;
  size: number;
  created: string;
}

/** The names a `reference=` pattern is matched against: as stored, without the tag, and docker's familiar form. */
function namesOf(ref: string): string[] {
  const familiar = ref.replace(/^(docker\.io\/library\/|docker\.io\/|localhost\/)/, "");
  const untagged = (r: string) => r.slice(0, r.lastIndexOf(":"));
  return [ref, untagged(ref), familiar, untagged(familiar)];
}

/**
 * The lines `images --filter` shows: tagged images, or with
 * `dangling=true` the untagged ones `image prune` would remove.
 *
 * @throws {UsageError} for an unknown key or a bad `dangling` value
 */
export async function selectImages(store: Store, o: PsOptions): Promise<ImageLine[]> {
  const filters = parseFilters((o.filter as string[] | undefined) ?? [], IMAGE_FILTERS);
  const dangling = filters.get("dangling") ?? [];
  for (const d of dangling) {
    if (!["true", "false", "1", "0"].includes(d.toLowerCase())) {
      throw new UsageError(`invalid filter 'dangling=${d}'`);
    }
  }
  const tagged = await listImages(store);
  const created = (key: string) =>
    Promise.all((filters.get(key) ?? []).map(async (ref) => {
      const image = await findImage(store, ref);
      if (!image) throw new UsageError(`No such image: ${ref}`);
      return image.config.created;
    }));
  const [before, since] = [await created("before"), await created("since")];
  const lines: ImageLine[] = dangling.some((d) => ["true", "1"].includes(d.toLowerCase()))
    ? (await danglingImages(store)).map((d) => ({ image: null, ...d }))
    : tagged.map((i) => ({ image: i, id: i.id, size: i.size, created: i.config.created }));
  return lines.filter((l) =>
    (!filters.has("reference") ||
      (l.image !== null &&
        filters.get("reference")!.some((p) => namesOf(l.image!.ref).some((n) => pathMatch(p, n))))) &&
    (!filters.has("label") || labelsMatch(l.image?.config.config?.Labels, filters.get("label")!)) &&
    before.every((t) => l.created < t) &&
    since.every((t) => l.created > t)
  );
}

/** Prints images with a `--format` template, docker's ImageContext as the data. */
export function printImagesFormat(lines: ImageLine[], format: string): void {
  const items = lines.map((l) => imageContext(l.image, l.id, l.size, l.created));
  printFormatted(format, items, IMAGE_HEADERS, IMAGES_TABLE);
}
