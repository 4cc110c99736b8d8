/**
 * Finding a pulled image by the name the user typed, without the registry
 * client: this is on the path of `run`, where only an image that is
 * missing may load the code that pulls (and its `node:` modules).
 *
 * @module
 */

import type { Store } from "../../store/store.ts";
import { findImage, type Image } from "../images.ts";
import { candidates, loadRegistriesConf } from "./config.ts";
import { storeKey } from "./reference.ts";

/**
 * The stored image a name means, as each registry it could come from
 * would have stored it (`alpine` at quay.io is `quay.io/alpine:latest`).
 *
 * @returns the image, or null when none is stored
 * @throws {UsageError} when the name is malformed
 */
export async function findPulled(store: Store, name: string): Promise<Image | null> {
  for (const c of candidates(name, loadRegistriesConf())) {
    const found = await findImage(store, storeKey(c.ref));
    if (found) return found;
  }
  return null;
}
