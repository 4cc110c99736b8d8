/**
 * What docker's `--format` templates see: a container as docker's
 * ContainerContext shows it to `ps`, an image as ImageContext, a volume,
 * a stats sample, and a container's inspect document in docker's shape,
 * each with its column titles for `table`. Loaded only with a `--format`.
 *
 * @module
 */

import type { ContainerRecord } from "../container/containers.ts";
import { pid1Of } from "../container/lifecycle.ts";
import { portsColumn } from "../container/network.ts";
import type { Volume } from "../container/volumes.ts";
import type { Sample } from "../container/stats.ts";
import type { Image } from "../image/images.ts";
import { ellipsis, humanBytes, humanSize, timeAgo } from "./format.ts";
import { formatItems, headerContext, STRUCT } from "./template.ts";

/** Go's time.Time String() in UTC, as docker's CreatedAt: `2026-12-02 04:22:35 +0000 UTC`. */
export function goTime(iso: string): string {
  return `${new Date(iso).toISOString().slice(0, 19).replace("T", " ")} +0000 UTC`;
}

/** `k=v,k2=v2`, sorted, as docker joins labels. */
const joinLabels = (labels: Record<string, string> = {}) =>
  Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join(",");

/** What ps's context needs besides the record. */
export interface PsExtra {
  trunc: boolean;
  status: string;
  /** -s: the writable layer's bytes and the image's. */
  size?: { rw: number; image: number };
}

/** docker's ContainerContext, fields in the order `{{json .}}` prints them (sorted, as Go's map). */
export function containerContext(r: ContainerRecord, extra: PsExtra): Record<string, unknown> {
  const command = r.command.join(" ");
  const mounts = r.mounts.map((m) => m.name ?? m.source).map((m) => (extra.trunc ? ellipsis(m, 15) : m));
  const size = extra.size
    ? `${humanSize(extra.size.rw)} (virtual ${humanSize(extra.size.rw + extra.size.image)})`
    : "0B";
  return {
    [STRUCT]: "*formatter.ContainerContext",
    Command: JSON.stringify(extra.trunc ? ellipsis(command, 20) : command),
    CreatedAt: goTime(r.created),
    ID: extra.trunc ? r.id.slice(0, 12) : r.id,
    Image: r.image,
    Labels: joinLabels(r.labels),
    LocalVolumes: String(r.mounts.filter((m) => m.type === "volume").length),
    Mounts: mounts.join(","),
    Names: r.name,
    Networks: r.network === undefined
      ? ""
      : r.network.mode === "bridge"
      ? (r.network.networks ?? []).map((n) => n.name).join(",")
      : r.network.mode,
    Ports: portsColumn(r),
    RunningFor: timeAgo(r.created),
    Size: size,
    State: r.status,
    Status: extra.status,
    Label: (name: string) => r.labels?.[name] ?? "",
  };
}

/** ps's column titles. */
export const CONTAINER_HEADERS = headerContext({
  Command: "COMMAND",
  CreatedAt: "CREATED AT",
  ID: "CONTAINER ID",
  Image: "IMAGE",
  Labels: "LABELS",
  LocalVolumes: "LOCAL VOLUMES",
  Mounts: "MOUNTS",
  Names: "NAMES",
  Networks: "NETWORKS",
  Ports: "PORTS",
  RunningFor: "CREATED",
  Size: "SIZE",
  State: "STATE",
  Status: "STATUS",
});

/** docker's default ps table. */
export const PS_TABLE =
  "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/** docker's ImageContext. */
export function imageContext(image: Image | null, id: string, size: number, created: string, trunc = true) {
  const colon = image ? image.ref.lastIndexOf(":") : -1;
  return {
    [STRUCT]: "*formatter.ImageContext",
    Containers: "N/A",
    CreatedAt: goTime(created),
    CreatedSince: timeAgo(created),
    Digest: "<none>",
    ID: trunc ? id.slice(0, 12) : `sha256:${id}`,
    Repository: image ? image.ref.slice(0, colon) : "<none>",
    SharedSize: "N/A",
    Size: humanSize(size),
    Tag: image ? image.ref.slice(colon + 1) : "<none>",
    UniqueSize: "N/A",
    VirtualSize: humanSize(size),
    Label: (name: string) => image?.config.config?.Labels?.[name] ?? "",
  };
}

export const IMAGE_HEADERS = headerContext({
  Containers: "CONTAINERS",
  CreatedAt: "CREATED AT",
  CreatedSince: "CREATED",
  Digest: "DIGEST",
  ID: "IMAGE ID",
  Repository: "REPOSITORY",
  SharedSize: "SHARED SIZE",
  Size: "SIZE",
  Tag: "TAG",
  UniqueSize: "UNIQUE SIZE",
  VirtualSize: "VIRTUAL SIZE",
});

export const IMAGES_TABLE = "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

/** docker's VolumeContext. */
export function volumeContext(v: Volume) {
  return {
    [STRUCT]: "*formatter.volumeContext",
    Driver: v.Driver,
    Labels: "",
    Links: "N/A",
    Mountpoint: v.Mountpoint,
    Name: v.Name,
    Scope: "local",
    Size: "N/A",
    Label: () => "",
  };
}

export const VOLUME_HEADERS = headerContext({
  Driver: "DRIVER",
  Labels: "LABELS",
  Links: "LINKS",
  Mountpoint: "MOUNTPOINT",
  Name: "VOLUME NAME",
  Scope: "SCOPE",
  Size: "SIZE",
});

export const VOLUMES_TABLE = "{{.Driver}}\t{{.Name}}";

/** docker's statsContext. */
export function statsContext(s: Sample) {
  return {
    [STRUCT]: "*formatter.statsContext",
    BlockIO: "--",
    CPUPerc: `${s.cpuPercent.toFixed(2)}%`,
    Container: s.record.id.slice(0, 12),
    ID: s.record.id.slice(0, 12),
    MemPerc: `${((s.memoryBytes / s.memoryLimit) * 100).toFixed(2)}%`,
    MemUsage: `${humanBytes(s.memoryBytes)} / ${humanBytes(s.memoryLimit)}`,
    Name: s.record.name,
    NetIO: "--",
    PIDs: String(s.pids),
  };
}

export const STATS_HEADERS = headerContext({
  BlockIO: "BLOCK I/O",
  CPUPerc: "CPU %",
  Container: "CONTAINER",
  ID: "CONTAINER ID",
  MemPerc: "MEM %",
  MemUsage: "MEM USAGE / LIMIT",
  Name: "NAME",
  NetIO: "NET I/O",
  PIDs: "PIDS",
});

export const STATS_TABLE = "{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.PIDs}}";

/**
 * A container's inspect document with docker's names (`Id`, `Name`,
 * `State.Pid`, `Config.Labels`, `Mounts`...) over skiff's record, whose
 * own fields (lower-case) stay there too: what `inspect --format` sees.
 */
export function inspectView(r: ContainerRecord): Record<string, unknown> {
  const running = r.status === "running" || r.status === "paused";
  return {
    ...r,
    Id: r.id,
    Created: r.created,
    Path: r.command[0] ?? "",
    Args: r.command.slice(1),
    State: {
      Status: r.status,
      Running: running,
      Paused: r.status === "paused",
      Restarting: false,
      OOMKilled: Boolean(r.oomKilled),
      Dead: false,
      Pid: (running ? pid1Of(r) : undefined) ?? 0,
      ExitCode: r.exitCode ?? 0,
      Error: "",
      StartedAt: r.startedAt ?? "0001-01-01T00:00:00Z",
      FinishedAt: r.finishedAt ?? "0001-01-01T00:00:00Z",
    },
    Image: `sha256:${r.imageId}`,
    Name: `/${r.name}`,
    RestartCount: r.restartCount ?? 0,
    Mounts: r.mounts.map((m) => ({
      Type: m.type,
      ...(m.name ? { Name: m.name } : {}),
      Source: m.source,
      Destination: m.destination,
      Mode: m.readOnly ? "ro" : "",
      RW: !m.readOnly,
    })),
    Config: {
      Hostname: r.hostname,
      Env: r.env,
      Cmd: r.command,
      Image: r.image,
      WorkingDir: r.workdir,
      Labels: r.labels ?? {},
      StopSignal: r.stopSignal ?? "SIGTERM",
      ...(r.stopTimeout !== undefined ? { StopTimeout: r.stopTimeout } : {}),
    },
  };
}

/** Prints items with a `--format` that is a template (see formatItems). */
export function printFormatted(
  format: string,
  items: unknown[],
  headers: unknown,
  defaultTable: string,
): void {
  const bytes = new TextEncoder().encode(formatItems(format, items, headers, defaultTable));
  for (let n = 0; n < bytes.length;) n += Deno.stdout.writeSync(bytes.subarray(n));
}
