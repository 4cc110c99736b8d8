/**
 * Manifests as registries serve them: OCI and docker v2s2 manifests, OCI
 * indexes and docker manifest lists, and the choice of one platform's
 * manifest from an index. Pure functions over parsed JSON.
 *
 * @module
 */

export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json";
export const DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";

/** What a manifest GET accepts: distribution 2.8 answers 404 for an OCI image unless the OCI types are listed. */
export const MANIFEST_ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(", ");

/** Manifests larger than this are refused, as containerd and the spec's guidance do. */
export const MAX_MANIFEST = 4 << 20;

/** A content descriptor as manifests carry it. */
export interface RemoteDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** An OS/architecture[/variant]. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** An image manifest, OCI or docker v2s2. */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: RemoteDescriptor;
  layers: RemoteDescriptor[];
}

/** An OCI index or a docker manifest list. */
export interface ManifestIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: RemoteDescriptor[];
}

/** How a layer's bytes are compressed, from its media type. */
export type Compression = "none" | "gzip" | "zstd";

/**
 * A layer's compression, or null for a media type that is not a layer
 * skiff can unpack.
 */
export function layerCompression(mediaType: string): Compression | null {
  switch (mediaType) {
    case "application/vnd.oci.image.layer.v1.tar":
    case "application/vnd.oci.image.layer.nondistributable.v1.tar":
      return "none";
    case "application/vnd.oci.image.layer.v1.tar+gzip":
    case "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip":
    case "application/vnd.docker.image.rootfs.diff.tar.gzip":
    case "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":
      return "gzip";
    case "application/vnd.oci.image.layer.v1.tar+zstd":
    case "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd":
      return "zstd";
    default:
      return null;
  }
}

/** Whether a layer is foreign (non-distributable): fetched from its `urls`, never pushed. */
export function isForeign(d: RemoteDescriptor): boolean {
  return /nondistributable|foreign/.test(d.mediaType) && (d.urls?.length ?? 0) > 0;
}

/** A manifest's kind, from its Content-Type or its own mediaType. */
export function manifestKind(
  contentType: string | null,
  body: {
    mediaType?: unknown;
    schemaVersion?: unknown;
    manifests?: unknown;
    config?: unknown;
    layers?: unknown;
  },
): "index" | "image" | "schema1" | null {
  const type = (typeof body.mediaType === "string" ? body.mediaType : "") ||
    (contentType ?? "").split(";")[0].trim();
  if (body.schemaVersion === 1 || type === DOCKER_SCHEMA1 || type === DOCKER_SCHEMA1_SIGNED) return "schema1";
  if (type === OCI_INDEX || type === DOCKER_LIST) return "index";
  if (type === OCI_MANIFEST || type === DOCKER_MANIFEST) return "image";
  // an OCI manifest may leave mediaType out: tell them apart by shape
  if (Array.isArray(body.manifests)) return "index";
  if ("config" in body && "layers" in body) return "image";
  return null;
}

/** The host's platform, as image indexes spell it. */
export function hostPlatform(): Platform {
  return Deno.build.arch === "aarch64"
    ? { os: "linux", architecture: "arm64", variant: "v8" }
    : { os: "linux", architecture: "amd64" };
}

/**
 * Parses `--platform OS/ARCH[/VARIANT]`.
 *
 * @returns null when malformed
 */
export function parsePlatform(text: string): Platform | null {
  const parts = text.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) return null;
  return { os: parts[0], architecture: parts[1], variant: parts[2] };
}

/** `os/arch[/variant]`. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x).join("/");
}

/**
 * The index entry for a platform: os and architecture equal, the variant
 * equal when asked for (arm64's v8 and none being one), attestation
 * entries (`unknown/unknown`) skipped.
 *
 * @returns the entry, or null; {@link offeredPlatforms} says what there was
 */
export function selectPlatform(index: ManifestIndex, want: Platform): RemoteDescriptor | null {
  const norm = (p: Platform) =>
    p.architecture === "arm64" && (p.variant === undefined || p.variant === "" || p.variant === "v8")
      ? undefined
      : p.variant || undefined;
  const candidates = index.manifests.filter((m) =>
    m.platform !== undefined && m.platform.os === want.os && m.platform.architecture === want.architecture
  );
  if (want.variant !== undefined && norm(want) !== undefined) {
    return candidates.find((m) => norm(m.platform!) === norm(want)) ?? null;
  }
  return candidates.find((m) => norm(m.platform!) === undefined) ?? candidates[0] ?? null;
}

/** The platforms an index offers, attestations left out, for an error message. */
export function offeredPlatforms(index: ManifestIndex): string[] {
  return index.manifests
    .filter((m) => m.platform && m.platform.os !== "unknown")
    .map((m) => formatPlatform(m.platform!));
}
