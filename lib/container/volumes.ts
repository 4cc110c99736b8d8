/**
 * Volumes: host directories and files bound into containers (`-v
 * /host:/ctr`, `--mount type=bind,...`), and named volumes kept in the store
 * (`-v NAME:/ctr`, `skiff volume ...`) under `ROOT/volumes/NAME/_data`, as
 * docker keeps them.
 *
 * Parsing and validation are pure and happen before anything is created;
 * {@link prepareMounts} then makes what is missing on the host.
 *
 * @module
 */

import { type ContainerRecord, readRecords } from "./containers.ts";
import { InvalidStateError, NotFoundError, UsageError } from "../errors.ts";
import { readJson, type Store, writeAtomic } from "../store/store.ts";

/** A mount the user asked for, before the host side is looked at. */
export interface MountRequest {
  /** A host path bound in, or a named volume. */
  type: "bind" | "volume";
  /** An absolute host path (bind) or a volume name (volume). */
  source: string;
  /** Absolute path inside the container, normalised. */
  destination: string;
  /** Mounted read-only (`:ro`, `readonly`). */
  readOnly: boolean;
  /** Create a missing bind source (`-v` does; `--mount` refuses, as docker). */
  createSource: boolean;
}

/** A mount as recorded on the container and planned for init. */
export interface Mount {
  /** A host path bound in, or a named volume. */
  type: "bind" | "volume";
  /** The host path bound in: the bind source or the volume's data dir. */
  source: string;
  /** Absolute path inside the container. */
  destination: string;
  /** Mounted read-only. */
  readOnly: boolean;
  /** The volume's name, for named volumes. */
  name?: string;
  /** Whether the source is a directory or a file. */
  kind: "dir" | "file";
}

/** What `volume ls` and `volume inspect` show. */
export interface Volume {
  /** The volume's name. */
  Name: string;
  /** Always `local`: a directory in the store. */
  Driver: "local";
  /** Where its data lives on the host. */
  Mountpoint: string;
  /** When it was made, ISO 8601. */
  CreatedAt: string;
}

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * Throws a UsageError unless `name` is a valid volume name: two or more
 * characters, letters, digits, `_`, `.`, `-`, starting with a letter or digit.
 */
export function checkVolumeName(name: string): void {
  if (!VOLUME_NAME.test(name)) {
    throw new UsageError(
      `Invalid volume name "${name}": use two or more letters, digits, "_", "." or "-", starting with a letter or digit`,
    );
  }
}

/**
 * A container path, checked and normalised (`//a/b/` -> `/a/b`).
 *
 * @throws {UsageError} for a relative path, `/`, a `..` component, or /proc
 */
export function checkDestination(path: string, what: string): string {
  if (path === "") throw new UsageError(`Invalid ${what}: the container path is empty`);
  if (!path.startsWith("/")) {
    throw new UsageError(`Invalid ${what}: the container path "${path}" must be absolute`);
  }
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) {
    throw new UsageError(`Invalid ${what}: the container path "${path}" must not contain ".."`);
  }
  if (parts.length === 0) throw new UsageError(`Invalid ${what}: cannot mount over the container's "/"`);
  if (parts[0] === "proc") {
    throw new UsageError(`Invalid ${what}: cannot mount over "/proc" (the container's proc filesystem)`);
  }
  return `/${parts.join("/")}`;
}

/**
 * Parses `-v SOURCE:DEST[:ro|:rw]`. SOURCE is an absolute host path, or a
 * volume name.
 *
 * @throws {UsageError} saying what is wrong and what form to use
 */
export function parseVolumeFlag(spec: string): MountRequest {
  const what = `volume "${spec}"`;
  const usage = "use -v HOST_PATH:CONTAINER_PATH[:ro|:rw] or -v NAME:CONTAINER_PATH";
  const parts = spec.split(":");
  if (parts.length < 2) throw new UsageError(`Invalid ${what}: missing ":"; ${usage}`);
  if (parts.length > 3) throw new UsageError(`Invalid ${what}: too many ":"; ${usage}`);
  const [source, destination, mode = "rw"] = parts;
  if (source === "") throw new UsageError(`Invalid ${what}: the host side is empty; ${usage}`);
  if (mode !== "ro" && mode !== "rw") {
    throw new UsageError(`Invalid ${what}: unknown mode "${mode}"; use ro or rw`);
  }
  const type = source.startsWith("/") ? "bind" : "volume";
  if (type === "volume") checkVolumeName(source);
  return {
    type,
    source: type === "bind" ? normalizeHostPath(source) : source,
    destination: checkDestination(destination, what),
    readOnly: mode === "ro",
    createSource: true,
  };
}

/**
 * Parses `--mount type=bind|volume,source=...,target=...[,readonly]`, with
 * docker's aliases (src, destination, dst, ro).
 *
 * @throws {UsageError} saying what is wrong
 */
export function parseMountFlag(spec: string): MountRequest {
  const what = `mount "${spec}"`;
  const fields = new Map<string, string>();
  for (const field of spec.split(",")) {
    const eq = field.indexOf("=");
    const key = eq === -1 ? field : field.slice(0, eq);
    const value = eq === -1 ? "true" : field.slice(eq + 1);
    const name = { src: "source", destination: "target", dst: "target", ro: "readonly" }[key] ?? key;
    if (!["type", "source", "target", "readonly"].includes(name)) {
      throw new UsageError(`Invalid ${what}: unknown field "${key}"; use type, source, target and readonly`);
    }
    fields.set(name, value);
  }
  const type = fields.get("type");
  if (type !== "bind" && type !== "volume") {
    throw new UsageError(`Invalid ${what}: type must be bind or volume`);
  }
  const source = fields.get("source") ?? "";
  if (source === "") throw new UsageError(`Invalid ${what}: source is missing`);
  if (type === "bind" && !source.startsWith("/")) {
    throw new UsageError(`Invalid ${what}: a bind source must be an absolute host path`);
  }
  if (type === "volume") checkVolumeName(source);
  const readonly = fields.get("readonly") ?? "false";
  if (!["true", "1", "false", "0"].includes(readonly)) {
    throw new UsageError(`Invalid ${what}: readonly must be true or false`);
  }
  return {
    type,
    source: type === "bind" ? normalizeHostPath(source) : source,
    destination: checkDestination(fields.get("target") ?? "", what),
    readOnly: readonly === "true" || readonly === "1",
    createSource: false,
  };
}

/**
 * An absolute host path, normalised lexically as docker's filepath.Clean
 * does (`/a/new/../../b` -> `/b`), so that creating a missing source makes
 * only the directory named, never the ones `..` walks through.
 */
function normalizeHostPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== "" && part !== ".") parts.push(part);
  }
  return `/${parts.join("/")}`;
}

/**
 * Checks a run's mounts together.
 *
 * @throws {UsageError} when two mounts share a container path
 */
export function checkMounts(requests: MountRequest[]): void {
  const seen = new Set<string>();
  for (const r of requests) {
    if (seen.has(r.destination)) {
      throw new UsageError(
        `Duplicate mount point "${r.destination}": each container path can be mounted once`,
      );
    }
    seen.add(r.destination);
  }
}

/**
 * Makes the host side of each mount exist: a missing `-v` source directory
 * is created (0755), a named volume on first use.
 *
 * @throws {NotFoundError} when a `--mount` bind source does not exist
 */
export async function prepareMounts(store: Store, requests: MountRequest[]): Promise<Mount[]> {
  const mounts: Mount[] = [];
  for (const r of requests) {
    if (r.type === "volume") {
      const volume = await createVolume(store, r.source);
      mounts.push({ ...mountOf(r), source: volume.Mountpoint, name: r.source, kind: "dir" });
      continue;
    }
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(r.source);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      if (!r.createSource) {
        throw new NotFoundError(`Invalid mount: bind source path "${r.source}" does not exist`);
      }
      Deno.mkdirSync(r.source, { recursive: true, mode: 0o755 });
      info = Deno.statSync(r.source);
    }
    mounts.push({ ...mountOf(r), kind: info.isDirectory ? "dir" : "file" });
  }
  return mounts;
}

function mountOf(r: MountRequest): Omit<Mount, "kind"> {
  return { type: r.type, source: r.source, destination: r.destination, readOnly: r.readOnly };
}

function metaPath(store: Store, name: string): string {
  return `${store.volume(name)}/volume.json`;
}

/** Creates a named volume, or returns it when it exists. */
export async function createVolume(store: Store, name: string): Promise<Volume> {
  checkVolumeName(name);
  await store.init();
  return await store.locked(async () => {
    const existing = await readJson<Volume>(metaPath(store, name));
    if (existing) return existing;
    const volume: Volume = {
      Name: name,
      Driver: "local",
      Mountpoint: `${store.volume(name)}/_data`,
      CreatedAt: new Date().toISOString(),
    };
    Deno.mkdirSync(volume.Mountpoint, { recursive: true, mode: 0o755 });
    await writeAtomic(metaPath(store, name), JSON.stringify(volume, null, 2));
    return volume;
  });
}

/** Every named volume, by name. */
export async function listVolumes(store: Store): Promise<Volume[]> {
  const volumes: Volume[] = [];
  for (const entry of entriesOf(store.volumesDir)) {
    const volume = await readJson<Volume>(metaPath(store, entry));
    if (volume) volumes.push(volume);
  }
  return volumes.sort((a, b) => a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0);
}

function entriesOf(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/**
 * A named volume.
 *
 * @throws {NotFoundError} when there is none of that name
 */
export async function inspectVolume(store: Store, name: string): Promise<Volume> {
  const volume = await readJson<Volume>(metaPath(store, name));
  if (!volume) throw new NotFoundError(`No such volume: ${name}`);
  return volume;
}

/** The containers whose mounts use volume `name`. */
export function containersUsing(records: ContainerRecord[], name: string): ContainerRecord[] {
  return records.filter((r) => (r.mounts ?? []).some((m) => m.type === "volume" && m.name === name));
}

/**
 * Removes a named volume and its data. Whether containers use it is
 * decided under the same hold of the store lock as the removal; the data
 * is renamed into the trash then, and deleted after the lock is released.
 *
 * @param force remove it even though stopped containers use it
 * @throws {NotFoundError} when there is no such volume
 * @throws {InvalidStateError} when a container uses it (a running one even with force)
 */
export async function removeVolume(store: Store, name: string, force = false): Promise<void> {
  await store.locked(async () => {
    await inspectVolume(store, name);
    const users = containersUsing(await readRecords(store), name);
    const running = users.filter((r) => r.status !== "exited");
    const blocking = force ? running : users;
    if (blocking.length > 0) {
      const ids = blocking.map((r) => r.id.slice(0, 12)).join(", ");
      throw new InvalidStateError(
        `Cannot remove volume "${name}": it is in use by container ${ids}; ${
          force ? "stop it first" : "remove the container first, or use -f if none runs"
        }`,
      );
    }
    store.discard(store.volume(name));
  });
}
