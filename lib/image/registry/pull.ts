/**
 * `pull`: an image from a registry into the store. The manifest (an
 * index picks the host's platform), then the config, then each layer not
 * in the store yet, three at a time: downloaded and checked by
 * blob.ts, then unpacked by the store's own {@link extractLayer}, and the
 * image written to the index by {@link storeImage} as `load` does, under
 * its full name (`docker.io/library/alpine:latest`).
 *
 * Nothing half-made stays: a layer is unpacked only from a blob whose
 * digest, size and diff id were checked, and when a pull fails the layers
 * it added that no image uses are removed again. Only a cut-off download
 * stays, in `ROOT/downloads/`, to be resumed.
 *
 * @module
 */

import { describeError, NotFoundError, UsageError } from "../../errors.ts";
import { exists, sha256Hex, type Store } from "../../store/store.ts";
import { discardUnrecorded } from "../../store/gc.ts";
import { checkConfig } from "../documents.ts";
import { type Image, type ImageConfig, storeImage } from "../images.ts";
import { extractLayer, type Layer } from "../layers.ts";
import { authFiles, findCredentials } from "./auth.ts";
import { downloadBlob } from "./blob.ts";
import { downloadsDir, lockFile, STALE_MS, sweepDownloads, unlockFile } from "./downloads.ts";
import { RegistryClient } from "./client.ts";
import { type Candidate, candidates, loadRegistriesConf } from "./config.ts";
import {
  formatPlatform,
  hostPlatform,
  type ImageManifest,
  isForeign,
  layerCompression,
  MANIFEST_ACCEPT,
  type ManifestIndex,
  manifestKind,
  MAX_MANIFEST,
  offeredPlatforms,
  parsePlatform,
  type Platform,
  type RemoteDescriptor,
  selectPlatform,
} from "./manifest.ts";
import { type Progress, stderrProgress } from "./progress.ts";
import { formatReference, type Reference, repoName, storeKey } from "./reference.ts";
import { recordRepoDigests, rememberCompressed } from "./digests.ts";

/** How to pull. */
export interface PullOptions {
  /** `OS/ARCH[/VARIANT]`; the host's by default. */
  platform?: string;
  /** false: plain HTTP to any registry. */
  tlsVerify?: boolean;
  /** `--authfile`. */
  authfile?: string;
  /** Print nothing. */
  quiet?: boolean;
  /** Where progress goes (stderr by default: see progress.ts). */
  progress?: Progress;
}

/** How many layers download at once. */
const PARALLEL = 3;

/**
 * Pulls `name` and tags it in the store. An unqualified name is tried at
 * each of registries.conf's unqualified-search-registries in turn
 * (docker.io when none is set).
 *
 * @returns the stored image
 * @throws {UsageError} for a malformed name or platform
 * @throws {NotFoundError} when no registry has it
 */
export async function pullImage(store: Store, name: string, opts: PullOptions = {}): Promise<Image> {
  const platform = opts.platform === undefined ? hostPlatform() : parsePlatform(opts.platform);
  if (platform === null) {
    throw new UsageError(`Invalid platform "${opts.platform}": use OS/ARCH[/VARIANT], e.g. linux/arm64`);
  }
  const conf = loadRegistriesConf();
  const tries = candidates(name, conf);
  const failures: Error[] = [];
  for (const candidate of tries) {
    try {
      return await pullFrom(store, candidate, platform, opts);
    } catch (e) {
      // the name may be at the next search registry, as podman tries them all
      if (e instanceof UsageError || tries.length === 1) throw e;
      failures.push(e as Error);
    }
  }
  const message = failures.map((e) => describeError(e)).join("; ");
  throw failures.every((e) => e instanceof NotFoundError) ? new NotFoundError(message) : new Error(message);
}

async function pullFrom(
  store: Store,
  candidate: Candidate,
  platform: Platform,
  opts: PullOptions,
): Promise<Image> {
  const { ref } = candidate;
  const label = `Cannot pull "${formatReference(ref)}"`;
  const progress = opts.progress ?? stderrProgress(Boolean(opts.quiet));
  const credentials = findCredentials(authFiles(opts.authfile), ref.registry, ref.repository);
  const insecure = candidate.insecure || opts.tlsVerify === false;
  let lastError: unknown;
  // mirrors first, then the registry itself, as containers-registries.conf(5) says
  for (const location of [...candidate.mirrors, candidate.location]) {
    const client = new RegistryClient(location.registry, {
      tlsVerify: !(insecure || location.insecure),
      credentials: location.registry === ref.registry ? credentials : findCredentials(
        authFiles(opts.authfile),
        location.registry,
        location.repository,
      ),
    });
    try {
      return await pullWith(store, client, ref, location.repository, platform, progress);
    } catch (e) {
      lastError = e;
      if (location !== candidate.location) {
        progress.line(`Mirror ${location.registry}/${location.repository} failed: ${(e as Error).message}`);
      }
    }
  }
  const e = lastError as Error;
  if (e instanceof NotFoundError || e instanceof UsageError) {
    throw new (e.constructor as typeof Error)(`${label}: ${e.message}`, { cause: e.cause });
  }
  throw new Error(label, { cause: e });
}

async function pullWith(
  store: Store,
  client: RegistryClient,
  ref: Reference,
  repository: string,
  platform: Platform,
  progress: Progress,
): Promise<Image> {
  const scope = `repository:${repository}:pull`;
  const tagOrDigest = ref.digest ?? ref.tag!;
  let { body, digest } = await fetchManifest(client, repository, tagOrDigest, scope, ref.digest);
  const digests = [digest];
  let manifestJson = JSON.parse(body);
  const kind = manifestKind(null, manifestJson);
  if (kind === "index") {
    const index = manifestJson as ManifestIndex;
    if (!Array.isArray(index.manifests)) throw new Error("the index has no manifests list");
    const chosen = selectPlatform(index, platform);
    if (chosen === null) {
      const offered = offeredPlatforms(index);
      throw new NotFoundError(
        `no image for ${formatPlatform(platform)}; it offers ${
          offered.join(", ") || "no platform"
        }: use --platform`,
      );
    }
    ({ body, digest } = await fetchManifest(client, repository, chosen.digest, scope, chosen.digest));
    digests.push(digest);
    manifestJson = JSON.parse(body);
  }
  const manifest = checkManifest(manifestJson);
  progress.line(`Pulling ${formatReference(ref)} (${digest})`);

  const configText = new TextDecoder().decode(await fetchSmall(client, repository, manifest.config, scope));
  let parsed: unknown;
  try {
    parsed = JSON.parse(configText);
  } catch {
    throw new Error(`the config ${manifest.config.digest} is not JSON`);
  }
  // The same checks as load's: shape, digests, and Env as KEY=VALUE data.
  const config: ImageConfig = checkConfig(parsed, `config ${manifest.config.digest}`);
  const diffIds = config.rootfs.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length) {
    throw new Error(
      `the config lists ${
        Array.isArray(diffIds) ? diffIds.length : "no"
      } layers, the manifest ${manifest.layers.length}`,
    );
  }
  for (const d of diffIds) {
    if (typeof d !== "string" || !/^sha256:[0-9a-f]{64}$/.test(d)) {
      throw new Error(`the config has a bad diff id "${d}"`);
    }
  }

  await store.init();
  const downloads = downloadsDir(store);
  Deno.mkdirSync(downloads, { recursive: true, mode: 0o700 });
  sweepDownloads(store, { olderThan: STALE_MS });
  const layers: Layer[] = new Array(manifest.layers.length);
  const added: string[] = [];
  const hexOf = (i: number) => manifest.layers[i].digest.slice("sha256:".length);
  const labelOf = (i: number) => `layer ${i + 1} (${manifest.layers[i].digest})`;
  const present = (i: number) => {
    const diffId = diffIds[i].slice("sha256:".length);
    if (!layerPresent(store, diffId)) return false;
    layers[i] = { diffId, size: layerSize(store, diffId) };
    return true;
  };
  /** The checked, uncompressed tar of layer i in the download area: `HEX.tar`, or `HEX` for a plain one. */
  const readyTar = (i: number) =>
    layerCompression(manifest.layers[i].mediaType) === "none"
      ? `${downloads}/${hexOf(i)}`
      : `${downloads}/${hexOf(i)}.tar`;
  const download = async (i: number) => {
    const d = manifest.layers[i];
    progress.start(hexOf(i), `Copying blob ${hexOf(i).slice(0, 12)}`, d.size);
    const compression = layerCompression(d.mediaType)!;
    // the uncompressed tar is written on the way, so unpacking need not gunzip again
    const tarOut = `${downloads}/${hexOf(i)}.tar.partial`;
    try {
      const got = await downloadBlob(client, d, compression, downloads, {
        scope,
        repository,
        label: labelOf(i),
        tarOut,
        onProgress: (bytes) => progress.update(hexOf(i), bytes),
      });
      progress.done(hexOf(i));
      if (got.diffId !== diffIds[i].slice("sha256:".length)) {
        await Deno.remove(got.path).catch(() => {});
        throw new Error(
          `${labelOf(i)} does not match its diff id ${diffIds[i]}: it unpacks to sha256:${got.diffId}`,
        );
      }
      if (compression !== "none") {
        await Deno.rename(tarOut, readyTar(i));
        await Deno.remove(got.path);
      }
    } finally {
      await Deno.remove(tarOut).catch(() => {});
    }
  };
  // One process per blob at a time (a lock file per digest): a second pull
  // of the same image waits, then finds the download or the layer made.
  const lockOf = (i: number) => lockFile(`${downloads}/${hexOf(i)}.lock`);
  const unlock = (i: number, lock: Deno.FsFile) => unlockFile(`${downloads}/${hexOf(i)}.lock`, lock);
  // First every missing layer is downloaded and checked, three at a time;
  // only then are they unpacked, one by one (extractLayer takes the
  // store's flock synchronously: a second taker in this process would
  // block the event loop the first needs). A pull killed while
  // downloading leaves no layer, only partial blobs to resume.
  const queue = [...manifest.layers.keys()];
  const worker = async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      const lock = await lockOf(i);
      try {
        if (present(i)) progress.skipped(`Copying blob ${hexOf(i).slice(0, 12)}`);
        else if (!exists(readyTar(i))) await download(i);
      } finally {
        unlock(i, lock);
      }
    }
  };
  try {
    const results = await Promise.allSettled(
      Array.from({ length: Math.min(PARALLEL, queue.length) }, worker),
    );
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
    if (failed) throw failed.reason;
    for (const i of manifest.layers.keys()) {
      if (layers[i] !== undefined) continue;
      const lock = await lockOf(i);
      try {
        if (present(i)) continue; // another pull unpacked it meanwhile
        if (!exists(readyTar(i))) await download(i);
        const diffId = diffIds[i].slice("sha256:".length);
        const layer = await extractLayer(store, readyTar(i), labelOf(i), { move: true });
        if (layer.diffId !== diffId) {
          throw new Error(`${labelOf(i)} unpacked to ${layer.diffId}, not ${diffId}`);
        }
        added.push(diffId);
        layers[i] = layer;
      } finally {
        unlock(i, lock);
      }
    }
    progress.line(`Writing manifest to image destination`);
    const image = await storeImage(store, storeKey(ref), config, layers, configText);
    // the index's digest and the platform manifest's, as podman lists them
    await recordRepoDigests(store, image.id, digests.map((d) => `${repoName(ref)}@${d}`));
    // a push of these layers to this registry can then skip or mount the blobs it pulled
    await rememberCompressed(
      store,
      Object.fromEntries(
        manifest.layers.flatMap((d, i) =>
          layerCompression(d.mediaType) === "gzip" && !isForeign(d)
            ? [[diffIds[i].slice("sha256:".length), { digest: d.digest, size: d.size }]]
            : []
        ),
      ),
    );
    return image;
  } catch (e) {
    await discardUnrecorded(store, added);
    throw e;
  }
}

/** A layer is there when its directory and its tar (whole or split) are. */
function layerPresent(store: Store, diffId: string): boolean {
  return exists(store.layer(diffId)) && (exists(store.blob(diffId)) || exists(`${store.blob(diffId)}.split`));
}

function layerSize(store: Store, diffId: string): number {
  try {
    return Deno.statSync(store.blob(diffId)).size;
  } catch {
    const index = readJsonSync<{ size?: number }>(`${store.blob(diffId)}.split/index.json`);
    return index?.size ?? 0;
  }
}

function readJsonSync<T>(path: string): T | null {
  try {
    return JSON.parse(Deno.readTextFileSync(path)) as T;
  } catch {
    return null;
  }
}

/** Reads a response body, refusing more than `max` bytes. */
async function readLimited(res: Response, max: number, what: string): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(res.headers.get("Content-Length") ?? "0");
  if (declared > max) {
    await res.body?.cancel();
    throw new Error(`${what} is ${declared} bytes, over the ${max} bytes skiff accepts`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body ?? []) {
    total += chunk.length;
    if (total > max) throw new Error(`${what} is over the ${max} bytes skiff accepts`);
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

async function fetchManifest(
  client: RegistryClient,
  repository: string,
  tagOrDigest: string,
  scope: string,
  expectDigest?: string,
): Promise<{ body: string; digest: string }> {
  const res = await client.fetch(`/v2/${repository}/manifests/${tagOrDigest}`, {
    headers: { Accept: MANIFEST_ACCEPT },
    scope,
  });
  const what = tagOrDigest.startsWith("sha256:")
    ? `${repository}@${tagOrDigest}`
    : `${repository}:${tagOrDigest}`;
  await checkStatus(res, client, what);
  const bytes = await readLimited(res, MAX_MANIFEST, "the manifest");
  const digest = `sha256:${await sha256Hex(bytes)}`;
  if (expectDigest !== undefined && digest !== expectDigest) {
    throw new Error(`the manifest does not match its digest ${expectDigest}: got ${digest}`);
  }
  const header = res.headers.get("Docker-Content-Digest");
  if (header && /^sha256:/.test(header) && header !== digest) {
    throw new Error(
      `the manifest does not match the registry's Docker-Content-Digest ${header}: got ${digest}`,
    );
  }
  const body = new TextDecoder().decode(bytes);
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error(`the manifest of "${what}" is not JSON`);
  }
  const kind = manifestKind(res.headers.get("Content-Type"), parsed);
  if (kind === "schema1") {
    throw new UsageError(
      `"${what}" has a docker schema 1 manifest, which skiff does not pull (deprecated since 2017): push it again with a current client`,
    );
  }
  if (kind === null) throw new Error(`the manifest of "${what}" is of an unknown kind`);
  return { body, digest };
}

function checkManifest(m: unknown): ImageManifest {
  const manifest = m as ImageManifest;
  if (typeof manifest !== "object" || manifest === null || manifestKind(null, manifest) !== "image") {
    throw new Error("the index points at something that is not an image manifest");
  }
  const isDescriptor = (d: RemoteDescriptor) =>
    typeof d === "object" && d !== null && typeof d.digest === "string" &&
    /^sha256:[0-9a-f]{64}$/.test(d.digest) &&
    Number.isSafeInteger(d.size) && d.size >= 0 && typeof d.mediaType === "string";
  if (!isDescriptor(manifest.config)) throw new Error("the manifest's config is not a sha256 descriptor");
  if (!Array.isArray(manifest.layers)) throw new Error("the manifest's layers must be an array");
  for (const [i, d] of manifest.layers.entries()) {
    if (!isDescriptor(d)) throw new Error(`the manifest's layer ${i + 1} is not a sha256 descriptor`);
    if (layerCompression(d.mediaType) === null) {
      throw new Error(`layer ${i + 1} has media type "${d.mediaType}", which skiff cannot unpack`);
    }
  }
  return manifest;
}

async function fetchSmall(
  client: RegistryClient,
  repository: string,
  d: RemoteDescriptor,
  scope: string,
): Promise<Uint8Array<ArrayBuffer>> {
  if (d.size > MAX_MANIFEST) {
    throw new Error(`the config is ${d.size} bytes, over the ${MAX_MANIFEST} bytes skiff accepts`);
  }
  const res = await client.fetch(`/v2/${repository}/blobs/${d.digest}`, { scope });
  await checkStatus(res, client, d.digest);
  const bytes = await readLimited(res, MAX_MANIFEST, "the config");
  const got = `sha256:${await sha256Hex(bytes)}`;
  if (got !== d.digest) throw new Error(`the config does not match its digest ${d.digest}: got ${got}`);
  return bytes;
}

/** Turns a failed response into the error a user can act on. */
async function checkStatus(res: Response, client: RegistryClient, what: string): Promise<void> {
  if (res.ok) return;
  const text = await res.text().catch(() => "");
  if (res.status === 401) {
    throw new Error(
      client.hasCredentials
        ? `the registry refused the credentials for "${client.registry}"; run skiff login ${client.registry}`
        : `authentication required; run skiff login ${client.registry}`,
    );
  }
  if (res.status === 404) throw new NotFoundError(`"${what}" is not in registry "${client.registry}"`);
  let detail = "";
  try {
    detail = (JSON.parse(text).errors?.[0]?.message as string | undefined) ?? "";
  } catch { /* not JSON */ }
  throw new Error(`the registry answered ${res.status}${detail ? `: ${detail}` : ""} for "${what}"`);
}
