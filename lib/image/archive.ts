/**
 * Image archives: `save` writes an OCI image layout as a tar (image-spec
 * image-layout.md) or the `docker save` format; `load` reads either, as a
 * tar or (OCI) as a directory, with plain or gzip layers, keeping names.
 *
 * Saving hard-links the store's blobs into a staging directory (the store
 * and its tmp/ share a filesystem), so nothing is copied but by tar.
 * Loading checks every layer against its config's diff id and the config
 * against its manifest's digest before anything is tagged.
 *
 * @module
 */

import { NotFoundError, UsageError } from "../errors.ts";
import {
  findImage,
  type Image,
  type ImageConfig,
  imageLayers,
  type Manifest,
  MEDIA_MANIFEST,
  normalizeRef,
  storeImage,
} from "./images.ts";
import { extractLayer, type Layer, placeLayerTar } from "./layers.ts";
import { exists, sha256Hex, type Store } from "../store/store.ts";

/** The archive formats `save` writes. */
export type ArchiveFormat = "oci" | "docker";

const MEDIA_INDEX = "application/vnd.oci.image.index.v1+json";
const REF_NAME = "org.opencontainers.image.ref.name";
/** The full name containerd and podman read; ref.name alone is a tag. */
const IMAGE_NAME = "io.containerd.image.name";

/** An OCI image index (image-spec image-index.md), the parts read here. */
interface OciIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[];
}

/** One entry of a `docker save` manifest.json. */
interface DockerEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

/**
 * Writes image `ref` to `path` as an archive.
 *
 * @throws {NotFoundError} when there is no such image
 */
export async function saveImage(
  store: Store,
  ref: string,
  path: string,
  format: ArchiveFormat,
): Promise<void> {
  const image = await findImage(store, ref);
  if (!image) throw new NotFoundError(`No such image: ${ref}`);
  const layers = await imageLayers(store, image);
  await store.init();
  const staging = await Deno.makeTempDir({ dir: store.tmpDir, prefix: store.tempPrefix("save") });
  try {
    if (format === "oci") await stageOci(store, image, staging);
    else await stageDocker(store, image, layers, staging);
    const tar = await new Deno.Command("tar", {
      args: [
        "-c",
        "-f",
        path,
        "-C",
        staging,
        "--numeric-owner",
        "--owner=0",
        "--group=0",
        "--sort=name",
        ".",
      ],
      stderr: "piped",
    }).output();
    if (!tar.success) {
      await Deno.remove(path).catch(() => {});
      throw new Error(
        `Cannot write "${path}": ${new TextDecoder().decode(tar.stderr).trim().split("\n")[0]}`,
      );
    }
  } finally {
    await Deno.remove(staging, { recursive: true });
  }
}

async function stageOci(store: Store, image: Image, staging: string): Promise<void> {
  const manifest = JSON.parse(await Deno.readTextFile(store.blob(image.manifest))) as Manifest;
  await Deno.mkdir(`${staging}/blobs/sha256`, { recursive: true });
  for (const hex of [image.manifest, image.id]) {
    await Deno.link(store.blob(hex), `${staging}/blobs/sha256/${hex}`);
  }
  for (const hex of manifest.layers.map((l) => l.digest.slice(7))) {
    await placeLayerTar(store, hex, `${staging}/blobs/sha256/${hex}`);
  }
  const index: OciIndex = {
    schemaVersion: 2,
    mediaType: MEDIA_INDEX,
    manifests: [{
      mediaType: MEDIA_MANIFEST,
      digest: `sha256:${image.manifest}`,
      size: (await Deno.stat(store.blob(image.manifest))).size,
      annotations: { [REF_NAME]: image.ref.slice(image.ref.lastIndexOf(":") + 1), [IMAGE_NAME]: image.ref },
    }],
  };
  await Deno.writeTextFile(`${staging}/index.json`, JSON.stringify(index));
  await Deno.writeTextFile(`${staging}/oci-layout`, JSON.stringify({ imageLayoutVersion: "1.0.0" }));
}

async function stageDocker(store: Store, image: Image, layers: Layer[], staging: string): Promise<void> {
  await Deno.link(store.blob(image.id), `${staging}/${image.id}.json`);
  for (const layer of layers) {
    await Deno.mkdir(`${staging}/${layer.diffId}`);
    await placeLayerTar(store, layer.diffId, `${staging}/${layer.diffId}/layer.tar`);
  }
  const entry: DockerEntry = {
    Config: `${image.id}.json`,
    RepoTags: [image.ref],
    Layers: layers.map((l) => `${l.diffId}/layer.tar`),
  };
  await Deno.writeTextFile(`${staging}/manifest.json`, JSON.stringify([entry]));
}

/**
 * Loads every image of an archive: an OCI layout (a directory, or a tar
 * of one) or a `docker save` tar.
 *
 * @returns the images, tagged as the archive names them
 * @throws {UsageError} when `path` is neither
 */
export async function loadImages(store: Store, path: string): Promise<Image[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new NotFoundError(`Cannot load "${path}": no such file`);
    throw e;
  }
  if (info.isDirectory) return await loadDir(store, path, path, false);
  await store.init();
  const dir = await Deno.makeTempDir({ dir: store.tmpDir, prefix: store.tempPrefix("load") });
  try {
    const tar = await new Deno.Command("tar", {
      args: ["-x", "-f", path, "-C", dir, "--no-same-owner"],
      stderr: "piped",
    })
      .output();
    if (!tar.success) {
      const said = new TextDecoder().decode(tar.stderr);
      const why = /does not look like a tar archive/.test(said)
        ? "it is not a tar archive"
        : said.trim().split("\n")[0];
      throw new UsageError(`Cannot load "${path}": ${why}`);
    }
    return await loadDir(store, dir, path, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `owned`: `dir` is skiff's unpacked copy, whose layer files may be moved. */
async function loadDir(store: Store, dir: string, label: string, owned: boolean): Promise<Image[]> {
  if (exists(`${dir}/oci-layout`)) return await loadOci(store, dir, label, owned);
  if (exists(`${dir}/manifest.json`)) return await loadDocker(store, dir, label, owned);
  throw new UsageError(`Cannot load "${label}": it is neither an OCI image layout nor a docker archive`);
}

/** A blob of an OCI layout, by digest; digests are checked for their form. */
function blobPath(dir: string, digest: string, label: string): string {
  const match = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!match) throw new UsageError(`Cannot load "${label}": unsupported digest "${digest}"`);
  return `${dir}/blobs/sha256/${match[1]}`;
}

async function loadOci(store: Store, dir: string, label: string, owned: boolean): Promise<Image[]> {
  const index = JSON.parse(await Deno.readTextFile(`${dir}/index.json`)) as OciIndex;
  const images: Image[] = [];
  for (const descriptor of index.manifests) {
    // A nested index (a multi-platform image): take its first manifest.
    let entry = descriptor;
    if (entry.mediaType === MEDIA_INDEX) {
      const nested = JSON.parse(await Deno.readTextFile(blobPath(dir, entry.digest, label))) as OciIndex;
      entry = {
        ...nested.manifests[0],
        annotations: { ...nested.manifests[0].annotations, ...entry.annotations },
      };
    }
    const manifest = JSON.parse(await Deno.readTextFile(blobPath(dir, entry.digest, label))) as Manifest;
    const names = entry.annotations ?? {};
    const name = names[IMAGE_NAME] ?? names[REF_NAME];
    images.push(
      await loadOne(store, {
        label,
        name,
        owned,
        config: blobPath(dir, manifest.config.digest, label),
        configDigest: manifest.config.digest,
        layers: manifest.layers.map((l) => blobPath(dir, l.digest, label)),
      }),
    );
  }
  return images;
}

async function loadDocker(store: Store, dir: string, label: string, owned: boolean): Promise<Image[]> {
  const entries = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`)) as DockerEntry[];
  const images: Image[] = [];
  for (const entry of entries) {
    const inside = (p: string) => {
      if (p.startsWith("/") || p.split("/").includes("..")) {
        throw new UsageError(`Cannot load "${label}": path "${p}" leaves the archive`);
      }
      return `${dir}/${p}`;
    };
    const tags = entry.RepoTags ?? [];
    const spec = { label, owned, config: inside(entry.Config), layers: entry.Layers.map(inside) };
    const first = await loadOne(store, { ...spec, name: tags[0] });
    images.push(first);
    for (const tag of tags.slice(1)) {
      images.push(
        await storeImage(store, tag, first.config, await imageLayers(store, first), await configText(first)),
      );
    }
  }
  return images;

  async function configText(image: Image): Promise<string> {
    return await Deno.readTextFile(store.blob(image.id));
  }
}

/** One image to load: where its config and layers are, and its name. */
interface LoadSpec {
  label: string;
  name?: string;
  /** The layer files are skiff's own copies: move them instead of copying. */
  owned: boolean;
  config: string;
  /** The manifest's digest of the config, checked when given. */
  configDigest?: string;
  layers: string[];
}

async function loadOne(store: Store, spec: LoadSpec): Promise<Image> {
  const text = await Deno.readTextFile(spec.config);
  const config = JSON.parse(text) as ImageConfig;
  const id = await sha256Hex(text);
  if (spec.configDigest !== undefined && spec.configDigest !== `sha256:${id}`) {
    throw new Error(`Cannot load "${spec.label}": the config does not match its digest ${spec.configDigest}`);
  }
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== spec.layers.length) {
    throw new Error(
      `Cannot load "${spec.label}": the config lists ${diffIds.length} layers, the manifest ${spec.layers.length}`,
    );
  }
  const layers: Layer[] = [];
  for (const [i, path] of spec.layers.entries()) {
    // A layer listed twice can be moved only the first time.
    const move = spec.owned && spec.layers.indexOf(path) === i && spec.layers.lastIndexOf(path) === i;
    const layer = await extractLayer(store, path, `${spec.label}: layer ${i + 1}`, { move });
    if (`sha256:${layer.diffId}` !== diffIds[i]) {
      throw new Error(`Cannot load "${spec.label}": layer ${i + 1} does not match its diff id ${diffIds[i]}`);
    }
    layers.push(layer);
  }
  // An archive without a name (an OCI layout with no annotations) is named
  // after its id, since skiff keeps no untagged images.
  const ref = spec.name === undefined ? `loaded-${id.slice(0, 12)}` : normalizeRef(spec.name);
  return await storeImage(store, ref, config, layers, text);
}
