import assert from "node:assert/strict";
import {
  layerCompression,
  type ManifestIndex,
  manifestKind,
  offeredPlatforms,
  parsePlatform,
  selectPlatform,
} from "./manifest.ts";

const entry = (digest: string, os: string, architecture: string, variant?: string) => ({
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  digest,
  size: 1,
  platform: { os, architecture, ...(variant ? { variant } : {}) },
});

const INDEX: ManifestIndex = {
  schemaVersion: 2,
  manifests: [
    entry("unknown", "unknown", "unknown"),
    entry("arm7", "linux", "arm", "v7"),
    entry("arm6", "linux", "arm", "v6"),
    entry("arm64", "linux", "arm64", "v8"),
    entry("amd64", "linux", "amd64"),
  ],
};

Deno.test("an index gives the platform asked for; arm64's v8 and no variant are one; attestations are skipped", () => {
  assert.equal(selectPlatform(INDEX, { os: "linux", architecture: "amd64" })?.digest, "amd64");
  assert.equal(selectPlatform(INDEX, { os: "linux", architecture: "arm64" })?.digest, "arm64");
  assert.equal(selectPlatform(INDEX, { os: "linux", architecture: "arm64", variant: "v8" })?.digest, "arm64");
  const noVariant = { schemaVersion: 2 as const, manifests: [entry("plain", "linux", "arm64")] };
  assert.equal(
    selectPlatform(noVariant, { os: "linux", architecture: "arm64", variant: "v8" })?.digest,
    "plain",
  );
  assert.equal(selectPlatform(INDEX, { os: "linux", architecture: "arm", variant: "v6" })?.digest, "arm6");
  assert.equal(selectPlatform(INDEX, { os: "linux", architecture: "arm", variant: "v5" }), null);
  assert.equal(selectPlatform(INDEX, { os: "unknown", architecture: "unknown" })?.digest, "unknown");
  assert.equal(selectPlatform(INDEX, { os: "linux", architecture: "s390x" }), null);
  assert.deepEqual(offeredPlatforms(INDEX), [
    "linux/arm/v7",
    "linux/arm/v6",
    "linux/arm64/v8",
    "linux/amd64",
  ]);
});

Deno.test("--platform is OS/ARCH[/VARIANT]", () => {
  assert.deepEqual(parsePlatform("linux/arm64/v8"), { os: "linux", architecture: "arm64", variant: "v8" });
  assert.deepEqual(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64", variant: undefined });
  for (const bad of ["linux", "linux/", "a/b/c/d", "Linux/AMD64"]) {
    assert.equal(parsePlatform(bad), null, bad);
  }
});

Deno.test("manifest kinds from their media type or shape; schema 1 is told apart", () => {
  assert.equal(manifestKind(null, { schemaVersion: 1 }), "schema1");
  assert.equal(manifestKind("application/vnd.docker.distribution.manifest.v1+prettyjws", {}), "schema1");
  assert.equal(manifestKind("application/vnd.docker.distribution.manifest.list.v2+json", {}), "index");
  assert.equal(manifestKind(null, { schemaVersion: 2, manifests: [] }), "index");
  assert.equal(manifestKind("application/json", { schemaVersion: 2, config: {}, layers: [] }), "image");
  assert.equal(manifestKind("text/html", { hello: 1 } as Record<string, unknown>), null);
  assert.equal(layerCompression("application/vnd.docker.image.rootfs.diff.tar.gzip"), "gzip");
  assert.equal(layerCompression("application/vnd.oci.image.layer.v1.tar+zstd"), "zstd");
  assert.equal(layerCompression("application/vnd.oci.image.layer.v1.tar"), "none");
  assert.equal(layerCompression("application/vnd.cncf.helm.chart.content.v1.tar+gzip"), null);
});
