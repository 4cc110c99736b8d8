/**
 * skiff: a small container toolkit. Images stacked as overlay layers,
 * namespaces from util-linux `unshare`, pivot_root and the other privileged
 * calls through `Deno.dlopen`.
 *
 * Everything here works when imported from a URL; running containers
 * needs root and `--allow-all` (unscoped `--allow-run` amounts to it
 * anyway, and Deno reads a process's own /proc entries only with it).
 *
 * A container started here starts from outside its namespaces: the
 * caller's process plans it and a second Deno program, the container's
 * init, sets it up inside them, about 60 ms more than the `skiff` command,
 * whose CLI starts inside them already (docs/process-model.md).
 *
 * @example
 * ```ts
 * import { runContainer, Store } from "./mod.ts";
 *
 * const store = new Store("/var/lib/skiff");
 * const code = await runContainer(store, {
 *   image: "busybox",
 *   command: ["echo", "hello"],
 *   remove: true,
 * });
 * ```
 *
 * @module
 */

export { defaultRunRoot, defaultStoreRoot, Store } from "./lib/store/store.ts";
export { runContainer, runDetached, startContainer } from "./lib/container/outside.ts";
export { type RunOptions, StartError } from "./lib/container/run.ts";
export {
  type ContainerRecord,
  findContainer,
  listContainers,
  type ProcessRef,
  removeContainer,
  type Status,
} from "./lib/container/containers.ts";
export {
  findImage,
  type Image,
  type ImageConfig,
  importFile,
  importImage,
  type ImportOptions,
  listImages,
  removeImage,
} from "./lib/image/images.ts";
export { type PullPolicy, resolveImage } from "./lib/container/resolve_image.ts";
export type { SecurityOptions } from "./lib/container/security.ts";
export {
  type Attachment,
  createNetwork,
  listNetworks,
  type NetworkOptions,
  type NetworkRecord,
  type NetworkRequest,
  type NetworkSettings,
  type NewNetwork,
  pruneNetworks,
  removeNetwork,
} from "./lib/container/network.ts";
export type { DnsOptions, HostEntry } from "./lib/host/net/etc.ts";
export type { PortBinding, PortRequest, Protocol } from "./lib/host/net/ports.ts";
export type { Ulimit } from "./lib/container/ulimits.ts";
export type { Device } from "./lib/container/devices.ts";
export type { Condition, Profile, ProfileArg, SyscallEntry } from "./lib/container/seccomp/profile.ts";
export { buildBusyboxImage } from "./images/busybox.ts";
export { commitContainer, type CommitOptions } from "./lib/container/commit.ts";
export { buildImage, type BuildOptions, StepError } from "./lib/build/builder.ts";
export {
  type Dockerfile,
  DockerfileError,
  type Heredoc,
  type Instruction,
  parseDockerfile,
} from "./lib/build/dockerfile.ts";
export { exportContainer } from "./lib/container/export.ts";
export { type ArchiveFormat, loadImages, saveImage } from "./lib/image/archive.ts";
export type { CgroupVersion, Limits } from "./lib/host/cgroup/cgroups.ts";
export { type Sample, sampleStats } from "./lib/container/stats.ts";
export { containerLogs, killContainer, type LogOptions, stopContainer } from "./lib/container/lifecycle.ts";
export { execInContainer, type ExecOptions } from "./lib/container/exec.ts";
export type { LogLine } from "./lib/container/supervise.ts";
export {
  checkVolumeName,
  createVolume,
  inspectVolume,
  listVolumes,
  type Mount,
  type MountRequest,
  removeVolume,
  type Volume,
} from "./lib/container/volumes.ts";
export { InvalidStateError, NotFoundError, UsageError } from "./lib/errors.ts";
export {
  AlreadyExists,
  Busy,
  classify,
  type CodedError,
  ErrnoError,
  InvalidArgument,
  NotFound,
  PermissionDenied,
  SyscallError,
} from "./ffi/errors.ts";
