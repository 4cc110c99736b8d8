/**
 * `push`: an image of the store to a registry. Blobs first (a HEAD skips
 * one the registry has; else POST for an upload URL, then PUT of the
 * whole blob), then the manifest with its exact media type: OCI by
 * default, docker v2s2 with `--format docker`.
 *
 * Layers go gzip-compressed (`gzip -n`: no name or time in the header, so
 * the same layer compresses to the same bytes); the diff ids do not
 * change. The compressed digest of each layer is remembered in
 * `ROOT/images/layerblobs.json`, so pushing a layer again is a HEAD, without
 * compressing.
 *
 * @module
 */

import { NotFoundError } from "../../errors.ts";
import { helperCommand } from "../../host/spawn.ts";
import { sha256Hex, type Store } from "../../store/store.ts";
import { findImage, type Image, imageLayers } from "../images.ts";
import { placeLayerTar, sha256File } from "../layers.ts";
import { authFiles, findCredentials } from "./auth.ts";
import { RegistryClient } from "./client.ts";
import { loadRegistriesConf, locate } from "./config.ts";
import { findPulled } from "./local.ts";
import { DOCKER_CONFIG, DOCKER_MANIFEST, OCI_CONFIG, OCI_MANIFEST } from "./manifest.ts";
import { formatReference, parseReference, repoName } from "./reference.ts";
import {
  type Compressed,
  compressedLayers,
  recordRepoDigests,
  rememberCompressed,
  repoDigests,
} from "./digests.ts";

/** How to push. */
export interface PushOptions {
  format?: "oci" | "docker";
  tlsVerify?: boolean;
  authfile?: string;
  quiet?: boolean;
  log?: (line: string) => void;
}

const OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
const DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/**
 * Pushes image `source` to `destination` (by default, to where its name says).
 *
 * @returns the manifest's digest
 * @throws {NotFoundError} when there is no such image
 */
export async function pushImage(
  store: Store,
  source: string,
  destination: string | undefined,
  opts: PushOptions = {},
): Promise<string> {
  const image = (source.includes("@") ? null : await findImage(store, source)) ??
    await findPulled(store, source);
  if (!image) throw new NotFoundError(`Cannot push "${source}": no such image`);
  const ref = parseReference(destination ?? image.ref);
  const label = `Cannot push "${formatReference(ref)}"`;
  const log = opts.quiet ? () => {} : (opts.log ?? ((l: string) => console.error(l)));
  const where = locate(ref, loadRegistriesConf());
  const client = new RegistryClient(where.location.registry, {
    tlsVerify: !(where.insecure || opts.tlsVerify === false),
    credentials: findCredentials(authFiles(opts.authfile), ref.registry, ref.repository),
  });
  let digest: string;
  try {
    digest = await pushWith(
      store,
      client,
      image,
      where.location.repository,
      ref.tag ?? ref.digest!,
      opts.format ?? "oci",
      log,
    );
  } catch (e) {
    throw new Error(label, { cause: e });
  }
  await recordRepoDigests(store, image.id, [`${repoName(ref)}@${digest}`]);
  return digest;
}

async function pushWith(
  store: Store,
  client: RegistryClient,
  image: Image,
  repository: string,
  tag: string,
  format: "oci" | "docker",
  log: (line: string) => void,
): Promise<string> {
  const scope = `repository:${repository}:pull,push`;
  const layers = await imageLayers(store, image);
  const cache = await compressedLayers(store);
  const learned: Record<string, Compressed> = {};
  // repositories of this registry the image came from or went to: blobs can be mounted from them
  const sources = (await repoDigests(store, image.id))
    .map((d) => d.slice(0, d.indexOf("@")))
    .filter((r) => r.startsWith(`${client.registry}/`) && r !== `${client.registry}/${repository}`)
    .map((r) => r.slice(client.registry.length + 1));
  const descriptors: Compressed[] = [];
  await store.init();
  for (const layer of layers) {
    const known = cache[layer.diffId];
    if (known && await blobExists(client, repository, known.digest, scope)) {
      log(`Copying blob ${known.digest.slice(7, 19)} skipped: already exists`);
      descriptors.push(known);
      continue;
    }
    if (known && await mountBlob(client, repository, known.digest, sources)) {
      log(`Copying blob ${known.digest.slice(7, 19)} mounted from another repository`);
      descriptors.push(known);
      continue;
    }
    const tmp = await Deno.makeTempDir({ dir: store.tmpDir, prefix: store.tempPrefix("push") });
    try {
      await placeLayerTar(store, layer.diffId, `${tmp}/layer.tar`);
      const gz = `${tmp}/layer.tar.gz`;
      const out = await helperCommand("sh", {
        args: ["-c", 'exec gzip -n -c -- "$1" > "$2"', "sh", `${tmp}/layer.tar`, gz],
        stderr: "piped",
      }).output();
      if (!out.success) throw new Error(`Cannot compress layer ${layer.diffId.slice(0, 12)}: gzip failed`);
      const compressed = { digest: `sha256:${await sha256File(gz)}`, size: Deno.statSync(gz).size };
      learned[layer.diffId] = compressed;
      descriptors.push(compressed);
      if (await blobExists(client, repository, compressed.digest, scope)) {
        log(`Copying blob ${compressed.digest.slice(7, 19)} skipped: already exists`);
        continue;
      }
      log(`Copying blob ${compressed.digest.slice(7, 19)} (${compressed.size} bytes)`);
      await uploadBlob(client, repository, compressed.digest, scope, gz, compressed.size);
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  }
  await rememberCompressed(store, learned);

  const configBytes = Deno.readFileSync(store.blob(image.id));
  const configDigest = `sha256:${image.id}`;
  if (
    !(await blobExists(client, repository, configDigest, scope)) &&
    !(await mountBlob(client, repository, configDigest, sources))
  ) {
    log(`Copying config ${image.id.slice(0, 12)}`);
    await uploadBlob(client, repository, configDigest, scope, configBytes, configBytes.length);
  }
  const oci = format === "oci";
  const manifest = {
    schemaVersion: 2,
    mediaType: oci ? OCI_MANIFEST : DOCKER_MANIFEST,
    config: { mediaType: oci ? OCI_CONFIG : DOCKER_CONFIG, digest: configDigest, size: configBytes.length },
    layers: descriptors.map((d) => ({ mediaType: oci ? OCI_LAYER_GZIP : DOCKER_LAYER_GZIP, ...d })),
  };
  const body = JSON.stringify(manifest);
  log("Writing manifest to image destination");
  const res = await client.fetch(`/v2/${repository}/manifests/${tag}`, {
    method: "PUT",
    headers: { "Content-Type": manifest.mediaType },
    body,
    scope,
  });
  await expectOk(client, res, `the manifest`);
  return `sha256:${await sha256Hex(body)}`;
}

async function blobExists(
  client: RegistryClient,
  repository: string,
  digest: string,
  scope: string,
): Promise<boolean> {
  const res = await client.fetch(`/v2/${repository}/blobs/${digest}`, { method: "HEAD", scope });
  await res.body?.cancel();
  if (res.status === 401) throw authError(client);
  return res.ok;
}

function authError(client: RegistryClient): Error {
  return new Error(
    client.hasCredentials
      ? `the registry refused the credentials for "${client.registry}"; run skiff login ${client.registry}`
      : `authentication required; run skiff login ${client.registry}`,
  );
}

/**
 * Asks the registry to mount a blob from another of its repositories
 * (distribution spec: POST ?mount=&from=): 201 means done. A registry that
 * cannot answers 202 with an upload, given up here (the caller uploads).
 */
async function mountBlob(
  client: RegistryClient,
  repository: string,
  digest: string,
  from: string[],
): Promise<boolean> {
  for (const source of from) {
    const scope = `repository:${repository}:pull,push repository:${source}:pull`;
    const query = `mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(source)}`;
    const res = await client.fetch(`/v2/${repository}/blobs/uploads/?${query}`, { method: "POST", scope });
    await res.body?.cancel();
    if (res.status === 201) return true;
    const location = res.headers.get("Location");
    if (res.status === 202 && location) {
      const cancel = await client.fetch(new URL(location, client.base).href, { method: "DELETE", scope });
      await cancel.body?.cancel();
    }
  }
  return false;
}

/** POST for an upload URL, then PUT the whole blob there with its digest. */
async function uploadBlob(
  client: RegistryClient,
  repository: string,
  digest: string,
  scope: string,
  from: string | Uint8Array<ArrayBuffer>,
  size: number,
): Promise<void> {
  const start = await client.fetch(`/v2/${repository}/blobs/uploads/`, { method: "POST", scope });
  await expectOk(client, start, `an upload of ${digest}`);
  const location = start.headers.get("Location");
  if (!location) throw new Error(`the registry gave no upload URL for ${digest}`);
  const url = new URL(location, client.base);
  url.searchParams.set("digest", digest);
  let body: BodyInit;
  let file: Deno.FsFile | undefined;
  if (typeof from === "string") {
    file = await Deno.open(from);
    body = file.readable;
  } else body = from;
  try {
    const put = await client.fetch(url.href, {
      method: "PUT",
      headers: { "Content-Type": "application/octet-stream", "Content-Length": String(size) },
      body,
      scope,
      replayable: typeof from !== "string",
    });
    await expectOk(client, put, `the blob ${digest}`);
  } finally {
    try {
      file?.close();
    } catch { /* the stream closed it */ }
  }
}

async function expectOk(client: RegistryClient, res: Response, what: string): Promise<void> {
  if (res.ok) {
    await res.body?.cancel();
    return;
  }
  const text = await res.text().catch(() => "");
  if (res.status === 401) throw authError(client);
  let detail = "";
  try {
    detail = (JSON.parse(text).errors?.[0]?.message as string | undefined) ?? "";
  } catch { /* not JSON */ }
  throw new Error(`the registry answered ${res.status}${detail ? `: ${detail}` : ""} for ${what}`);
}
