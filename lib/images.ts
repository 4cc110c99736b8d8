/**
 * The image store. An image is an OCI image config (kept as a blob named by
 * its sha256, which is the image id) plus the layers it lists by diff id;
 * each layer is extracted once into `layers/HEX/` and shared by every image
 * and container that uses it. `images/index.json` maps `name:tag` to ids.
 *
 * @module
 */

import { NotFoundError, UsageError } from "./errors.ts";
import { readJson, type Store, writeAtomic } from "./store.ts";

/** The parts of an OCI image config (image-spec config.md) skiff uses. */
export interface ImageConfig {
  created: string;
  architecture: string;
  os: "linux";
  config: {
    Cmd?: string[];
    Entrypoint?: string[];
    Env?: string[];
    WorkingDir?: string;
  };
  rootfs: { type: "layers"; diff_ids: string[] };
  history?: { created: string; created_by?: string; comment?: string }[];
}

/** An index entry: what a `name:tag` points at. */
interface IndexEntry {
  id: string;
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
  size: number;
  config: ImageConfig;
}

const NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
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
  return `${name}:${tag}`;
}

async function readIndex(store: Store): Promise<Index> {
  return (await readJson<Index>(store.imageIndex)) ?? {};
}

async function readConfig(store: Store, id: string): Promise<ImageConfig> {
  const config = await readJson<ImageConfig>(store.blob(id));
  if (config === null) throw new Error(`Image ${id.slice(0, 12)} is damaged: its config blob is missing`);
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
 * Finds an image by `name[:tag]`, or by a prefix of its id.
 *
 * @returns the image, or null when nothing matches
 */
export async function findImage(store: Store, ref: string): Promise<Image | null> {
  const index = await readIndex(store);
  const hex = ref.replace(/^sha256:/, "");
  const byId = /^[0-9a-f]{4,64}$/.test(hex)
    ? Object.entries(index).find(([, e]) => e.id.startsWith(hex))
    : undefined;
  let found = byId;
  if (found === undefined) {
    const key = normalizeRef(ref);
    if (index[key]) found = [key, index[key]];
  }
  if (found === undefined) return null;
  const [key, entry] = found;
  return { ref: key, ...entry, config: await readConfig(store, entry.id) };
}

/** The host directories of an image's layers, topmost first (overlay's lowerdir order). */
export function layerDirs(store: Store, image: Image): string[] {
  return image.config.rootfs.diff_ids.map((d) => store.layer(d.replace(/^sha256:/, ""))).reverse();
}

/** What {@link importImage} needs besides the tar stream. */
export interface ImportOptions {
  /** `name[:tag]` to give the image. */
  ref: string;
  /** What to call the source in errors, e.g. the file name. */
  label: string;
  /** The image's default command and environment. */
  config?: ImageConfig["config"];
  /** The history line, e.g. how the image was made. */
  createdBy?: string;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * Imports a rootfs tarball (plain or gzip) as a one-layer image. The layer
 * is extracted by GNU tar into a temporary directory and renamed into place
 * under its diff id, so a failed or interrupted import leaves nothing.
 *
 * @throws {Error} when the input is not a tar archive (nothing is kept)
 */
export async function importImage(
  store: Store,
  source: ReadableStream<Uint8Array>,
  opts: ImportOptions,
): Promise<Image> {
  const ref = normalizeRef(opts.ref);
  await store.init();
  const tmp = await Deno.makeTempDir({ dir: store.tmpDir, prefix: `layer-${Deno.pid}-` });
  try {
    const { diffId, size } = await extractTar(source, tmp, opts.label);
    const created = new Date().toISOString();
    const config: ImageConfig = {
      created,
      architecture: Deno.build.arch === "x86_64" ? "amd64" : "arm64",
      os: "linux",
      config: opts.config ?? {},
      rootfs: { type: "layers", diff_ids: [`sha256:${diffId}`] },
      history: [{ created, created_by: opts.createdBy ?? `skiff import ${opts.label}` }],
    };
    const json = JSON.stringify(config);
    const id = await sha256Hex(new TextEncoder().encode(json));
    await store.locked(async () => {
      try {
        await Deno.rename(tmp, store.layer(diffId));
      } catch (e) {
        // Another import already made this layer: it is identical by definition.
        if (!(e instanceof Deno.errors.AlreadyExists || isNotEmpty(e))) throw e;
      }
      await writeAtomic(store.blob(id), json);
      const index = await readIndex(store);
      index[ref] = { id, size };
      await writeAtomic(store.imageIndex, JSON.stringify(index, null, 2));
    });
    return { ref, id, size, config };
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

function isNotEmpty(e: unknown): boolean {
  return e instanceof Error && /ENOTEMPTY|not empty/i.test(e.message);
}

async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Streams a tar into GNU tar, hashing the uncompressed bytes on the way
 * (the layer's diff id). node:crypto is loaded here, not at start-up: it
 * costs Deno tens of milliseconds to load and `run` rarely imports.
 */
async function extractTar(
  source: ReadableStream<Uint8Array>,
  dir: string,
  label: string,
): Promise<{ diffId: string; size: number }> {
  const { createHash } = await import("node:crypto");
  const root = Deno.uid() === 0;
  const tar = new Deno.Command("tar", {
    args: [
      "-x",
      "-f",
      "-",
      "-C",
      dir,
      "--numeric-owner",
      ...(root
        ? ["--same-owner", "--same-permissions", "--xattrs", "--xattrs-include=*"]
        : ["--no-same-owner"]),
    ],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const hash = createHash("sha256");
  let size = 0;
  const writer = tar.stdin.getWriter();
  let writeError: unknown;
  try {
    for await (const chunk of await decompressed(source)) {
      hash.update(chunk);
      size += chunk.length;
      await writer.write(chunk);
    }
    await writer.close();
  } catch (e) {
    // tar exits early on bad input and closes its stdin; its stderr says why
    writeError = e;
    await writer.abort().catch(() => {});
  }
  const { code, stderr } = await tar.output();
  if (code !== 0 || writeError !== undefined) {
    const said = new TextDecoder().decode(stderr).split("\n").find((l) => l.trim() !== "") ?? "";
    const why = /does not look like a tar archive|Unexpected EOF|Skipping to next header/.test(said)
      ? "it is not a tar archive"
      : said.replace(/^tar: /, "") || String(writeError);
    throw new Error(`Cannot import "${label}": ${why}`);
  }
  return { diffId: hash.digest("hex"), size };
}

/** The stream itself, or its gunzipped bytes when it starts with gzip's magic. */
async function decompressed(source: ReadableStream<Uint8Array>): Promise<ReadableStream<Uint8Array>> {
  // Peek at the first chunk, then hand it on with the rest. (tee() would
  // do, but cancelling one branch waits for the other.)
  const reader = source.getReader();
  const first = await reader.read();
  const whole = new ReadableStream<Uint8Array>({
    start(controller) {
      if (first.done) controller.close();
      else controller.enqueue(first.value);
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  const gzip = !first.done && GZIP_MAGIC.every((b, i) => first.value[i] === b);
  return gzip
    ? whole.pipeThrough(new DecompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>)
    : whole;
}

/**
 * Resolves what the user named to an image: a stored image, the busybox
 * image (built on first use), or a path to a rootfs tarball, imported.
 *
 * @throws {NotFoundError} when none of these applies
 */
export async function resolveImage(store: Store, ref: string): Promise<Image> {
  if (looksLikePath(ref)) return await importFile(store, ref, tarballName(ref));
  const found = await findImage(store, ref);
  if (found) return found;
  if (normalizeRef(ref) === "busybox:latest") {
    const { buildBusyboxImage } = await import("../images/busybox.ts");
    return await buildBusyboxImage(store);
  }
  throw new NotFoundError(
    `Unable to find image "${ref}": pulling is not supported yet; use "busybox", or skiff import FILE.tar ${ref}`,
  );
}

function looksLikePath(ref: string): boolean {
  return ref.includes("/") && (ref.startsWith(".") || ref.startsWith("/")) ||
    /\.(tar|tgz|tar\.gz)$/.test(ref);
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
  normalizeRef(ref);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new NotFoundError(`Cannot import "${path}": no such file`);
    throw new Error(`Cannot import "${path}"`, { cause: e });
  }
  if (!(await file.stat()).isFile) {
    file.close();
    throw new UsageError(`Cannot import "${path}": not a regular file`);
  }
  // Like `docker import`, the image gets no default command: run falls back to /bin/sh.
  return await importImage(store, file.readable, { ref, label: path });
}
