/**
 * `export`: a container's whole tree, flattened, as one tar (what the seed's
 * `commit` produced; `skiff import` reads it back).
 *
 * @module
 */

import { findContainer, listContainers } from "./containers.ts";
import { type ImageConfig, layerDirs } from "../image/images.ts";
import { childrenOf } from "../host/proc.ts";
import { helperArgv, helperFailure } from "../host/spawn.ts";
import { readJson, type Store } from "../store/store.ts";

/** GNU tar's options for a faithful tree, overlay's own xattrs left out. */
const TAR_TREE = ["--numeric-owner", "--xattrs", "--xattrs-include=*", "--xattrs-exclude=trusted.overlay.*"];

/**
 * Writes the container's merged tree as a tar to `out`. A running container
 * is read through /proc/PID/root; a stopped one through its overlay,
 * mounted in a private mount namespace of its own that dies with the tar.
 *
 * @returns GNU tar's exit; throws when it failed
 */
export async function exportContainer(
  store: Store,
  ref: string,
  out: Deno.FsFile | "inherit",
): Promise<void> {
  const record = findContainer(await listContainers(store), ref);
  const dir = store.container(record.id);
  const pid1 = record.status === "running" && record.pid ? childrenOf(record.pid)[0] : undefined;
  let argv: string[];
  if (pid1 !== undefined) {
    argv = ["tar", "-c", "-f", "-", ...TAR_TREE, "-C", `/proc/${pid1}/root`, "."];
  } else {
    const config = await readJson<ImageConfig>(store.blob(record.imageId));
    if (config === null) throw new Error(`Cannot export "${ref}": its image's config is gone`);
    const lower = layerDirs(store, config).join(":");
    const options = `lowerdir=${lower},upperdir=${dir}/upper,workdir=${dir}/work`;
    argv = [
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "--",
      "sh",
      "-c",
      'mount -t overlay overlay -o "$1" "$2" && shift 2 && exec tar -c -f - "$@"',
      "sh",
      options,
      `${dir}/merged`,
      ...TAR_TREE,
      "-C",
      `${dir}/merged`,
      ".",
    ];
  }
  // unshare and sh exec: tar keeps setpriv's parent-death signal, and dies with skiff
  const [cmd, ...args] = helperArgv(argv[0], argv.slice(1));
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
    throw new Error(`Cannot export "${ref}": ${helperFailure("tar", { ...status, stderr: said })}`);
  }
}
