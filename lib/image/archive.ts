/**
 * Image archives: `save` writes an OCI image layout as a tar (image-spec
 * image-layout.md) or the `docker save` format; `load` reads either, as a
 * tar or (OCI) as a directory, with plain or gzip layers, keeping names.
 *
 * Saving hard-links the store's blobs into a staging directory (the store
 * and its tmp/ share a filesystem), so nothing is copied but by tar.
 * Loading reads every file of the archive inside it (lib/image/_archive_files.ts:
 * no symlink or `..` leads out, and only regular files are read), checks
 * each document's shape (lib/image/documents.ts) and digest, picks the
 * host's platform from a multi-platform index, and checks every layer
 * against its config's diff id, all before anything is tagged. A load that
 * fails leaves nothing: no tag, and no layer it brought.
 *
 * @module
 */

import { NotFoundError, UsageError } from "../errors.ts";
import { type ArchiveFile, ArchiveFiles } from "./_archive_files.ts";
import {
  checkConfig,
  checkDockerManifest,
  type CheckedDescriptor,
  checkIndex,
  checkManifest,
  INDEX_TYPES,
  looksLikeIndex,
  parseJson,
} from "./documents.ts";
import {
  findImage,
  type Image,
  type ImageConfig,
  imageLayers,
  MEDIA_MANIFEST,
  normalizeRef,
  storeImage,
} from "./images.ts";
import { extractLayer, type Layer, placeLayerTar } from "./layers.ts";
import { choosePlatform } from "./platform.ts";
import { helperCommand, helperFailure } from "../host/spawn.ts";
import { exists, sha256Hex, type Store } from "../store/store.ts";
import { discardUnrecorded } from "../store/gc.ts";

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

/** One entry of a `docker save` manifest.json, as `save` writes it. */
interface DockerEntry {
  Config: string;
  RepoTags: string[];
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
  for (const hex of [image.id, image.manifest, ...layers.map((l) => l.diffId)]) {
    // names of files in the store and the staging dir: never a path
    if (!/^[0-9a-f]{64}$/.test(hex)) {
      throw new Error(`Image ${image.id.slice(0, 12)} is damaged: bad digest "${hex}"`);
    }
  }
  // tar would fail on a directory, and the cleanup below must only remove
  // a file this save made.
  const existed = exists(path);
  if (existed && isDirectory(path)) {
    throw new UsageError(`Cannot write "${path}": it is a directory`);
  }
  await store.init();
  const staging = await Deno.makeTempDir({ dir: store.tmpDir, prefix: store.tempPrefix("save") });
  try {
    if (format === "oci") await stageOci(store, image, staging);
    else await stageDocker(store, image, layers, staging);
    const tar = await helperCommand("tar", {
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
      stdin: "null",
      stderr: "piped",
    }).output();
    if (!tar.success) {
      if (!existed) await Deno.remove(path).catch(() => {});
      throw new Error(`Cannot write "${path}": ${helperFailure("tar", tar)}`);
    }
  } finally {
    await Deno.remove(staging, { recursive: true });
  }
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false; // a dangling symlink: tar makes its target
  }
}

async function stageOci(store: Store, image: Image, staging: string): Promise<void> {
  await Deno.mkdir(`${staging}/blobs/sha256`, { recursive: true });
  for (const hex of [image.manifest, image.id]) {
    await Deno.link(store.blob(hex), `${staging}/blobs/sha256/${hex}`);
  }
  for (const hex of (await imageLayers(store, image)).map((l) => l.diffId)) {
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
 * of one) or a `docker save` tar. All or nothing: when one image fails,
 * none is tagged, and the layers this load brought are removed.
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
    // GNU tar refuses `..` members and makes a symlink only after the
    // members (placeholders until then), so nothing is written out of dir.
    const tar = await helperCommand("tar", {
      args: ["-x", "-f", path, "-C", dir, "--no-same-owner"],
      stdin: "null",
      stderr: "piped",
    }).output();
    if (!tar.success) {
      const said = new TextDecoder().decode(tar.stderr);
      const why = /does not look like a tar archive/.test(said)
        ? "it is not a tar archive"
        : helperFailure("tar", tar);
      throw new UsageError(`Cannot load "${path}": ${why}`);
    }
    return await loadDir(store, dir, path, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** One image of an archive, checked and ready to store. */
interface Plan {
  /** Normalised `name:tag`s; none for an OCI image without a name. */
  refs: string[];
  config: ImageConfig;
  /** The config's exact text: its sha256 is the image id. */
  configText: string;
  id: string;
  layers: ArchiveFile[];
}

/** `owned`: `dir` is skiff's unpacked copy, whose layer files may be moved. */
async function loadDir(store: Store, dir: string, label: string, owned: boolean): Promise<Image[]> {
  try {
    using files = new ArchiveFiles(dir);
    let plans: Plan[];
    if (files.has("oci-layout")) plans = await planOci(files);
    else if (files.has("manifest.json")) plans = await planDocker(files);
    else throw new UsageError("it is neither an OCI image layout nor a docker archive");
    return await storePlans(store, files, plans, owned);
  } catch (e) {
    const error = new Error(`Cannot load "${label}"`, { cause: e });
    throw e instanceof UsageError ? new UsageError(error.message, { cause: e }) : error;
  }
}

/** Reads, checks and parses a JSON document of the archive; checks its digest when given. */
async function readDocument(
  files: ArchiveFiles,
  file: ArchiveFile,
  digest?: { digest: string; size: number },
): Promise<{ doc: unknown; text: string; hex: string }> {
  const { text, bytes } = files.read(file);
  const hex = await sha256Hex(bytes);
  if (digest !== undefined) {
    if (digest.digest !== `sha256:${hex}`) throw new Error(`${file.what} does not match its digest`);
    if (digest.size !== bytes.length) {
      throw new Error(`${file.what} is ${bytes.length} bytes, not the ${digest.size} its descriptor says`);
    }
  }
  return { doc: parseJson(text, file.what), text, hex };
}

/** A blob of an OCI layout, by its (checked) digest. */
function openBlob(files: ArchiveFiles, digest: string, kind: string): ArchiveFile {
  return files.open(`blobs/sha256/${digest.slice("sha256:".length)}`, `${kind} ${digest}`);
}

/** How deep indexes may nest (an index of multi-platform indexes is two). */
const MAX_NESTING = 4;

async function planOci(files: ArchiveFiles): Promise<Plan[]> {
  const top = files.open("index.json", '"index.json"');
  const index = checkIndex((await readDocument(files, top)).doc, top.what);
  if (index.manifests.length === 0) throw new Error(`${top.what} lists no images`);
  // Entries with a platform that share a name are the platforms of one image.
  const groups = new Map<string, CheckedDescriptor[]>();
  for (const [i, entry] of index.manifests.entries()) {
    const key = entry.platform === undefined ? `#${i}` : `name:${nameOf(entry) ?? ""}`;
    groups.set(key, [...groups.get(key) ?? [], entry]);
  }
  const plans: Plan[] = [];
  for (const group of groups.values()) {
    const entry = group.length === 1 ? group[0] : withWhere(top.what, () => choosePlatform(group));
    const name = nameOf(entry);
    plans.push(await planManifest(files, entry, name === undefined ? [] : [normalizeRef(name)], 0));
  }
  return plans;
}

/** An OCI image's full name, else its tag name (a layout's ref.name). */
function nameOf(entry: CheckedDescriptor): string | undefined {
  return entry.annotations?.[IMAGE_NAME] ?? entry.annotations?.[REF_NAME];
}

async function planManifest(
  files: ArchiveFiles,
  entry: CheckedDescriptor,
  refs: string[],
  depth: number,
): Promise<Plan> {
  const isIndex = entry.mediaType !== undefined ? INDEX_TYPES.includes(entry.mediaType) : undefined;
  const file = openBlob(files, entry.digest, isIndex ? "index" : "manifest");
  const { doc } = await readDocument(files, file, entry);
  if (isIndex ?? looksLikeIndex(doc)) {
    const where = `index ${entry.digest}`;
    if (depth >= MAX_NESTING) throw new Error(`${where}: indexes nest more than ${MAX_NESTING} deep`);
    const nested = checkIndex(doc, where);
    const chosen = withWhere(where, () => choosePlatform(nested.manifests));
    return await planManifest(files, chosen, refs, depth + 1);
  }
  const manifest = checkManifest(doc, `manifest ${entry.digest}`);
  const configFile = openBlob(files, manifest.config.digest, "config");
  const config = await readDocument(files, configFile, manifest.config);
  const layers = manifest.layers.map((d) => {
    const layer = openBlob(files, d.digest, "layer");
    if (layer.size !== d.size) {
      throw new Error(`${layer.what} is ${layer.size} bytes, not the ${d.size} its descriptor says`);
    }
    return layer;
  });
  return plan(refs, config, configFile.what, layers);
}

async function planDocker(files: ArchiveFiles): Promise<Plan[]> {
  const top = files.open("manifest.json", '"manifest.json"');
  const entries = checkDockerManifest((await readDocument(files, top)).doc, top.what);
  if (entries.length === 0) throw new Error(`${top.what} lists no images`);
  const plans: Plan[] = [];
  for (const entry of entries) {
    const configFile = files.open(inside(entry.Config), `config "${entry.Config}"`);
    const config = await readDocument(files, configFile);
    const layers = entry.Layers.map((p) => files.open(inside(p), `layer "${p}"`));
    plans.push(plan(entry.RepoTags.map(normalizeRef), config, configFile.what, layers));
  }
  return plans;
}

/** A docker archive's path, checked to stay in it (RESOLVE_IN_ROOT would clamp it; this says so). */
function inside(p: string): string {
  if (p.startsWith("/") || p.split("/").includes("..")) throw new Error(`path "${p}" leaves the archive`);
  return p;
}

/** Runs `fn`, putting `where: ` before its error. */
function withWhere<T>(where: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
}

function plan(
  refs: string[],
  config: { doc: unknown; text: string; hex: string },
  where: string,
  layers: ArchiveFile[],
): Plan {
  const checked = checkConfig(config.doc, where);
  const diffIds = checked.rootfs.diff_ids;
  if (diffIds.length !== layers.length) {
    throw new Error(`${where} lists ${diffIds.length} layers, the manifest ${layers.length}`);
  }
  return { refs, config: checked, configText: config.text, id: config.hex, layers };
}

/**
 * Extracts every image's layers (each file once, however many images or
 * links name it), checks them against the diff ids, then tags. On failure
 * the layers it added go again, unless something else needs them.
 */
async function storePlans(
  store: Store,
  files: ArchiveFiles,
  plans: Plan[],
  owned: boolean,
): Promise<Image[]> {
  await store.init();
  const extracted = new Map<string, Layer>();
  try {
    const layersOf: Layer[][] = [];
    for (const plan of plans) {
      const layers: Layer[] = [];
      for (const [i, file] of plan.layers.entries()) {
        let layer = extracted.get(file.key);
        if (layer === undefined) {
          layer = await extract(store, files, file, owned);
          extracted.set(file.key, layer);
        }
        const want = plan.config.rootfs.diff_ids[i];
        if (`sha256:${layer.diffId}` !== want) {
          throw new Error(`layer ${i + 1} does not match its diff id ${want}`);
        }
        layers.push(layer);
      }
      layersOf.push(layers);
    }
    const images: Image[] = [];
    for (const [i, plan] of plans.entries()) {
      // An archive without a name (an OCI layout with no annotations) is
      // named after its id, since skiff keeps no untagged images.
      const refs = plan.refs.length > 0 ? plan.refs : [`loaded-${plan.id.slice(0, 12)}`];
      for (const ref of refs) {
        images.push(await storeImage(store, ref, plan.config, layersOf[i], plan.configText));
      }
    }
    return images;
  } catch (e) {
    await discardUnrecorded(store, [...extracted.values()].map((l) => l.diffId));
    throw e;
  }
}

async function extract(store: Store, files: ArchiveFiles, file: ArchiveFile, owned: boolean): Promise<Layer> {
  // skiff's own unpacked copy may be moved into the store; anything else
  // (the user's layout directory) is only read, through its descriptor.
  const mine = owned ? files.pathInDir(file) : null;
  try {
    return await extractLayer(store, mine ?? file.childPath, file.what, { move: mine !== null });
  } catch (e) {
    // extractLayer says `Cannot import "WHAT": why`; here it is `WHAT: why`
    const prefix = `Cannot import "${file.what}": `;
    const message = (e as Error).message;
    throw message.startsWith(prefix) ? new Error(`${file.what}: ${message.slice(prefix.length)}`) : e;
  }
}
