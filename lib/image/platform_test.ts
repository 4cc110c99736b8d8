import assert from "node:assert/strict";
import { choosePlatform, formatPlatform, hostPlatform, matchesPlatform, type Platform } from "./platform.ts";

const AMD64 = hostPlatform("x86_64");
const ARM64 = hostPlatform("aarch64");
const entry = (name: string, platform?: Platform) => ({ name, platform });

Deno.test("hostPlatform maps Deno's architecture names to Go's", () => {
  assert.deepEqual(AMD64, { os: "linux", architecture: "amd64" });
  assert.deepEqual(ARM64, { os: "linux", architecture: "arm64", variant: "v8" });
  assert.equal(formatPlatform(ARM64), "linux/arm64/v8");
  assert.equal(formatPlatform({ os: "linux", architecture: "amd64", variant: "" }), "linux/amd64");
});

Deno.test("choosePlatform takes the host's entry, not the first", () => {
  const index = [
    entry("arm", { os: "linux", architecture: "arm", variant: "v7" }),
    entry("arm64", { os: "linux", architecture: "arm64", variant: "v8" }),
    entry("amd64", { os: "linux", architecture: "amd64" }),
  ];
  assert.equal(choosePlatform(index, AMD64).name, "amd64");
  assert.equal(choosePlatform(index, ARM64).name, "arm64");
});

Deno.test("arm64 takes variant v8 or none, and not another variant", () => {
  assert.ok(matchesPlatform({ os: "linux", architecture: "arm64" }, ARM64));
  assert.ok(matchesPlatform({ os: "linux", architecture: "arm64", variant: "v8" }, ARM64));
  assert.ok(matchesPlatform({ os: "linux", architecture: "aarch64" }, ARM64));
  assert.ok(!matchesPlatform({ os: "linux", architecture: "arm64", variant: "v9" }, ARM64));
  assert.ok(!matchesPlatform({ os: "windows", architecture: "arm64" }, ARM64));
});

Deno.test("amd64 wants no variant", () => {
  assert.ok(matchesPlatform({ os: "linux", architecture: "amd64" }, AMD64));
  assert.ok(matchesPlatform({ os: "linux", architecture: "x86_64" }, AMD64));
  assert.ok(!matchesPlatform({ os: "linux", architecture: "amd64", variant: "v3" }, AMD64));
  assert.ok(!matchesPlatform({ os: "linux", architecture: "386" }, AMD64));
});

Deno.test("choosePlatform skips unknown/unknown attestations, even first", () => {
  const index = [
    entry("attestation", { os: "unknown", architecture: "unknown" }),
    entry("amd64", { os: "linux", architecture: "amd64" }),
  ];
  assert.equal(choosePlatform(index, AMD64).name, "amd64");
  assert.throws(() => choosePlatform([index[0]], AMD64), {
    message: "no image for linux/amd64; it offers none",
  });
});

Deno.test("an entry without a platform is taken when none matches", () => {
  const index = [entry("s390x", { os: "linux", architecture: "s390x" }), entry("any")];
  assert.equal(choosePlatform(index, AMD64).name, "any");
  assert.equal(choosePlatform([entry("any"), entry("amd64", AMD64)], AMD64).name, "amd64", "a match first");
});

Deno.test("no match is an error listing what the index offers, once each", () => {
  const index = [
    entry("a", { os: "linux", architecture: "arm64", variant: "v8" }),
    entry("b", { os: "linux", architecture: "s390x" }),
    entry("c", { os: "linux", architecture: "s390x" }),
    entry("d", { os: "unknown", architecture: "unknown" }),
  ];
  assert.throws(() => choosePlatform(index, AMD64), {
    message: "no image for linux/amd64; it offers linux/arm64/v8, linux/s390x",
  });
  assert.throws(() => choosePlatform([], ARM64), { message: "no image for linux/arm64/v8; it offers none" });
});
