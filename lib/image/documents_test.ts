import assert from "node:assert/strict";
import {
  checkConfig,
  checkDescriptor,
  checkDockerManifest,
  checkIndex,
  checkManifest,
  looksLikeIndex,
  parseJson,
} from "./documents.ts";

const HEX = "a".repeat(64);
const desc = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${HEX}`, size: 10 };
const config = {
  architecture: "amd64",
  os: "linux",
  rootfs: { type: "layers", diff_ids: [`sha256:${HEX}`] },
};

Deno.test("parseJson names the document and never quotes it", () => {
  assert.throws(() => parseJson("root:$6$secret", "config x"), { message: "config x: it is not valid JSON" });
  assert.deepEqual(parseJson('{"a":1}', "x"), { a: 1 });
});

Deno.test("checkIndex takes a well-formed index and refuses the malformed", () => {
  assert.deepEqual(checkIndex({ schemaVersion: 2, manifests: [desc] }, "i").manifests, [desc]);
  const cases: [unknown, string][] = [
    [[], "i: it must be an object"],
    [null, "i: it must be an object"],
    [{ schemaVersion: 1, manifests: [] }, "i: schemaVersion must be 2"],
    [{ schemaVersion: 2 }, "i: manifests must be an array"],
    [{ schemaVersion: 2, manifests: {} }, "i: manifests must be an array"],
    [{ schemaVersion: 2, manifests: [7] }, "i: manifests[0] must be an object"],
    [
      { schemaVersion: 2, manifests: [{ ...desc, digest: "sha512:ab" }] },
      'i: manifests[0].digest "sha512:ab" is not a sha256 digest',
    ],
    [{ schemaVersion: 2, manifests: [{ ...desc, digest: 5 }] }, "i: manifests[0].digest must be a string"],
    [
      { schemaVersion: 2, manifests: [{ ...desc, size: -1 }] },
      "i: manifests[0].size must be a non-negative integer",
    ],
    [
      { schemaVersion: 2, manifests: [{ ...desc, size: "1" }] },
      "i: manifests[0].size must be a non-negative integer",
    ],
    [
      { schemaVersion: 2, manifests: [{ ...desc, annotations: { a: 1 } }] },
      "i: manifests[0].annotations must map strings to strings",
    ],
    [
      { schemaVersion: 2, manifests: [{ ...desc, platform: { os: "linux" } }] },
      "i: manifests[0].platform.architecture must be a string",
    ],
  ];
  for (const [doc, message] of cases) assert.throws(() => checkIndex(doc, "i"), { message }, message);
});

Deno.test("checkManifest refuses a manifest without config or layers", () => {
  const good = { schemaVersion: 2, config: desc, layers: [desc] };
  assert.deepEqual(checkManifest(good, "m"), good);
  assert.throws(() => checkManifest({ schemaVersion: 2, config: desc }, "m"), {
    message: "m: layers must be an array",
  });
  assert.throws(() => checkManifest({ schemaVersion: 2, layers: [] }, "m"), {
    message: "m: config must be an object",
  });
  assert.throws(() => checkManifest({ ...good, layers: [{}] }, "m"), {
    message: "m: layers[0].digest must be a string",
  });
});

Deno.test("a document is an index by its media type or its manifests", () => {
  assert.ok(looksLikeIndex({ manifests: [] }));
  assert.ok(looksLikeIndex({ mediaType: "application/vnd.docker.distribution.manifest.list.v2+json" }));
  assert.ok(!looksLikeIndex({ schemaVersion: 2, config: desc, layers: [] }));
  assert.ok(!looksLikeIndex([]));
});

Deno.test("checkConfig takes docker's nulls and refuses bad run defaults", () => {
  assert.ok(checkConfig(config, "c"));
  assert.ok(checkConfig({ ...config, config: null }, "c"));
  assert.ok(
    checkConfig({ ...config, config: { Entrypoint: null, Cmd: null, Env: null, WorkingDir: null } }, "c"),
  );
  const cases: [unknown, string][] = [
    [{ ...config, rootfs: undefined }, "c: rootfs must be an object"],
    [{ ...config, rootfs: { type: "layers" } }, "c: rootfs.diff_ids must be an array"],
    [{ ...config, rootfs: { type: "tar", diff_ids: [] } }, 'c: rootfs.type must be "layers"'],
    [
      { ...config, rootfs: { type: "layers", diff_ids: ["sha256:../x"] } },
      'c: rootfs.diff_ids[0] "sha256:../x" is not a sha256 digest',
    ],
    [{ ...config, config: [] }, "c: config must be an object"],
    [{ ...config, config: { Cmd: "sh" } }, "c: config.Cmd must be an array of strings"],
    [{ ...config, config: { Entrypoint: [1] } }, "c: config.Entrypoint must be an array of strings"],
    [{ ...config, config: { WorkingDir: 1 } }, "c: config.WorkingDir must be a string"],
    [{ ...config, config: { Env: ["pwn"] } }, 'c: Env entry "pwn" is not KEY=VALUE'],
    [{ ...config, os: 1 }, "c: os must be a string"],
    [{ ...config, history: {} }, "c: history must be an array"],
  ];
  for (const [doc, message] of cases) assert.throws(() => checkConfig(doc, "c"), { message }, message);
});

Deno.test("checkDockerManifest refuses entries without Config or Layers, and reads null RepoTags as none", () => {
  assert.deepEqual(checkDockerManifest([{ Config: "c.json", RepoTags: null, Layers: ["l.tar"] }], "m"), [
    { Config: "c.json", RepoTags: [], Layers: ["l.tar"] },
  ]);
  const cases: [unknown, string][] = [
    [{}, "m: it must be an array"],
    [[1], "m: [0] must be an object"],
    [[{ Layers: [] }], "m: [0].Config must be a string"],
    [[{ Config: "c", Layers: "l" }], "m: [0].Layers must be an array of strings"],
    [[{ Config: "c", Layers: [], RepoTags: "a:b" }], "m: [0].RepoTags must be an array of strings"],
  ];
  for (const [doc, message] of cases) {
    assert.throws(() => checkDockerManifest(doc, "m"), { message }, message);
  }
});

Deno.test("checkDescriptor keeps the fields it does not check", () => {
  const d = { ...desc, urls: ["x"], platform: { os: "linux", architecture: "arm64", variant: "v8" } };
  assert.deepEqual(checkDescriptor(d, "w", "d"), d);
});
