/**
 * `commit`: a new image made of the container's image plus one layer, the
 * container's upper dir in OCI form, as docker and podman do it. The work
 * follows the size of the change, not of the image.
 *
 * @module
 */

import { checkUserSpec } from "./user.ts";
import { type ContainerRecord, findContainer, listContainers } from "./containers.ts";
import { checkEnvFlags } from "./env.ts";
import { InvalidStateError, UsageError } from "../errors.ts";
import { type Image, type ImageConfig, localRef, storeImage } from "../image/images.ts";
import { extractLayer, type Layer, layerFromUpper, layerTarSize } from "../image/layers.ts";
import { withFrozen, withFrozenCgroup } from "../host/cgroup/freezer.ts";
import { pid1Of } from "./lifecycle.ts";
import { readJson, type Store } from "../store/store.ts";

/** What to commit, and how. */
export interface CommitOptions {
  /** The container: id, name or unique id prefix. */
  container: string;
  /** `name[:tag]` for the new image. */
  ref: string;
  /** A comment for the image's history (`-m`). */
  message?: string;
  /** Dockerfile-style changes (`-c`): CMD, ENTRYPOINT, ENV, USER, WORKDIR. */
  changes?: string[];
}

/** skiff's own mount points: made by skiff, never part of a layer. */
const OWN_MOUNT_POINTS = ["proc", "sys", "dev"];

/** The files a container's network binds in (lib/container/network.ts), relative. */
const NETWORK_FILES = ["etc/hosts", "etc/resolv.conf", "etc/hostname"];

/** Variables skiff sets per container, not part of what it runs. */
const RUNTIME_ENV = new Set(["HOSTNAME", "TERM"]);

/**
 * The paths of a container's upper dir that are skiff's, not the
 * container's changes (relative, as {@link layerFromUpper} takes them):
 * its own mount points and the volumes' mount points.
 */
export function notChanges(record: ContainerRecord): string[] {
  // with a network, /etc/hosts, resolv.conf and hostname are host files bound
  // in: what the upper dir has of them is the mount points, as docker leaves them out
  const net = record.network && record.network.mode !== "none" ? NETWORK_FILES : [];
  return [...OWN_MOUNT_POINTS, ...net, ...record.mounts.map((m) => m.destination.slice(1))];
}

/**
 * Commits a container, pausing it for the moment its layer is made if it runs.
 *
 * @throws {InvalidStateError} when the container is still starting
 * @throws {UsageError} for a bad reference or change
 */
export async function commitContainer(store: Store, opts: CommitOptions): Promise<Image> {
  const ref = localRef(opts.ref);
  const record = findContainer(await listContainers(store), opts.container);
  // A running container is paused (the cgroup freezer, v1 or v2) while its
  // layer is made, so the layer is one moment of it; it runs on afterwards.
  const pid1 = pid1Of(record);
  if (record.status !== "exited" && pid1 === undefined) {
    throw new InvalidStateError(`Cannot commit container "${opts.container}": it is still starting`);
  }
  const base = await readJson<ImageConfig>(store.blob(record.imageId));
  if (base === null) throw new Error(`Cannot commit "${opts.container}": its image's config is gone`);
  const baseLayers: Layer[] = base.rootfs.diff_ids.map((d) => {
    const diffId = d.replace(/^sha256:/, "");
    return { diffId, size: layerTarSize(store, diffId) };
  });

  const { Entrypoint = [] } = base.config;
  const keepsEntrypoint = Entrypoint.length > 0 && Entrypoint.every((a, i) => record.command[i] === a);
  let config: ImageConfig["config"] = {
    ...base.config,
    Entrypoint: keepsEntrypoint ? Entrypoint : undefined,
    Cmd: keepsEntrypoint ? record.command.slice(Entrypoint.length) : record.command,
    // skiff's default HOME is the run's, as docker's (not baked in), unless the image had it.
    Env: record.env.filter((e) =>
      !RUNTIME_ENV.has(e.slice(0, e.indexOf("="))) && (e !== "HOME=/root" || base.config.Env?.includes(e))
    ),
    WorkingDir: record.workdir,
  };
  for (const change of opts.changes ?? []) config = applyChange(config, change);

  const layer = await containerLayer(store, record, pid1);
  const created = new Date().toISOString();
  return await storeImage(store, ref, {
    ...base,
    created,
    config,
    rootfs: { type: "layers", diff_ids: [...base.rootfs.diff_ids, `sha256:${layer.diffId}`] },
    history: [
      ...(base.history ?? []),
      {
        created,
        created_by: `skiff commit ${record.id.slice(0, 12)}`,
        ...(opts.message ? { comment: opts.message } : {}),
      },
    ],
  }, [...baseLayers, layer]);
}

/**
 * A container's changes as a layer in the store: its upper dir less
 * {@link notChanges}, made while it is paused if it runs (`pid1`), or as
 * it is when it has exited (the builder's RUN steps, lib/build/).
 *
 * @throws {Error} when tar or the extraction fails (nothing is kept)
 */
export async function containerLayer(store: Store, record: ContainerRecord, pid1?: number): Promise<Layer> {
  const staging = await Deno.makeTempDir({ dir: store.tmpDir, prefix: store.tempPrefix("commit") });
  try {
    const exclude = notChanges(record);
    const tar = `${staging}.tar`;
    const makeLayer = () => layerFromUpper(`${store.container(record.id)}/upper`, staging, tar, exclude);
    let made: { whiteouts: number };
    // A paused container is frozen already (and freezing it again would
    // thaw it at the end).
    if (pid1 === undefined || record.status === "paused") made = await makeLayer();
    else if (record.cgroup?.version === "v2" && record.cgroup.own.length > 0) {
      made = await withFrozenCgroup(record.cgroup.own[0], `${store.runtime(record.id)}/frozen`, makeLayer);
    } else made = await withFrozen(pid1, makeLayer);
    return await extractLayer(store, tar, `container ${record.id.slice(0, 12)}`, {
      move: true,
      whiteouts: made.whiteouts > 0,
    });
  } finally {
    await Deno.remove(staging, { recursive: true });
    await Deno.remove(`${staging}.tar`).catch(() => {}); // moved away unless tar failed
  }
}

/**
 * Applies one Dockerfile-style change, as `docker commit -c` does.
 *
 * @throws {UsageError} for an instruction skiff does not support
 */
export function applyChange(config: ImageConfig["config"], change: string): ImageConfig["config"] {
  const match = /^\s*(\w+)\s+(.*)$/s.exec(change);
  const instruction = match?.[1].toUpperCase();
  const arg = match?.[2].trim() ?? "";
  switch (instruction) {
    case "CMD":
      return { ...config, Cmd: commandForm(arg) };
    case "ENTRYPOINT":
      return { ...config, Entrypoint: commandForm(arg) };
    case "WORKDIR":
      if (!arg.startsWith("/")) throw new UsageError(`Invalid change "${change}": WORKDIR must be absolute`);
      return { ...config, WorkingDir: arg };
    case "USER":
      checkUserSpec(arg, "USER");
      return { ...config, User: arg };
    case "ENV": {
      // One line, as a Dockerfile's: a newline or NUL would end up in the value.
      if (/[\0\n]/.test(change)) {
        throw new UsageError(
          `Invalid change ${
            JSON.stringify(change)
          }: it holds a newline or NUL; use ENV KEY=VALUE on one line`,
        );
      }
      const eq = arg.indexOf("=");
      const space = arg.search(/\s/);
      const [key, value] = eq !== -1 && (space === -1 || eq < space)
        ? [arg.slice(0, eq), arg.slice(eq + 1)]
        : [arg.slice(0, space), arg.slice(space + 1).trim()];
      if (key === "" || space === -1 && eq === -1) {
        throw new UsageError(`Invalid change "${change}": use ENV KEY=VALUE`);
      }
      checkEnvFlags([`${key}=${value}`], "use -c 'ENV KEY=VALUE'");
      const env = (config.Env ?? []).filter((e) => !e.startsWith(`${key}=`));
      return { ...config, Env: [...env, `${key}=${value}`] };
    }
    default:
      throw new UsageError(
        `Unsupported change "${change}": skiff commit -c takes CMD, ENTRYPOINT, ENV, USER or WORKDIR`,
      );
  }
}

/** A JSON array (exec form) as is, anything else as `/bin/sh -c` (shell form). */
function commandForm(arg: string): string[] {
  if (arg.startsWith("[")) {
    try {
      const parsed = JSON.parse(arg);
      if (Array.isArray(parsed) && parsed.every((a) => typeof a === "string")) return parsed;
    } catch {
      // not JSON: the shell form
    }
  }
  return ["/bin/sh", "-c", arg];
}
