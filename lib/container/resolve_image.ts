/**
 * Resolves what a run names to an image. It lives above the image code
 * because the busybox recipe, which makes an image, is called from here and
 * never from the index (lib/image must not depend on recipes).
 *
 * @module
 */

import { NotFoundError } from "../errors.ts";
import { findImage, type Image, importFile, normalizeRef, tarballName } from "../image/images.ts";
import type { Store } from "../store/store.ts";

/**
 * Resolves what the user named to an image: a stored image, the busybox
 * image (built on first use), or a path to a rootfs tarball, imported.
 *
 * @throws {NotFoundError} when none of these applies
 */
export async function resolveImage(store: Store, ref: string): Promise<Image> {
  if (looksLikePath(ref)) return await importFile(store, ref, tarballName(ref));
  const found = await findImage(store, ref);
  if (found) return found;
  // A full id is never a name to build (normalizeRef refuses it as one).
  if (!/^(sha256:)?[0-9a-f]{64}$/.test(ref) && normalizeRef(ref) === "busybox:latest") {
    const { buildBusyboxImage } = await import("../../images/busybox.ts");
    return await buildBusyboxImage(store);
  }
  throw new NotFoundError(
    `Unable to find image "${ref}": pulling is not supported yet; use "busybox", or skiff import FILE.tar ${ref}`,
  );
}

function looksLikePath(ref: string): boolean {
  return ref.includes("/") && (ref.startsWith(".") || ref.startsWith("/")) ||
    /\.(tar|tgz|tar\.gz)$/.test(ref);
}
