/**
 * `export`: a container's own filesystem, flattened, as one tar (what the
 * seed's `commit` produced; `skiff import` reads it back).
 *
 * What is exported is the container's image layers with its upper dir on
 * top, whiteouts applied, and never what is mounted on it: not /proc, /sys
 * or /dev's tmpfs, not a volume (host data), only the empty directories
 * they are mounted on. It is the same for a running container and a
 * stopped one: a read-only overlay of upper dir and layers, all as lower
 * layers, mounted on an empty directory of the store's tmp/ in a private
 * mount namespace of its own. That namespace belongs to the tar that reads
 * it, which dies with skiff, so no mount outlives an export even when
 * skiff is SIGKILLed.
 *
 * A running container's upper dir is its live overlay's upper layer, in
 * use by that mount: overlay allows it as a lower layer of another mount
 * (kernel 6.18, index=off, the default here), logging "lowerdir is in-use
 * as upperdir/workdir of another mount" once per export; files the
 * container writes meanwhile may or may not be in the tar, as with `docker
 * export`.
 *
 * @module
 */

import { findContainer, listContainers } from "./containers.ts";
import { type ImageConfig, layerDirs } from "../image/images.ts";
import { helperArgv, helperFailure } from "../host/spawn.ts";
import { inUserNamespace } from "../host/proc.ts";
import { readJson, type Store } from "../store/store.ts";

/** GNU tar's options for a faithful tree, overlay's own xattrs left out. */
const TAR_TREE = [
  "--numeric-owner",
  "--xattrs",
  "--xattrs-include=*",
  "--xattrs-exclude=trusted.overlay.*",
  "--xattrs-exclude=user.overlay.*",
];

/**
 * argv that mounts the read-only overlay of `lowerdirs` (topmost first) on
 * `mountPoint` in a new private mount namespace and tars it to stdout.
 * setpriv comes first: unshare and sh exec, so tar keeps its parent-death
 * signal and the namespace dies with skiff.
 */
export function exportArgv(lowerdirs: string[], mountPoint: string, userxattr: boolean): string[] {
  // No upperdir: overlay is then read-only, and writes nothing in the dirs.
  const options = `ro,lowerdir=${lowerdirs.join(":")}${userxattr ? ",userxattr" : ""}`;
  return inPrivateMounts('mount -t overlay overlay -o "$1" "$2" && shift 2 && exec tar -c -f - "$@"', [
    options,
    mountPoint,
    ...TAR_TREE,
    "-C",
    mountPoint,
    ".",
  ]);
}

/** argv of a helper sh `script` with `args` in a new private mount namespace, which dies with it (and skiff). */
export function inPrivateMounts(script: string, args: string[]): string[] {
  return helperArgv("unshare", [
    "--mount",
    "--propagation",
    "private",
    "--",
    "sh",
    "-c",
    script,
    "sh",
    ...args,
  ]);
}

/**
 * Writes the container's own filesystem (see the module doc) as a tar to `out`.
 *
 * @throws {Error} when its image is gone, or the mount or tar failed
 */
export async function exportContainer(
  store: Store,
  ref: string,
  out: Deno.FsFile | "inherit",
): Promise<void> {
  const record = findContainer(await listContainers(store), ref);
  const config = await readJson<ImageConfig>(store.blob(record.imageId));
  if (config === null) throw new Error(`Cannot export "${ref}": its image's config is gone`);
  const lowerdirs = [`${store.container(record.id)}/upper`, ...layerDirs(store, config)];
  for (const dir of lowerdirs) {
    // overlay splits its options on "," and lowerdir on ":"
    if (/[,:]/.test(dir)) {
      throw new Error(
        `Cannot export "${ref}": the path "${dir}" has a "," or ":", which overlay cannot take`,
      );
    }
  }
  await store.init();
  const mountPoint = await Deno.makeTempDir({ dir: store.tmpDir, prefix: store.tempPrefix("export") });
  try {
    const [cmd, ...args] = exportArgv(lowerdirs, mountPoint, inUserNamespace());
    const tar = new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: out === "inherit" ? "inherit" : "piped",
      stderr: "piped",
    }).spawn();
    const [, status, said] = await Promise.all([
      out === "inherit" ? Promise.resolve() : tar.stdout.pipeTo(out.writable),
      tar.status,
      new Response(tar.stderr).text(),
    ]);
    if (!status.success) {
      throw new Error(
        `Cannot export "${ref}": ${helperFailure("mount or tar", { ...status, stderr: said })}`,
      );
    }
  } finally {
    await Deno.remove(mountPoint);
  }
}
