import assert from "node:assert/strict";
import { UsageError } from "../../errors.ts";
import {
  candidates,
  confFiles,
  loadRegistriesConf,
  mergeConf,
  parseToml,
  type RegistriesConf,
} from "./config.ts";
import { formatReference } from "./reference.ts";

const CONF = `
# as podman users write it
unqualified-search-registries = ["quay.io", 'docker.io'] # tried in order

[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
myapp = "localhost:5000/team/app"

[[registry]]
prefix = "docker.io/library"
location = "mirror.example/hub"
insecure = false

[[registry.mirror]]
location = "fast.example:5000/cache"
insecure = true

[[registry]]
location = "insecure.example"
insecure = true

[[registry]]
prefix = "*.blocked.example"
blocked = true

[[registry]]
prefix = "quay.io/evil"
blocked = true
`;

function conf(text = CONF): RegistriesConf {
  const c: RegistriesConf = { search: [], aliases: {}, registries: [] };
  mergeConf(c, parseToml(text, "registries.conf"), "registries.conf");
  return c;
}

Deno.test("registries.conf's TOML: tables, arrays of tables, strings, booleans, multi-line arrays", () => {
  const t = parseToml(
    'a = "x # not a comment"\nb = [\n  "1",\n  "2", # two\n]\n[t]\nc = true\n[[r]]\nd = 3\n[[r]]\nd = 4\n[[r.m]]\ne = "\\u0041"\n',
    "f",
  );
  assert.deepEqual(t, {
    a: "x # not a comment",
    b: ["1", "2"],
    t: { c: true },
    r: [{ d: 3 }, { d: 4, m: [{ e: "A" }] }],
  });
  assert.throws(() => parseToml("a = \n", "f.conf"), /Cannot read "f.conf": line 1: /);
  assert.throws(() => parseToml("just words\n", "f.conf"), UsageError);
});

Deno.test("an unqualified name is tried at each search registry in order", () => {
  assert.deepEqual(candidates("alpine:3", conf()).map((c) => formatReference(c.ref)), [
    "quay.io/alpine:3",
    "docker.io/library/alpine:3",
  ]);
  assert.deepEqual(candidates("alpine", conf("")).map((c) => formatReference(c.ref)), [
    "docker.io/library/alpine:latest",
  ]);
});

Deno.test("an alias names the image; a [[registry]] prefix rewrites where it comes from, with its mirrors", () => {
  assert.deepEqual(candidates("fedora:40", conf()).map((c) => formatReference(c.ref)), [
    "registry.fedoraproject.org/fedora:40",
  ]);
  assert.equal(formatReference(candidates("myapp", conf())[0].ref), "localhost:5000/team/app:latest");
  const [hub] = candidates("docker.io/library/alpine", conf());
  assert.deepEqual(hub.location, { registry: "mirror.example", repository: "hub/alpine", insecure: false });
  assert.deepEqual(hub.mirrors, [{
    registry: "fast.example:5000",
    repository: "cache/alpine",
    insecure: true,
  }]);
  const [plain] = candidates("insecure.example/x/y", conf());
  assert.equal(plain.insecure, true);
  assert.deepEqual(plain.location, { registry: "insecure.example", repository: "x/y", insecure: true });
  // a prefix is a path prefix, not a string prefix
  assert.equal(candidates("docker.io/libraryx/a", conf())[0].location.registry, "docker.io");
});

Deno.test("a blocked registry is refused by name", () => {
  assert.throws(() => candidates("quay.io/evil/app", conf()), /registries.conf blocks "quay.io\/evil"/);
  assert.throws(() => candidates("a.blocked.example/app", conf()), UsageError);
  assert.equal(candidates("quay.io/evilish/app", conf())[0].location.registry, "quay.io");
});

Deno.test("$CONTAINERS_REGISTRIES_CONF alone is read; a later file's settings win", async () => {
  const dir = await Deno.makeTempDir({ prefix: "skiff-conf-" });
  try {
    await Deno.writeTextFile(`${dir}/a.conf`, 'unqualified-search-registries = ["a.example"]\n');
    await Deno.writeTextFile(
      `${dir}/b.conf`,
      'unqualified-search-registries = ["b.example"]\n[aliases]\nx = "b.example/x"\n',
    );
    assert.deepEqual(confFiles((n) => n === "CONTAINERS_REGISTRIES_CONF" ? `${dir}/a.conf` : undefined), [
      `${dir}/a.conf`,
    ]);
    const merged = loadRegistriesConf([`${dir}/a.conf`, `${dir}/b.conf`, `${dir}/missing.conf`]);
    assert.deepEqual(merged.search, ["b.example"]);
    assert.equal(merged.aliases.x, "b.example/x");
    await Deno.writeTextFile(`${dir}/bad.conf`, 'unqualified-search-registries = "docker.io"\n');
    assert.throws(
      () => loadRegistriesConf([`${dir}/bad.conf`]),
      /bad.conf": unqualified-search-registries must be an array/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
