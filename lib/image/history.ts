/**
 * `history`: an image's history entries, newest first, each with the size
 * of the layer it made, as docker's daemon lists them.
 *
 * @module
 */

import type { ImageConfig } from "./images.ts";

/** One entry of an image's history, as `history` shows it. */
export interface HistoryItem {
  /** `sha256:ID` for the image itself (the newest entry), else `<missing>`: no parent image is kept. */
  id: string;
  /** ISO 8601, or "" when the entry has none. */
  created: string;
  createdBy: string;
  comment: string;
  /** Bytes of the layer the entry made; 0 for an empty layer. */
  size: number;
}

/**
 * The history of image `id`, newest first, as moby's ImageHistory makes
 * it: each entry that is not `empty_layer` takes the next layer, bottom
 * first, and its size; only the newest entry has an id, since skiff, like
 * a pulled image in docker, keeps no parent images.
 *
 * @param layerSizes the bytes of each layer, bottom first
 * @throws {Error} when the history names more layers than the image has
 */
export function imageHistory(id: string, config: ImageConfig, layerSizes: number[]): HistoryItem[] {
  const items: HistoryItem[] = [];
  let layer = 0;
  // A loaded image's config is only checked to have an array here: read each field defensively.
  for (const h of config.history ?? []) {
    let size = 0;
    if (!h?.empty_layer) {
      if (layer >= layerSizes.length) {
        throw new Error(
          `Image ${id.slice(0, 12)} is damaged: its history names more layers than its ${layerSizes.length}`,
        );
      }
      size = layerSizes[layer++];
    }
    const text = (v: unknown) => typeof v === "string" ? v : "";
    items.unshift({
      id: "<missing>",
      created: text(h?.created),
      createdBy: text(h?.created_by),
      comment: text(h?.comment),
      size,
    });
  }
  if (items.length > 0) items[0].id = `sha256:${id}`;
  return items;
}
