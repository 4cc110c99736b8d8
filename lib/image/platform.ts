/**
 * Choosing the host's image from a multi-platform index (image-spec
 * image-index.md): the os, architecture and variant of this machine, as
 * Go names them (`GOARCH`), which is what indexes use.
 *
 * @module
 */

/** An index entry's `platform`, the parts matched here. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** Deno's (Rust's) architecture names to Go's; other spellings tools write, too. */
const ARCH: Record<string, string> = { x86_64: "amd64", "x86-64": "amd64", aarch64: "arm64" };

/**
 * This machine's platform: `linux/amd64`, or `linux/arm64/v8`.
 *
 * @param arch an architecture as `Deno.build.arch` names it
 */
export function hostPlatform(arch: string = Deno.build.arch): Platform {
  const architecture = ARCH[arch] ?? arch;
  return architecture === "arm64"
    ? { os: "linux", architecture, variant: "v8" }
    : { os: "linux", architecture };
}

/** `os/architecture[/variant]`, as docker prints a platform. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((s) => s !== undefined && s !== "").join("/");
}

/**
 * Whether an image of `p` runs on `host`. arm64 takes variant v8 or none
 * (Go's default arm64 is v8); other architectures want the variant the
 * host has, none for amd64.
 */
export function matchesPlatform(p: Platform, host: Platform): boolean {
  if (p.os !== host.os || (ARCH[p.architecture] ?? p.architecture) !== host.architecture) return false;
  const variant = p.variant ?? "";
  if (host.architecture === "arm64") return variant === "" || variant === "v8";
  return variant === (host.variant ?? "");
}

/** buildx's attestation manifests (SBOM, provenance) are `unknown/unknown`: not images. */
function isAttestation(p: Platform | undefined): boolean {
  return p !== undefined && (p.os === "unknown" || p.architecture === "unknown");
}

/**
 * Picks the host's entry of an index: the first whose platform matches,
 * else the first without a platform (containerd takes those as any
 * platform's), never an attestation.
 *
 * @param manifests the index's entries, in its order
 * @param host the platform wanted, this machine's by default
 * @returns the entry to use
 * @throws {Error} `no image for linux/amd64; it offers linux/arm64/v8, linux/s390x`
 * @example
 * ```ts
 * const entry = choosePlatform(index.manifests, hostPlatform("x86_64"));
 * ```
 */
export function choosePlatform<T extends { platform?: Platform }>(
  manifests: readonly T[],
  host: Platform = hostPlatform(),
): T {
  const images = manifests.filter((m) => !isAttestation(m.platform));
  const match = images.find((m) => m.platform !== undefined && matchesPlatform(m.platform, host)) ??
    images.find((m) => m.platform === undefined);
  if (match !== undefined) return match;
  const offers = [...new Set(images.map((m) => formatPlatform(m.platform!)))];
  throw new Error(`no image for ${formatPlatform(host)}; it offers ${offers.join(", ") || "none"}`);
}
