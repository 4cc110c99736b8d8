/**
 * The image store, as OCI image-spec content: an image is a manifest blob
 * naming a config blob (whose sha256 is the image id) and layer blobs
 * (uncompressed tars, named by their diff ids). Each layer is also
 * extracted once into `layers/DIFFID/` and shared by every image and
 * container that uses it. `images/index.json` maps `name:tag` to images,
 * every name qualified: pulled ones under their registry's
 * (`docker.io/library/alpine:latest`), images made here under
 * `localhost/` (`localhost/busybox:latest`), as podman keeps them.
 *
 * @module
 */

import { InvalidStateError, NotFoundError, UsageError } from "../errors.ts";
import type { Layer } from "./layers.ts";
import { hubKey, isQualified } from "./registry/reference.ts";
import { collectGarbage, imagesInUse, unpinLayers } from "../store/gc.ts";
import { readJson, sha256Hex, type Store, writeAtomic } from "../store/store.ts";
import { later } from "../host/later.ts";

/** The parts of an OCI image config (image-spec config.md) skiff uses. */
export interface ImageConfig {
  /** When the image was made, ISO 8601. */
  created: string;
  /** The CPU architecture, as OCI names it (amd64, arm64). */
  architecture: string;
  /** The operating system: always linux here. */
  os: "linux";
  /** What a container of it runs: its command, entrypoint, environment and working dir. */
  config: {
    Cmd?: string[];
    Entrypoint?: string[];
    Env?: string[];
    WorkingDir?: string;
    /** The signal `stop` sends (a Dockerfile's STOPSIGNAL). */
    StopSignal?: string;
    /** The ports `run -P` publishes (a Dockerfile's EXPOSE): `"80/tcp": {}`. */
    ExposedPorts?: Record<string, Record<string, never>>;
    /** The rest of what a Dockerfile sets (lib/build/), kept as docker keeps them. */
    User?: string;
    Volumes?: Record<string, Record<never, never>>;
    Labels?: Record<string, string>;
    Healthcheck?: Record<string, unknown>;
    OnBuild?: string[];
    Shell?: string[];
  };
  /** A Dockerfile's MAINTAINER. */
  author?: string;
  /** Its layers, bottom first, by the sha256 of each uncompressed tar. */
  rootfs: { type: "layers"; diff_ids: string[] };
  /**
   * How each layer was made, bottom first; an `empty_layer` entry (a
   * Dockerfile's CMD or ENV, say) made no layer.
   */
  history?: { created: string; created_by?: string; comment?: string; empty_layer?: boolean }[];
}

/** An OCI image manifest (image-spec manifest.md). */
export interface Manifest {
  schemaVersion: 2;
  mediaType: typeof MEDIA_MANIFEST;
  config: Descriptor;
  layers: Descriptor[];
}

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export const MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json";
export const MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar";

/** An index entry: what a `name:tag` points at. */
interface IndexEntry {
  /** The config's sha256, hex: the image id. */
  id: string;
  /** The manifest's sha256, hex. */
  manifest: string;
  /** Bytes of the uncompressed layer tars. */
  size: number;
}

type Index = Record<string, IndexEntry>;

/** An image as listed: its reference, id, config and size. */
export interface Image {
  /** `name:tag`. */
  ref: string;
  /** sha256 of the config, as hex. */
  id: string;
  /** sha256 of the manifest, as hex. */
  manifest: string;
  /** The layers' total size in bytes. */
  size: number;
  /** The image's config. */
  config: ImageConfig;
}

/**
 * docker's reference grammar: an optional registry host[:port] (a name,
 * or an IPv6 address in brackets: `[::1]:5000`, as distribution's
 * reference package reads it since 2023), then path components.
 */
const NAME =
  /^(?:(?:[a-zA-Z0-9.-]+|\[[0-9a-fA-F:.]+\])(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * Normalises an image reference to `name:tag` (tag `latest` by default).
 *
 * @throws {UsageError} when the name or tag is malformed
 */
export function normalizeRef(ref: string): string {
  const colon = ref.lastIndexOf(":");
  const [name, tag] = colon > ref.lastIndexOf("/")
    ? [ref.slice(0, colon), ref.slice(colon + 1)]
    : [ref, "latest"];
  if (!NAME.test(name) || !TAG.test(tag)) {
    throw new UsageError(
      `Invalid image reference "${ref}": use NAME[:TAG] with a lowercase name (a-z, 0-9, ".", "_", "-", "/")`,
    );
  }
  // As docker refuses them: such a name would shadow the image of that id.
  if (FULL_ID.test(name)) {
    throw new UsageError(
      `Invalid image reference "${ref}": a name of 64 hex digits reads as an image id; choose another name`,
    );
  }
  return `${name}:${tag}`;
}

const FULL_ID = /^[0-9a-f]{64}$/;

/** The registry of images made here (commit, import, load, tag, busybox), as podman names it. */
export const LOCAL_REGISTRY = "localhost";
/** The name of the busybox image that images/busybox.ts builds from the host. */
export const BUSYBOX_IMAGE = `${LOCAL_REGISTRY}/busybox:latest`;

/**
 * The name an image made here is stored under: {@link normalizeRef}'s
 * `name:tag`, with `localhost/` in front of a name that names no registry
 * (`busybox` -> `localhost/busybox:latest`, `user/app:1` ->
 * `localhost/user/app:1`), as podman stores them. A qualified name
 * (`127.0.0.1:5000/app`, `docker.io/library/alpine`) is kept.
 *
 * @throws {UsageError} when the name or tag is malformed
 */
export function localRef(ref: string): string {
  const key = normalizeRef(ref);
  return isQualified(key) ? key : `${LOCAL_REGISTRY}/${key}`;
}

/**
 * The index, each name qualified. A store of skiff before local names
 * got `localhost/` holds plain `busybox:latest` keys: they are read as
 * `localhost/busybox:latest` (unless that name is taken too, when the
 * old key stays as it is, so no tag is ever lost), and the next write of
 * the index, always under the lock, stores them so.
 */
async function readIndex(store: Store): Promise<Index> {
  const index = (await readJson<Index>(store.imageIndex)) ?? {};
  if (Object.keys(index).every(isQualified)) return index;
  const migrated: Index = {};
  for (const [key, entry] of Object.entries(index)) {
    const local = isQualified(key) ? key : `${LOCAL_REGISTRY}/${key}`;
    migrated[local in index ? key : local] = entry;
  }
  return migrated;
}

async function readConfig(store: Store, id: string): Promise<ImageConfig> {
  const config = await readJson<ImageConfig>(store.blob(id));
  if (config === null) throw new Error(`Image ${id.slice(0, 12)} is damaged: its config blob is missing`);
  // A loaded config may lack `config` or hold nulls ("Entrypoint": null, as
  // docker writes): read them as absent. The blob keeps its bytes (its id).
  const run = (config.config ??= {}) as Record<string, unknown>;
  for (const key of Object.keys(run)) if (run[key] === null) delete run[key];
  return config;
}

/** Every tagged image, sorted by reference. */
export async function listImages(store: Store): Promise<Image[]> {
  const index = await readIndex(store);
  const images: Image[] = [];
  for (const [ref, entry] of Object.entries(index).sort()) {
    images.push({ ref, ...entry, config: await readConfig(store, entry.id) });
  }
  return images;
}

/**
 * Finds an image as podman does: by `name[:tag]`, else by full id, else by
 * a unique id prefix (4 or more hex digits; `sha256:ID` is only ever an
 * id). In that order, so an id prefix never hides a tag. A name that
 * names no registry is looked up as a local image first
 * (`busybox` -> `localhost/busybox:latest`), then under docker.io
 * (`docker.io/library/busybox:latest`). An image with several tags is
 * found under the first, in sorted order.
 *
 * @returns the image, or null when nothing matches
 * @throws {UsageError} when the reference is malformed, or a prefix matches several images, listing them
 */
export async function findImage(store: Store, ref: string): Promise<Image | null> {
  const found = lookUp(await readIndex(store), ref);
  if (found === null) return null;
  const [key, entry] = found;
  return { ref: key, ...entry, config: await readConfig(store, entry.id) };
}

function lookUp(index: Index, ref: string): [string, IndexEntry] | null {
  const explicit = /^sha256:/.test(ref);
  const hex = ref.replace(/^sha256:/, "");
  if (!explicit && !FULL_ID.test(ref)) {
    const key = normalizeRef(ref);
    // a short name: made here first, then what was pulled under it (docker.io/library/alpine)
    const names = isQualified(key) ? [key] : [`${LOCAL_REGISTRY}/${key}`, key, hubKey(ref)];
    for (const name of names) if (name !== null && index[name]) return [name, index[name]];
  }
  if (!/^[0-9a-f]{4,64}$/.test(hex)) return null;
  // by code point: localeCompare would load ICU's collator (~9 ms here)
  const entries = Object.entries(index).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  const exact = entries.find(([, e]) => e.id === hex);
  if (exact) return exact;
  const matches = entries.filter(([, e]) => e.id.startsWith(hex));
  const ids = [...new Set(matches.map(([, e]) => e.id))];
  if (ids.length > 1) {
    const candidates = ids.map((id) =>
      `${id.slice(0, 12)} (${matches.filter(([, e]) => e.id === id).map(([r]) => r).join(", ")})`
    );
    throw new UsageError(
      `Image id prefix "${ref}" is ambiguous: it matches ${ids.length} images, ${
        candidates.join(", ")
      }; give more characters`,
    );
  }
  return matches[0] ?? null;
}

/**
 * The host directories of an image's layers, topmost first (overlay's
 * lowerdir order). A layer that is there twice (two builds' RUN steps that
 * changed nothing make the same empty layer) is named once, at its topmost
 * place: overlay refuses a lowerdir given twice (ELOOP), and the lower copy
 * changes nothing the upper one does not change again.
 */
export function layerDirs(store: Store, config: ImageConfig): string[] {
  return [...new Set(config.rootfs.diff_ids.map((d) => store.layer(d.replace(/^sha256:/, ""))).reverse())];
}

/** What {@link importImage} needs besides the tar file. */
export interface ImportOptions {
  /** `name[:tag]` to give the image. */
  ref: string;
  /** What to call the source in errors, e.g. the file name. */
  label: string;
  /** The image's default command and environment. */
  config?: ImageConfig["config"];
  /** The history line, e.g. how the image was made. */
  createdBy?: string;
  /** The file is a temporary of skiff's, to be moved into the store. */
  move?: boolean;
}

/**
 * Imports a rootfs tarball file (plain or gzip) as a one-layer image.
 *
 * @throws {Error} when the input is not a tar archive (nothing is kept)
 */
export async function importImage(store: Store, file: string, opts: ImportOptions): Promise<Image> {
  const ref = localRef(opts.ref);
  // Loaded here: `run` rarely imports, and every module costs start-up time.
  const { extractLayer } = await later<typeof import("./layers.ts")>("./layers.ts", import.meta.url);
  const layer = await extractLayer(store, file, opts.label, { move: opts.move });
  const created = new Date().toISOString();
  return await storeImage(store, ref, {
    created,
    architecture: Deno.build.arch === "x86_64" ? "amd64" : "arm64",
    os: "linux",
    config: opts.config ?? {},
    rootfs: { type: "layers", diff_ids: [`sha256:${layer.diffId}`] },
    history: [{ created, created_by: opts.createdBy ?? `skiff import ${opts.label}` }],
  }, [layer]);
}

/**
 * Stores an image whose layers are already in the store: its config and
 * manifest as blobs, and `ref` in the index ({@link localRef}: a name
 * without a registry is stored under `localhost/`).
 */
export async function storeImage(
  store: Store,
  ref: string,
  config: ImageConfig,
  layers: Layer[],
  /** The config's bytes as they came (a loaded image keeps its id). */
  configJson = JSON.stringify(config),
): Promise<Image> {
  const key = localRef(ref);
  return await store.locked(async () => {
    const image = await writeImage(store, config, layers, configJson);
    const index = await readIndex(store);
    index[key] = { id: image.id, manifest: image.manifest, size: image.size };
    await writeAtomic(store.imageIndex, JSON.stringify(index, null, 2));
    return { ...image, ref: key };
  });
}

/**
 * Writes an image's config and manifest as blobs and drops this process's
 * pins of its layers, without naming it: the caller holds the store lock
 * and, in the same hold, records something that keeps the image (the
 * index, or the build cache of lib/build/cache.ts).
 *
 * @returns the image, its `ref` empty
 */
export async function writeImage(
  store: Store,
  config: ImageConfig,
  layers: Layer[],
  configJson = JSON.stringify(config),
): Promise<Image> {
  const id = await sha256Hex(configJson);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_MANIFEST,
    config: { mediaType: MEDIA_CONFIG, digest: `sha256:${id}`, size: byteLength(configJson) },
    layers: layers.map((l) => ({ mediaType: MEDIA_LAYER, digest: `sha256:${l.diffId}`, size: l.size })),
  };
  const manifestJson = JSON.stringify(manifest);
  const manifestId = await sha256Hex(manifestJson);
  const size = layers.reduce((sum, l) => sum + l.size, 0);
  await writeAtomic(store.blob(id), configJson);
  await writeAtomic(store.blob(manifestId), manifestJson);
  unpinLayers(store, layers.map((l) => l.diffId));
  return { ref: "", id, manifest: manifestId, size, config };
}

/** An image's layers, with sizes, from its manifest. */
export async function imageLayers(store: Store, image: Image): Promise<Layer[]> {
  const manifest = await readJson<Manifest>(store.blob(image.manifest));
  if (manifest === null) {
    throw new Error(`Image ${image.id.slice(0, 12)} is damaged: its manifest blob is missing`);
  }
  return manifest.layers.map((d) => ({ diffId: d.digest.replace(/^sha256:/, ""), size: d.size }));
}

/**
 * Removes a tag, then every blob and layer directory no image and no
 * container needs any more. Under one hold of the store lock it finds the
 * image, reads which images containers use (lib/store/gc.ts), untags and
 * collects: a `run` of the same image either pinned it first (its record
 * names the image) or finds it gone.
 *
 * @param opts.force untag even when containers use the image (they keep its layers)
 * @throws {NotFoundError} when no image answers to `ref`
 * @throws {InvalidStateError} when a container uses it and `force` is false
 */
export async function removeImage(
  store: Store,
  ref: string,
  { force = false }: { force?: boolean } = {},
): Promise<Image> {
  return await store.locked(async () => {
    const image = await findImage(store, ref);
    if (!image) throw new NotFoundError(`No such image: ${ref}`);
    if ((await imagesInUse(store)).ids.has(image.id) && !force) {
      throw new InvalidStateError(
        `Cannot remove image "${ref}": a container uses it; remove the container first, or use rmi -f`,
      );
    }
    await removeTags(store, [image.ref]);
    await collectGarbage(store);
    return image;
  });
}

/**
 * Takes `refs` (exact index names) out of the index; their images stay
 * until collected. The caller holds the store lock.
 */
export async function removeTags(store: Store, refs: string[]): Promise<void> {
  const index = await readIndex(store);
  for (const ref of refs) delete index[ref];
  await writeAtomic(store.imageIndex, JSON.stringify(index, null, 2));
}

function byteLength(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** The image name a tarball's file name gives: `busybox.tar` -> `busybox`. */
export function tarballName(path: string): string {
  const base = path.split("/").pop()!.replace(/\.(tar|tgz|tar\.gz)$/, "").toLowerCase();
  return base.replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "") || "imported";
}

/**
 * Imports a tarball file as image `ref`.
 *
 * @throws {NotFoundError} when the file does not exist
 */
export async function importFile(store: Store, path: string, ref: string): Promise<Image> {
  localRef(ref);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new NotFoundError(`Cannot import "${path}": no such file`);
    throw new Error(`Cannot import "${path}"`, { cause: e });
  }
  if (!info.isFile) throw new UsageError(`Cannot import "${path}": not a regular file`);
  // Like `docker import`, the image gets no default command: run falls back to /bin/sh.
  return await importImage(store, path, { ref, label: path });
}
