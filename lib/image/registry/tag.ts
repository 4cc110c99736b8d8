/**
 * `tag`: another name for an image of the store. A qualified target
 * (`127.0.0.1:5000/app:1`) is what `push` then sends to; a short one is
 * a local name, stored under `localhost/` (`app` -> `localhost/app:latest`),
 * as podman tags.
 *
 * @module
 */

import { NotFoundError } from "../../errors.ts";
import { findImage, type Image, imageLayers, localRef, storeImage } from "../images.ts";
import type { Store } from "../../store/store.ts";
import { findPulled } from "./local.ts";

/**
 * Tags image `source` as `target`.
 *
 * @throws {NotFoundError} when there is no such image
 * @throws {UsageError} when `target` is not a valid name
 */
export async function tagImage(store: Store, source: string, target: string): Promise<Image> {
  const key = localRef(target);
  const image = (source.includes("@") ? null : await findImage(store, source)) ??
    await findPulled(store, source);
  if (!image) throw new NotFoundError(`Cannot tag "${source}": no such image`);
  // the config's own bytes, so the id stays the same
  const configText = Deno.readTextFileSync(store.blob(image.id));
  return await storeImage(store, key, image.config, await imageLayers(store, image), configText);
}
