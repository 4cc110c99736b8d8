/**
 * Resolves what a run names to an image. It lives above the image code
 * because the busybox recipe, which makes an image, is called from here and
 * never from the index (lib/image must not depend on recipes).
 *
 * @module
 */

import { NotFoundError, UsageError } from "../errors.ts";
import { BUSYBOX_IMAGE, findImage, type Image, importFile, localRef, tarballName } from "../image/images.ts";
import type { Store } from "../store/store.ts";
import { later } from "../host/later.ts";

/** `run --pull`: pull when the image is missing (the default, as podman), always, or never. */
export type PullPolicy = "missing" | "always" | "never";

const FULL_ID = /^(sha256:)?[0-9a-f]{64}$/;

/**
 * Resolves what the user named to an image: a stored image, the busybox
 * image (built from the host on first use, offline, when no busybox is
 * stored), a path to a rootfs tarball, imported, or else one pulled from
 * a registry. The registry code (and its `node:` modules) is loaded only
 * when a pull is needed.
 *
 * @throws {UsageError} for a policy other than missing, always or never
 * @throws {NotFoundError} when no registry has it, or `never` and it is not stored
 */
export async function resolveImage(store: Store, ref: string, pull: PullPolicy = "missing"): Promise<Image> {
  if (!["missing", "always", "never"].includes(pull)) {
    throw new UsageError(`Invalid --pull "${pull}": use missing, always or never`);
  }
  if (looksLikePath(ref)) return await importFile(store, ref, tarballName(ref));
  // A full id names a stored image or none: it is never a name to build or pull.
  if (FULL_ID.test(ref)) {
    const found = await findImage(store, ref);
    if (found) return found;
    throw new NotFoundError(`Unable to find image "${ref}": no image has that id`);
  }
  if (pull !== "always") {
    const found = ref.includes("@") ? null : await findImage(store, ref);
    if (found) return found;
    // `busybox` (or `localhost/busybox`) means the recipe's image, made here
    if (!ref.includes("@") && localRef(ref) === BUSYBOX_IMAGE) {
      const { buildBusyboxImage } = await later<typeof import("../../images/busybox.ts")>(
        "../../images/busybox.ts",
        import.meta.url,
      );
      return await buildBusyboxImage(store);
    }
    const { findPulled } = await later<typeof import("../image/registry/local.ts")>(
      "../image/registry/local.ts",
      import.meta.url,
    );
    const pulled = await findPulled(store, ref);
    if (pulled) return pulled;
    if (pull === "never") {
      throw new NotFoundError(`Unable to find image "${ref}" in the store, and --pull is never`);
    }
  }
  const { pullImage } = await later<typeof import("../image/registry/pull.ts")>(
    "../image/registry/pull.ts",
    import.meta.url,
  );
  if (pull === "always") return await pullImage(store, ref);
  try {
    return await pullImage(store, ref);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new NotFoundError(`Unable to find image "${ref}" locally`, { cause: e });
  }
}

function looksLikePath(ref: string): boolean {
  return ref.includes("/") && (ref.startsWith(".") || ref.startsWith("/")) ||
    /\.(tar|tgz|tar\.gz)$/.test(ref);
}
