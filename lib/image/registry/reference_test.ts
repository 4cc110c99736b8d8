import assert from "node:assert/strict";
import { UsageError } from "../../errors.ts";
import {
  apiHost,
  formatReference,
  hubKey,
  isLoopback,
  isQualified,
  parseReference,
  storeKey,
} from "./reference.ts";

const DIGEST = `sha256:${"ab".repeat(32)}`;

Deno.test("short names normalise to docker.io as docker does", () => {
  assert.equal(formatReference(parseReference("alpine")), "docker.io/library/alpine:latest");
  assert.equal(formatReference(parseReference("alpine:3.20")), "docker.io/library/alpine:3.20");
  assert.equal(formatReference(parseReference("user/app")), "docker.io/user/app:latest");
  assert.equal(formatReference(parseReference("docker.io/alpine")), "docker.io/library/alpine:latest");
  assert.equal(
    formatReference(parseReference("index.docker.io/library/alpine")),
    "docker.io/library/alpine:latest",
  );
  assert.equal(formatReference(parseReference("a/b/c:1")), "docker.io/a/b/c:1");
});

Deno.test("a first component with a dot, a colon or localhost is a registry", () => {
  assert.deepEqual(parseReference("quay.io/x/y:2"), {
    registry: "quay.io",
    repository: "x/y",
    tag: "2",
    digest: undefined,
  });
  assert.deepEqual(parseReference("127.0.0.1:5000/app"), {
    registry: "127.0.0.1:5000",
    repository: "app",
    tag: "latest",
    digest: undefined,
  });
  assert.equal(parseReference("localhost/app").registry, "localhost");
  assert.equal(parseReference("[::1]:5000/app").registry, "[::1]:5000");
  assert.equal(parseReference("localhost:5000/library/app").repository, "library/app");
  assert.equal(isQualified("myhost/app"), false);
  assert.equal(parseReference("myhost/app").registry, "docker.io");
});

Deno.test("a digest pins the reference, with or without a tag", () => {
  const pinned = parseReference(`alpine@${DIGEST}`);
  assert.deepEqual(pinned, {
    registry: "docker.io",
    repository: "library/alpine",
    tag: undefined,
    digest: DIGEST,
  });
  assert.equal(storeKey(pinned), `docker.io/library/alpine:sha256-${"ab".repeat(32)}`);
  const both = parseReference(`quay.io/a:1@${DIGEST}`);
  assert.equal(both.tag, "1");
  assert.equal(formatReference(both), `quay.io/a:1@${DIGEST}`);
});

Deno.test("malformed references are refused with what is wrong", () => {
  for (
    const bad of [
      "Alpine",
      "alpine:",
      "alpine@sha256:12",
      "a//b",
      "/a",
      "a:b:c/d",
      "",
      "quay.io/",
      "x:bad tag",
    ]
  ) {
    assert.throws(() => parseReference(bad), UsageError, bad);
  }
  assert.throws(() => parseReference("alpine@md5:00"), /is not a digest/);
});

Deno.test("docker.io's API is registry-1.docker.io; loopback registries are plain HTTP", () => {
  assert.equal(apiHost("docker.io"), "registry-1.docker.io");
  assert.equal(apiHost("quay.io"), "quay.io");
  for (const r of ["localhost", "localhost:5000", "127.0.0.1:5000", "127.9.8.7", "[::1]:5000"]) {
    assert.equal(isLoopback(r), true, r);
  }
  for (const r of ["quay.io", "128.0.0.1:5000", "localhost.example.com", "[::2]:5000"]) {
    assert.equal(isLoopback(r), false, r);
  }
});

Deno.test("an unqualified local name also answers to its docker.io name", () => {
  assert.equal(hubKey("alpine"), "docker.io/library/alpine:latest");
  assert.equal(hubKey("user/app:1"), "docker.io/user/app:1");
  assert.equal(hubKey("quay.io/a"), null);
  assert.equal(hubKey("Bad"), null);
});
