/**
 * skiff as a registry client, against Debian's docker-registry on
 * 127.0.0.1 filled by skopeo from layouts umoci builds: pull of OCI and
 * docker v2s2 images and of a multi-platform index, with the tree umoci
 * unpacks; faults from a proxy in front (429, a corrupt blob, a cut-off
 * body resumed); run pulling what is missing. Every skiff call gets
 * REGISTRY_AUTH_FILE and CONTAINERS_REGISTRIES_CONF of the test's own, so
 * the machine's files neither steer nor get written.
 */

import assert from "node:assert/strict";
import {
  entries,
  quote,
  ROOT_ONLY,
  skiff,
  skiffArgv,
  skiffOk,
  underScript,
  waitFor,
  withStore,
} from "./helpers.ts";
import { childrenOf } from "../lib/host/proc.ts";
import {
  type FaultProxy,
  freePort,
  sh,
  startProxy,
  startRegistry,
  startTokenServer,
  type TestRegistry,
  treeListing,
  umociImage,
} from "./_registry.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

/** A temporary directory with an empty auth file and registries.conf, and the env that points at them. */
async function withClientFiles(
  fn: (env: Record<string, string>, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-client-" });
  try {
    await Deno.writeTextFile(`${dir}/registries.conf`, 'unqualified-search-registries = ["docker.io"]\n');
    await fn(
      { REGISTRY_AUTH_FILE: `${dir}/auth.json`, CONTAINERS_REGISTRIES_CONF: `${dir}/registries.conf` },
      dir,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function withRegistry(
  fn: (r: TestRegistry) => Promise<void>,
  opts: Parameters<typeof startRegistry>[0] = {},
): Promise<void> {
  const registry = await startRegistry(opts);
  try {
    await fn(registry);
  } finally {
    await registry.stop();
  }
}

/** The layout of umociImage, pushed as `test/oci:1` (OCI) and `test/docker:1` (docker v2s2). */
async function fill(dir: string, host: string): Promise<void> {
  await umociImage(dir);
  await sh(
    `cd "$1"
skopeo copy -q --dest-tls-verify=false oci:layout:t docker://$2/test/oci:1
skopeo copy -q --dest-tls-verify=false --format v2s2 oci:layout:t docker://$2/test/docker:1`,
    dir,
    host,
  );
}

/** Runs the image in a container, exports it and lists its tree. */
async function pulledTree(store: string, image: string, dir: string, name: string): Promise<string> {
  await skiffOk(store, ["run", "--name", name, image, "true"]);
  await skiffOk(store, ["export", "-o", `${dir}/${name}.tar`, name]);
  await Deno.mkdir(`${dir}/${name}.tree`);
  await sh(
    `tar -x -p --same-owner --numeric-owner -f "$1" -C "$2"`,
    `${dir}/${name}.tar`,
    `${dir}/${name}.tree`,
  );
  return await treeListing(`${dir}/${name}.tree`);
}

/** What {@link withPullScene} gives a test. */
interface PullScene {
  /** REGISTRY_AUTH_FILE and CONTAINERS_REGISTRIES_CONF, the test's own. */
  env: Record<string, string>;
  /** Where those files are: a test may write its own registries.conf there. */
  clientDir: string;
  registry: TestRegistry;
  /** A fault proxy in front of the registry. */
  proxy: FaultProxy;
  store: string;
  /** A scratch directory. */
  dir: string;
}

/**
 * Runs `fn` with client files of its own, a registry on 127.0.0.1 without
 * auth and a proxy in front of it, a store (empty, or with busybox when
 * `seeded`) and a scratch directory, all removed afterwards.
 */
async function withPullScene(
  fn: (scene: PullScene) => Promise<void>,
  { seeded = false } = {},
): Promise<void> {
  await withClientFiles(async (env, clientDir) => {
    await withRegistry(async (registry) => {
      await withStore(async (store) => {
        const proxy = startProxy(registry.host);
        try {
          const dir = await Deno.makeTempDir({ prefix: "skiff-pull-" });
          try {
            await fn({ env, clientDir, registry, proxy, store, dir });
          } finally {
            await Deno.remove(dir, { recursive: true });
          }
        } finally {
          await proxy.stop();
        }
      }, { empty: !seeded });
    });
  });
}

/** Nothing half-made: no layer, no image, no blob. */
async function assertEmptyStore(store: string): Promise<void> {
  assert.deepEqual(entries(`${store}/layers`), [], "no layer is left");
  assert.deepEqual(entries(`${store}/blobs/sha256`), [], "no blob is left");
  assert.equal((await skiffOk(store, ["images", "-q"])).trim(), "", "no image is left");
}

test("pull of OCI and docker v2s2 manifests gives the tree umoci unpacks", async () => {
  await withPullScene(async ({ env, registry, store, dir }) => {
    await fill(dir, registry.host);
    const expected = await treeListing(`${dir}/reference/rootfs`);
    assert.match(expected, /\.\/opaque\/new /);
    assert.doesNotMatch(expected, /\.\/opaque\/old1|\.\/etc\/base |\.\/data\/gone/);
    for (const repo of ["oci", "docker"]) {
      const name = `${registry.host}/test/${repo}:1`;
      const id = (await skiffOk(store, ["pull", "-q", name], { env })).trim();
      assert.match(id, /^[0-9a-f]{64}$/);
      const config = JSON.parse(
        await sh(
          `umoci stat --json --image "$1/layout:t" >/dev/null; cat "$1/layout/blobs/sha256/$2"`,
          dir,
          id,
        ),
      );
      assert.equal(config.rootfs.diff_ids.length, 3, "the image id is the config's digest");
      assert.equal(
        await pulledTree(store, name, dir, repo),
        expected,
        `${repo}: same tree as umoci unpack`,
      );
    }
    assert.deepEqual(entries(`${store}/downloads`), [], "the download area is empty after a pull");
    const registryDigest = JSON.parse(
      await sh(`skopeo inspect --tls-verify=false docker://$1/test/oci:1`, registry.host),
    ).Digest;
    const [inspected] = JSON.parse(await skiffOk(store, ["inspect", `${registry.host}/test/oci:1`]));
    // one config, so one image id, for both: each repository's digest is listed, as podman does
    assert.equal(inspected.RepoDigests.length, 2, inspected.RepoDigests.join(" "));
    assert.ok(inspected.RepoDigests.includes(`${registry.host}/test/oci@${registryDigest}`));
    assert.match(
      inspected.RepoDigests[0],
      new RegExp(`^${registry.host}/test/docker@sha256:[0-9a-f]{64}$`),
    );
    assert.match(
      await skiffOk(store, ["images", "--digests"]),
      new RegExp(`${registry.host}/test/oci\\s+1\\s+${registryDigest}\\s+`),
    );
    const images = await skiffOk(store, ["images"]);
    assert.match(images, new RegExp(`${registry.host}/test/oci\\s+1`));
  });
});

test("a second pull fetches no layer the store has", async () => {
  await withClientFiles(async (env) => {
    await withRegistry(async (registry) => {
      const proxy = startProxy(registry.host);
      await withStore(async (store) => {
        const dir = await Deno.makeTempDir({ prefix: "skiff-pull-" });
        try {
          await fill(dir, registry.host);
          await skiffOk(store, ["pull", `${proxy.host}/test/oci:1`], { env });
          const layerGets = () => proxy.seen.filter((s) => /^GET .*\/blobs\//.test(s)).length;
          assert.equal(layerGets(), 4, "the config and three layers");
          proxy.seen.length = 0;
          const again = await skiff(store, ["pull", `${proxy.host}/test/docker:1`], { env });
          assert.equal(again.code, 0, again.stderr);
          assert.equal(again.stderr.match(/already exists/g)?.length, 3, again.stderr);
          assert.equal(layerGets(), 1, "only the docker image's config");
        } finally {
          await proxy.stop();
          await Deno.remove(dir, { recursive: true });
        }
      }, { empty: true });
    });
  });
});

/** An OCI layout `dir/multi` whose index `m` has an amd64 and an arm64 image, each with /etc/arch. */
async function multiPlatformLayout(dir: string): Promise<void> {
  await sh(
    `
cd "$1"
umoci init --layout multi
for arch in amd64 arm64; do
  umoci new --image multi:$arch
  umoci unpack --image multi:$arch b-$arch
  mkdir -p b-$arch/rootfs/etc b-$arch/rootfs/bin && echo $arch > b-$arch/rootfs/etc/arch
  cp /bin/busybox b-$arch/rootfs/bin/busybox && ln -s busybox b-$arch/rootfs/bin/sh && ln -s busybox b-$arch/rootfs/bin/cat
  umoci repack --image multi:$arch b-$arch
  umoci config --image multi:$arch --architecture $arch --os linux
  rm -rf b-$arch
done
python3 - <<'EOF'
import hashlib, json
idx = json.load(open("multi/index.json"))
entries = []
for m in idx["manifests"]:
    arch = m["annotations"]["org.opencontainers.image.ref.name"]
    entries.append({"mediaType": m["mediaType"], "digest": m["digest"], "size": m["size"],
                    "platform": {"os": "linux", "architecture": arch, **({"variant": "v8"} if arch == "arm64" else {})}})
entries.append({"mediaType": entries[0]["mediaType"], "digest": entries[0]["digest"], "size": entries[0]["size"],
                "platform": {"os": "unknown", "architecture": "unknown"}})
body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}).encode()
digest = hashlib.sha256(body).hexdigest()
open("multi/blobs/sha256/" + digest, "wb").write(body)
idx["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + digest,
                         "size": len(body), "annotations": {"org.opencontainers.image.ref.name": "m"}})
json.dump(idx, open("multi/index.json", "w"))
EOF
`,
    dir,
  );
}

test("pull takes the host's platform from an index, and names what it offers when none fits", async () => {
  await withPullScene(async ({ env, registry, store, dir }) => {
    await multiPlatformLayout(dir);
    await sh(
      `skopeo copy -q --all --dest-tls-verify=false oci:"$1"/multi:m docker://$2/test/multi:1`,
      dir,
      registry.host,
    );
    const name = `${registry.host}/test/multi:1`;
    await skiffOk(store, ["pull", "-q", name], { env });
    const host = Deno.build.arch === "aarch64" ? "arm64" : "amd64";
    assert.equal((await skiffOk(store, ["run", "--rm", name, "cat", "/etc/arch"])).trim(), host);

    const other = host === "amd64" ? "arm64" : "amd64";
    const id = (await skiffOk(store, ["pull", "-q", "--platform", `linux/${other}`, name], { env }))
      .trim();
    const config = JSON.parse(await Deno.readTextFile(`${store}/blobs/sha256/${id}`));
    assert.equal(config.architecture, other);

    const none = await skiff(store, [
      "pull",
      "--platform",
      "linux/s390x",
      `${registry.host}/test/multi:1`,
    ], { env });
    assert.equal(none.code, 125);
    assert.match(
      none.stderr,
      /^skiff: Cannot pull ".*\/test\/multi:1": no image for linux\/s390x; it offers linux\/amd64, linux\/arm64\/v8: use --platform\n$/,
    );
  });
});

test("a zstd layer pulls to the same tree as its gzip twin", async () => {
  await withPullScene(async ({ env, registry, store, dir }) => {
    await umociImage(dir);
    await sh(
      `skopeo copy -q --dest-tls-verify=false --dest-compress-format zstd oci:"$1"/layout:t docker://$2/test/zstd:1`,
      dir,
      registry.host,
    );
    const manifest = await sh(
      `skopeo inspect --raw --tls-verify=false docker://$1/test/zstd:1`,
      registry.host,
    );
    assert.match(manifest, /tar\+zstd/, "the registry holds zstd layers");
    await skiffOk(store, ["pull", "-q", `${registry.host}/test/zstd:1`], { env });
    assert.equal(
      await pulledTree(store, `${registry.host}/test/zstd:1`, dir, "zstd"),
      await treeListing(`${dir}/reference/rootfs`),
    );
  });
});

test("a blob that fails its digest leaves no layer, no image and no partial", async () => {
  await withClientFiles(async (env) => {
    await withRegistry(async (registry) => {
      const proxy = startProxy(registry.host);
      await withStore(async (store) => {
        const dir = await Deno.makeTempDir({ prefix: "skiff-pull-" });
        try {
          await fill(dir, registry.host);
          // the config comes through whole (it is fetched first, alone); then layers are corrupt
          proxy.faults.corrupt = true;
          const r = await skiff(store, ["pull", `${proxy.host}/test/oci:1`], { env });
          assert.equal(r.code, 125);
          assert.match(r.stderr, /^skiff: Cannot pull ".*\/test\/oci:1": .*does not match its digest/m);
          assert.equal(r.stderr.trim().split("\n").filter((l) => l.startsWith("skiff:")).length, 1);
          await assertEmptyStore(store);
          assert.deepEqual(entries(`${store}/downloads`), [], "a corrupt blob is not kept to resume");
        } finally {
          await proxy.stop();
          await Deno.remove(dir, { recursive: true });
        }
      }, { empty: true });
    });
  });
});

test("a cut-off download stays partial, and the next pull resumes it with Range", async () => {
  await withClientFiles(async (env) => {
    await withRegistry(async (registry) => {
      const proxy = startProxy(registry.host);
      await withStore(async (store) => {
        const dir = await Deno.makeTempDir({ prefix: "skiff-pull-" });
        try {
          await fill(dir, registry.host);
          proxy.faults.cutAfter = 1000;
          const r = await skiff(store, ["pull", `${proxy.host}/test/oci:1`], { env });
          assert.equal(r.code, 125);
          assert.match(r.stderr, /cut off after 1000 of \d+ bytes; pull again to resume/);
          assert.deepEqual(entries(`${store}/layers`), [], "no layer is left");
          assert.equal((await skiffOk(store, ["images", "-q"])).trim(), "");
          const partials = entries(`${store}/downloads`).filter((e) => e.endsWith(".partial"));
          assert.ok(partials.length > 0, "what came is kept");

          proxy.faults = { tooMany: 2 };
          proxy.seen.length = 0;
          const again = await skiff(store, ["pull", `${proxy.host}/test/oci:1`], { env });
          assert.equal(again.code, 0, again.stderr);
          assert.ok(proxy.seen.some((s) => /\/blobs\/.* bytes=1000-$/.test(s)), proxy.seen.join("\n"));
          assert.ok(proxy.seen.filter((s) => s.includes("/blobs/")).length > 3, "429s were retried");
          assert.deepEqual(entries(`${store}/downloads`), []);
          assert.equal(
            (await skiffOk(store, ["run", "--rm", `${proxy.host}/test/oci:1`, "cat", "/data/keep/new"]))
              .trim(),
            "added",
          );
        } finally {
          await proxy.stop();
          await Deno.remove(dir, { recursive: true });
        }
      }, { empty: true });
    });
  });
});

test("run pulls a qualified image it does not have, and names a missing one", async () => {
  await withPullScene(async ({ env, registry, store, dir }) => {
    await fill(dir, registry.host);
    const out = await skiff(store, [
      "run",
      "--rm",
      `${registry.host}/test/oci:1`,
      "cat",
      "/data/keep/new",
    ], { env });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, "added\n");
    assert.match(out.stderr, /Pulling /);
    const twice = await skiff(store, ["run", "--rm", `${registry.host}/test/oci:1`, "true"], { env });
    assert.equal(twice.stderr, "", "the second run finds it stored");

    const missing = await skiff(store, ["run", "--rm", `${registry.host}/test/nothing:1`, "true"], {
      env,
    });
    assert.equal(missing.code, 125);
    assert.equal(
      missing.stderr,
      `skiff: Unable to find image "${registry.host}/test/nothing:1" locally: Cannot pull "${registry.host}/test/nothing:1": "test/nothing:1" is not in registry "${registry.host}"\n`,
    );
  });
});

test("bad names and unreachable registries are one-line errors that leave nothing", async () => {
  await withClientFiles(async (env) => {
    await withStore(async (store) => {
      const bad = await skiff(store, ["pull", "Bad/Name"], { env });
      assert.equal(bad.code, 125);
      assert.match(bad.stderr, /^skiff: Invalid image reference "Bad\/Name": .*\n$/);
      const port = freePort();
      const down = await skiff(store, ["pull", `127.0.0.1:${port}/a:1`], { env });
      assert.equal(down.code, 125);
      assert.match(
        down.stderr,
        new RegExp(
          `^skiff: Cannot pull "127.0.0.1:${port}/a:1": Cannot reach registry "127.0.0.1:${port}" at http://127.0.0.1:${port}: .+\\n$`,
        ),
      );
      assert.deepEqual(entries(`${store}/layers`), []);
    }, { empty: true });
  });
});

Deno.test("the modules run loads statically import no node: or npm: module (the registry code loads only to pull)", () => {
  const root = new URL("..", import.meta.url).pathname;
  const seen = new Set<string>();
  const foreign: string[] = [];
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = Deno.readTextFileSync(`${root}${file}`);
    for (
      const m of source.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^;]*?\s+from\s+["']([^"']+)["']/gms)
    ) {
      const spec = m[1];
      if (/^(node|npm|jsr):/.test(spec)) foreign.push(`${file}: ${spec}`);
      else if (spec.startsWith(".")) walk(new URL(spec, `file:///${file}`).pathname.slice(1));
    }
  };
  walk("cli.ts");
  assert.ok(seen.has("lib/image/registry/reference.ts"), "the walk follows the index's imports");
  assert.ok(!seen.has("lib/image/registry/pull.ts"));
  assert.deepEqual(foreign, []);
});

/** The layout of umociImage, pushed as `test/oci:1` with credentials. */
async function fillWithCreds(dir: string, host: string, creds: string): Promise<void> {
  await umociImage(dir);
  await sh(
    `skopeo copy -q --dest-tls-verify=false --dest-creds "$3" oci:"$1"/layout:t docker://$2/test/oci:1`,
    dir,
    host,
    creds,
  );
}

test("login checks credentials against a Basic-auth registry and keeps them 0600; logout removes them", async () => {
  await withClientFiles(async (env, clientDir) => {
    await withRegistry(async (registry) => {
      await withStore(async (store) => {
        const dir = await Deno.makeTempDir({ prefix: "skiff-pull-" });
        try {
          await fillWithCreds(dir, registry.host, "alice:s3cret");
          const name = `${registry.host}/test/oci:1`;
          const anonymous = await skiff(store, ["pull", name], { env });
          assert.equal(anonymous.code, 125);
          assert.equal(
            anonymous.stderr.split("\n").filter((l) => l.startsWith("skiff:")).join("\n"),
            `skiff: Cannot pull "${name}": authentication required; run skiff login ${registry.host}`,
          );

          const wrong = await skiff(store, ["login", "-u", "alice", "--password-stdin", registry.host], {
            env,
            stdin: "wrong\n",
          });
          assert.equal(wrong.code, 125);
          assert.equal(
            wrong.stderr,
            `skiff: Cannot log in to "${registry.host}": the registry refused the user name or password\n`,
          );
          assert.deepEqual(entries(clientDir), ["registries.conf"], "a refused login writes nothing");

          const ok = await skiffOk(store, ["login", "-u", "alice", "--password-stdin", registry.host], {
            env,
            stdin: "s3cret\n",
          });
          assert.equal(ok, "Login Succeeded!\n");
          const file = `${clientDir}/auth.json`;
          assert.equal(Deno.statSync(file).mode! & 0o777, 0o600);
          const auths = JSON.parse(Deno.readTextFileSync(file)).auths;
          assert.equal(atob(auths[registry.host].auth), "alice:s3cret");

          await skiffOk(store, ["pull", "-q", name], { env });
          await skiffOk(store, ["push", "-q", name, `${registry.host}/test/again:1`], { env });

          assert.equal(
            await skiffOk(store, ["logout", registry.host], { env }),
            `Removed login credentials for ${registry.host}\n`,
          );
          assert.deepEqual(JSON.parse(Deno.readTextFileSync(file)).auths, {});
          const twice = await skiff(store, ["logout", registry.host], { env });
          assert.equal(twice.code, 125);
          assert.equal(twice.stderr, `skiff: Not logged in to "${registry.host}"\n`);
          const denied = await skiff(store, ["push", name, `${registry.host}/test/third:1`], { env });
          assert.equal(denied.code, 125);
          assert.match(
            denied.stderr,
            new RegExp(`authentication required; run skiff login ${registry.host.replace(/\./g, "\\.")}\\n$`),
          );
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      }, { empty: true });
    }, { users: { alice: "s3cret" } });
  });
});

test("push sends OCI by default and docker v2s2 with --format docker, read back by skopeo and podman; a second push only HEADs", async () => {
  await withClientFiles(async (env) => {
    await withRegistry(async (registry) => {
      const proxy = startProxy(registry.host);
      await withStore(async (store) => {
        const dir = await Deno.makeTempDir({ prefix: "skiff-push-" });
        try {
          await skiffOk(store, ["tag", "busybox", `${proxy.host}/test/bb:1`]);
          const digest = (await skiffOk(store, ["push", "-q", `${proxy.host}/test/bb:1`], { env })).trim();
          assert.match(digest, /^sha256:[0-9a-f]{64}$/);
          const raw = JSON.parse(
            await sh(`skopeo inspect --raw --tls-verify=false docker://$1/test/bb:1`, registry.host),
          );
          assert.equal(raw.mediaType, "application/vnd.oci.image.manifest.v1+json");
          assert.deepEqual(raw.layers.map((l: { mediaType: string }) => l.mediaType), [
            "application/vnd.oci.image.layer.v1.tar+gzip",
          ]);
          const inspected = JSON.parse(
            await sh(`skopeo inspect --tls-verify=false docker://$1/test/bb:1`, registry.host),
          );
          assert.equal(inspected.Digest, digest);
          const [local] = JSON.parse(await skiffOk(store, ["inspect", `${proxy.host}/test/bb:1`]));
          assert.deepEqual(
            local.RepoDigests,
            [`${proxy.host}/test/bb@${digest}`],
            "push records where it went",
          );
          const localId = (await skiffOk(store, ["images", "-q"])).trim().split("\n")[0];
          assert.equal(
            raw.config.digest.slice(7, 19),
            localId,
            "the config, and so the image id, is unchanged",
          );

          // skopeo copies it out and umoci unpacks the same busybox
          await sh(
            `skopeo copy -q --src-tls-verify=false docker://$1/test/bb:1 oci:"$2"/out:t && umoci unpack --image "$2"/out:t "$2"/tree`,
            registry.host,
            dir,
          );
          assert.equal(
            await sh(`sha256sum < "$1"/tree/rootfs/bin/busybox`, dir),
            await sh(`sha256sum < "$(readlink -f /bin/busybox)"`),
          );

          proxy.seen.length = 0;
          await skiffOk(store, [
            "push",
            "-q",
            "--format",
            "docker",
            `${proxy.host}/test/bb:1`,
            `${proxy.host}/test/bb:docker`,
          ], { env });
          const docker = JSON.parse(
            await sh(`skopeo inspect --raw --tls-verify=false docker://$1/test/bb:docker`, registry.host),
          );
          assert.equal(docker.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
          assert.equal(docker.layers[0].mediaType, "application/vnd.docker.image.rootfs.diff.tar.gzip");
          assert.equal(
            docker.layers[0].digest,
            raw.layers[0].digest,
            "the same layer compresses to the same blob",
          );
          assert.deepEqual(
            proxy.seen.filter((s) => /^(POST|PATCH|PUT) .*\/blobs\//.test(s)),
            [],
            "no blob is sent again",
          );

          // podman pulls both, in a storage of the test's own, and runs them
          const podman =
            `podman --root "$1"/podman --runroot "$1"/podman-run --storage-driver vfs --runtime /usr/sbin/runc`;
          try {
            for (const tag of ["1", "docker"]) {
              const ran = await sh(
                `${podman} pull -q --tls-verify=false "$2" >/dev/null && ${podman} run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 "$2" echo from-podman`,
                dir,
                `${registry.host}/test/bb:${tag}`,
              );
              assert.equal(ran, "from-podman\n");
            }
          } finally {
            await new Deno.Command("sh", {
              args: ["-c", `${podman} system reset -f`, "sh", dir],
              stdout: "null",
              stderr: "null",
            }).output();
          }

          // and it pulls back into an empty store and runs
          await withStore(async (other) => {
            await skiffOk(other, ["pull", "-q", `${registry.host}/test/bb:docker`], { env });
            assert.equal(
              await skiffOk(other, ["run", "--rm", `${registry.host}/test/bb:docker`, "echo", "round trip"]),
              "round trip\n",
            );
          }, { empty: true });
        } finally {
          await proxy.stop();
          await Deno.remove(dir, { recursive: true });
        }
      });
    });
  });
});

test("token auth: push refused anonymously and allowed after login with an ES256 x5c token; anonymous pull", async () => {
  await withClientFiles(async (env, clientDir) => {
    const tokens = await startTokenServer(clientDir, { carol: "pw" });
    try {
      await withRegistry(async (registry) => {
        await withStore(async (store) => {
          const name = `${registry.host}/test/tok:1`;
          await skiffOk(store, ["tag", "busybox", name]);
          const anonymous = await skiff(store, ["push", name], { env });
          assert.equal(anonymous.code, 125);
          assert.match(
            anonymous.stderr,
            new RegExp(`authentication required; run skiff login ${registry.host}\\n$`),
          );

          const wrong = await skiff(store, ["login", "-u", "carol", "-p", "nope", registry.host], { env });
          assert.equal(wrong.code, 125, wrong.stderr);
          await skiffOk(store, ["login", "-u", "carol", "-p", "pw", registry.host], { env });
          await skiffOk(store, ["push", "-q", name], { env });
          assert.ok(
            tokens.seen.includes(`${tokens.service} repository:test/tok:pull,push carol`),
            tokens.seen.join("\n"),
          );
          await skiffOk(store, ["logout", registry.host], { env });

          await withStore(async (other) => {
            tokens.seen.length = 0;
            await skiffOk(other, ["pull", "-q", name], { env });
            assert.deepEqual([...new Set(tokens.seen)], [`${tokens.service} repository:test/tok:pull -`]);
            assert.equal(await skiffOk(other, ["run", "--rm", name, "echo", "via token"]), "via token\n");
          }, { empty: true });
        });
      }, { token: tokens });
    } finally {
      await tokens.stop();
    }
  });
});

test("registries.conf: a short name is tried at each search registry in order, and an alias names one image", async () => {
  await withClientFiles(async (env, clientDir) => {
    await withRegistry(async (registry) => {
      await withStore(async (store) => {
        const dir = await Deno.makeTempDir({ prefix: "skiff-pull-" });
        try {
          await fill(dir, registry.host);
          const dead = `127.0.0.1:${freePort()}`;
          await Deno.writeTextFile(
            `${clientDir}/registries.conf`,
            `unqualified-search-registries = ["${dead}", "${registry.host}"]\n[aliases]\n"mine" = "${registry.host}/test/docker"\n`,
          );
          const run = await skiff(store, ["run", "--rm", "test/oci:1", "cat", "/data/keep/new"], { env });
          assert.equal(run.code, 0, run.stderr);
          assert.equal(run.stdout, "added\n");
          assert.match(await skiffOk(store, ["images"]), new RegExp(`${registry.host}/test/oci\\s+1`));
          const again = await skiff(store, ["run", "--rm", "test/oci:1", "true"], { env });
          assert.equal(again.stderr, "", "the short name finds what it pulled");

          await skiffOk(store, ["pull", "-q", "mine:1"], { env });
          assert.match(await skiffOk(store, ["images"]), new RegExp(`${registry.host}/test/docker\\s+1`));

          const none = await skiff(store, ["pull", "test/absent:1"], { env });
          assert.equal(none.code, 125);
          assert.match(
            none.stderr,
            new RegExp(
              `Cannot reach registry "${dead}".*; .*"test/absent:1" is not in registry "${registry.host}"\\n$`,
            ),
          );
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      }, { empty: true });
    });
  });
});

test("a short name finds the local image first, then docker.io's, and only then pulls from a search registry", async () => {
  await withPullScene(async ({ env, clientDir, registry, proxy, store, dir }) => {
    await fill(dir, registry.host);
    await Deno.writeTextFile(
      `${clientDir}/registries.conf`,
      `unqualified-search-registries = ["${proxy.host}"]\n`,
    );
    // busybox, tagged with the name the registry has another image under
    await skiffOk(store, ["tag", "busybox", "test/oci:1"]);
    await skiffOk(store, ["tag", "busybox", "docker.io/library/hub:1"]);
    assert.match(await skiffOk(store, ["images"]), /\nlocalhost\/test\/oci\s+1\s/);
    const local = await skiff(store, ["run", "--rm", "test/oci:1", "cat", "/etc/hostname"], { env });
    assert.equal(local.stdout, "skiff\n", `the local busybox ran: ${local.stderr}`);
    const hub = await skiff(store, ["run", "--rm", "hub:1", "cat", "/etc/hostname"], { env });
    assert.equal(hub.stdout, "skiff\n", `docker.io's name found offline: ${hub.stderr}`);
    assert.equal(proxy.seen.join("\n"), "", "no registry was asked");

    await skiffOk(store, ["rmi", "test/oci:1"]);
    const pulled = await skiff(store, ["run", "--rm", "test/oci:1", "cat", "/data/keep/new"], { env });
    assert.equal(pulled.stdout, "added\n", pulled.stderr);
    assert.ok(proxy.seen.some((r) => r.startsWith("GET /v2/test/oci/manifests/1")), proxy.seen.join("\n"));
    assert.match(await skiffOk(store, ["images"]), new RegExp(`\n${proxy.host}/test/oci\\s+1\\s`));
  }, { seeded: true });
});

test("a pull killed with SIGKILL leaves no layer or image, and the next pull resumes", async () => {
  await withClientFiles(async (env) => {
    await withRegistry(async (registry) => {
      const proxy = startProxy(registry.host);
      await withStore(async (store) => {
        const dir = await Deno.makeTempDir({ prefix: "skiff-pull-" });
        let child: Deno.ChildProcess | undefined;
        try {
          await fill(dir, registry.host);
          proxy.faults.stallAfter = 2000;
          const name = `${proxy.host}/test/oci:1`;
          child = new Deno.Command(Deno.execPath(), {
            args: skiffArgv(store, ["pull", "-q", name]),
            env,
            stdout: "null",
            stderr: "null",
          }).spawn();
          // A compressed blob's partial that is cut short, the one a resume continues with Range
          // (HEX.tar.partial, the unpacked tar written on the way, may have bytes first; a small
          // blob's partial may be whole, and a whole one is used without a request).
          const cutShort = async () => {
            for (const e of entries(`${store}/downloads`)) {
              const hex = /^([0-9a-f]{64})\.partial$/.exec(e)?.[1];
              if (hex === undefined) continue;
              const bytes = await Deno.readFile(`${store}/downloads/${e}`).catch(() => new Uint8Array());
              const sum = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
              const got = Array.from(sum, (b) => b.toString(16).padStart(2, "0")).join("");
              if (bytes.length > 0 && got !== hex) return true;
            }
            return false;
          };
          await waitFor(cutShort, "a partial blob with bytes, cut short");
          const pid = childrenOf(child.pid)[0];
          assert.ok(pid !== undefined, "skiff runs under deno task");
          Deno.kill(pid, "SIGKILL");
          await child.status;
          child = undefined;
          assert.deepEqual(entries(`${store}/layers`), [], "no layer is left");
          assert.equal((await skiffOk(store, ["images", "-q"])).trim(), "");

          proxy.faults = {};
          proxy.seen.length = 0;
          await skiffOk(store, ["pull", "-q", name], { env });
          assert.ok(proxy.seen.some((s) => /\/blobs\/.* bytes=\d+-$/.test(s)), proxy.seen.join("\n"));
          assert.deepEqual(entries(`${store}/downloads`), []);
        } finally {
          if (child) {
            for (const pid of childrenOf(child.pid)) Deno.kill(pid, "SIGKILL");
            await child.status;
          }
          await proxy.stop();
          await Deno.remove(dir, { recursive: true });
        }
      }, { empty: true });
    });
  });
});

test("two pulls of the same image at once both succeed and store it once", async () => {
  await withPullScene(async ({ env, registry, store, dir }) => {
    await fill(dir, registry.host);
    const name = `${registry.host}/test/oci:1`;
    const [a, b] = await Promise.all([
      skiff(store, ["pull", "-q", name], { env }),
      skiff(store, ["pull", "-q", name], { env }),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(a.stdout, b.stdout);
    assert.equal(entries(`${store}/layers`).length, 3);
    assert.equal((await skiffOk(store, ["images", "-q"])).trim().split("\n").length, 1);
  });
});

test("a partial download that has every byte is checked and used without a request", async () => {
  await withClientFiles(async (env) => {
    await withRegistry(async (registry) => {
      const proxy = startProxy(registry.host);
      await withStore(async (store) => {
        const dir = await Deno.makeTempDir({ prefix: "skiff-pull-" });
        try {
          await fill(dir, registry.host);
          const manifest = JSON.parse(
            await sh(`skopeo inspect --raw --tls-verify=false docker://$1/test/oci:1`, registry.host),
          );
          const hex = manifest.layers[0].digest.slice(7);
          await skiffOk(store, ["ps"]); // a store first: skiff refuses a directory it did not make
          await Deno.mkdir(`${store}/downloads`, { recursive: true });
          await Deno.copyFile(`${dir}/layout/blobs/sha256/${hex}`, `${store}/downloads/${hex}.partial`);
          await skiffOk(store, ["pull", "-q", `${proxy.host}/test/oci:1`], { env });
          assert.deepEqual(proxy.seen.filter((s) => s.includes(hex)), [], "no request for the whole partial");
          assert.equal(entries(`${store}/layers`).length, 3);
        } finally {
          await proxy.stop();
          await Deno.remove(dir, { recursive: true });
        }
      }, { empty: true });
    });
  });
});

test("run --pull never uses only the store, --pull always asks the registry each time", async () => {
  await withPullScene(async ({ env, registry, store, dir }) => {
    await fill(dir, registry.host);
    const name = `${registry.host}/test/oci:1`;
    const never = await skiff(store, ["run", "--rm", "--pull", "never", name, "true"], { env });
    assert.equal(never.code, 125);
    assert.equal(
      never.stderr,
      `skiff: Unable to find image "${name}" in the store, and --pull is never\n`,
    );
    assert.deepEqual(entries(`${store}/layers`), []);
    const bad = await skiff(store, ["run", "--rm", "--pull", "sometimes", name, "true"], { env });
    assert.equal(bad.code, 125);
    assert.equal(bad.stderr, `skiff: Invalid --pull "sometimes": use missing, always or never\n`);

    await skiffOk(store, ["pull", "-q", name], { env });
    assert.equal(
      await skiffOk(store, ["run", "--rm", "--pull", "never", name, "cat", "/data/keep/new"], { env }),
      "added\n",
    );
    const always = await skiff(store, ["run", "--rm", "--pull", "always", name, "true"], { env });
    assert.equal(always.code, 0, always.stderr);
    assert.match(always.stderr, /^Pulling /);
    assert.equal(always.stderr.match(/already exists/g)?.length, 3, "and fetches no layer it has");
  });
});

test("a schema 1 manifest, an oversized one and one that fails its digest are refused, leaving nothing", async () => {
  await withClientFiles(async (env) => {
    await withRegistry(async (registry) => {
      const proxy = startProxy(registry.host);
      try {
        await withStore(async (store) => {
          const name = `${proxy.host}/test/bad:1`;
          proxy.faults.manifest = {
            body: JSON.stringify({ schemaVersion: 1, name: "test/bad", tag: "1", fsLayers: [] }),
            contentType: "application/vnd.docker.distribution.manifest.v1+prettyjws",
          };
          const schema1 = await skiff(store, ["pull", name], { env });
          assert.equal(schema1.code, 125);
          assert.match(
            schema1.stderr,
            /^skiff: Cannot pull ".*": "test\/bad:1" has a docker schema 1 manifest, which skiff does not pull/m,
          );

          proxy.faults.manifest = {
            body: JSON.stringify({ schemaVersion: 2, padding: "x".repeat(5 << 20) }),
            contentType: "application/vnd.oci.image.manifest.v1+json",
          };
          const big = await skiff(store, ["pull", name], { env });
          assert.equal(big.code, 125);
          assert.match(big.stderr, /the manifest is \d+ bytes, over the 4194304 bytes skiff accepts/);

          proxy.faults.manifest = {
            body: JSON.stringify({ schemaVersion: 2, config: {}, layers: [] }),
            contentType: "application/vnd.oci.image.manifest.v1+json",
          };
          const pinned = `${proxy.host}/test/bad@sha256:${"0".repeat(64)}`;
          const wrong = await skiff(store, ["pull", pinned], { env });
          assert.equal(wrong.code, 125);
          assert.match(
            wrong.stderr,
            new RegExp(`the manifest does not match its digest sha256:0{64}: got sha256:[0-9a-f]{64}\\n$`),
          );
          assert.deepEqual(entries(`${store}/layers`), []);
          assert.deepEqual(entries(`${store}/blobs/sha256`), []);
        }, { empty: true });
      } finally {
        await proxy.stop();
      }
    });
  });
});

/** The lines a terminal shows after `out` (newlines, cursor up, erase line: what progress uses). */
function screen(out: string): string[] {
  const lines = [""];
  let row = 0;
  // deno-lint-ignore no-control-regex
  for (const [t, count, op] of out.matchAll(/\x1b\[(\d*)([AK])|\r|\n|[^\x1b\r\n]+/g)) {
    if (t === "\n") {
      row++;
      if (row === lines.length) lines.push("");
    } else if (op === "A") row = Math.max(0, row - Number(count || 1));
    else if (op === "K") lines[row] = "";
    else if (t !== "\r") lines[row] += t;
  }
  return lines.filter((l) => l !== "");
}

test("pull progress on a terminal is one line per layer, redrawn in place; plain lines off one; nothing with -q", async () => {
  await withPullScene(async ({ env, registry, store, dir }) => {
    await fill(dir, registry.host);
    const image = `${registry.host}/test/oci:1`;
    const layers = JSON.parse(await sh(`skopeo inspect --raw --tls-verify=false docker://$1`, image)).layers
      .map((l: { digest: string }) => l.digest.slice(7, 19));
    const exports = Object.entries(env).map(([k, v]) => `export ${k}=${quote(v)}`).join("; ");
    const pulled = await underScript(store, `${exports}; skiff pull ${image}`);
    assert.equal(pulled.code, 0, pulled.out);
    // deno-lint-ignore no-control-regex
    assert.match(pulled.out, /\x1b\[\dA\x1b\[2KCopying blob /, "lines are redrawn in place");
    assert.match(
      pulled.out,
      /Copying blob [0-9a-f]{12} \d+(\.\d)?[KM]?i?B \/ \d+(\.\d)?[KM]?i?B \d+(\.\d)?[KM]?i?B\/s\n/,
    );
    const shown = screen(pulled.out);
    for (const layer of layers) {
      const rows = shown.filter((l) => l.includes(layer));
      assert.equal(rows.length, 1, `one line for layer ${layer}:\n${shown.join("\n")}`);
      assert.match(rows[0], /^Copying blob [0-9a-f]{12} \d+(\.\d)?[KM]?i?B done$/);
    }
    assert.match(shown[shown.length - 1], /^[0-9a-f]{64}$/, "the id last");

    await skiffOk(store, ["rmi", image]);
    const quiet = await underScript(store, `${exports}; skiff pull -q ${image}`);
    assert.equal(quiet.code, 0, quiet.out);
    assert.match(quiet.out, /^[0-9a-f]{64}\n$/, "only the id with -q");

    await skiffOk(store, ["rmi", image]);
    const plain = await skiff(store, ["pull", image], { env });
    assert.equal(plain.code, 0, plain.stderr);
    assert.ok(!plain.stderr.includes("\x1b"), `no escape sequences off a terminal: ${plain.stderr}`);
    for (const layer of layers) {
      assert.match(plain.stderr, new RegExp(`^Copying blob ${layer} \\(.+\\)$`, "m"));
    }
  });
});

test("a full disk during a pull is a one-line error that leaves no layer or image, only a partial download", async () => {
  await withPullScene(async ({ env, registry, dir }) => {
    // one layer of 12 MB that gzip cannot shrink, and one of 6 MB of zeros (a 15 KB blob that unpacks big)
    await sh(
      `cd "$1" && umoci init --layout layout >/dev/null && umoci new --image layout:t >/dev/null
for kind in big zeros; do
  umoci unpack --image layout:t b >/dev/null && mkdir -p b/rootfs/data
  if [ $kind = big ]; then head -c 12000000 /dev/urandom; else head -c 6000000 /dev/zero; fi > b/rootfs/data/file
  umoci repack --image layout:t:$kind b >/dev/null && rm -rf b
  skopeo copy -q --dest-tls-verify=false oci:layout:t:$kind docker://$2/test/$kind:1
done`,
      dir,
      registry.host,
    );
    const root = `${dir}/small`;
    await Deno.mkdir(root);
    await sh(`mount -t tmpfs -o size=8m skiff-test-full "$1"`, root);
    try {
      for (const kind of ["big", "zeros"]) {
        const image = `${registry.host}/test/${kind}:1`;
        const pull = await skiff(root, ["pull", image], { env });
        assert.equal(pull.code, 125, pull.stderr);
        const errors = pull.stderr.split("\n").filter((l) => l.startsWith("skiff: "));
        assert.equal(errors.length, 1, pull.stderr);
        assert.ok(pull.stderr.endsWith(`${errors[0]}\n`), "the error is the last line");
        if (kind === "big") {
          assert.match(
            errors[0],
            new RegExp(
              `^skiff: Cannot pull "${image}": layer 1 \\(sha256:[0-9a-f]{64}\\): cannot write "${root}/downloads/[0-9a-f]{64}(\\.tar)?\\.partial": No space left on device; make room .* and pull again to resume$`,
            ),
          );
        } else assert.match(errors[0], new RegExp(`^skiff: Cannot pull "${image}": .*layer 1 .+$`));
        assert.deepEqual(entries(`${root}/layers`), [], "no layer is left");
        assert.deepEqual(entries(`${root}/blobs/sha256`), [], "no blob is left");
        assert.equal(await skiffOk(root, ["images", "-q"]), "", "no image is left");
        for (const name of entries(`${root}/downloads`)) assert.match(name, /^[0-9a-f]{64}\.partial$/);
        assert.deepEqual(entries(`${root}/tmp`), [], "no work in progress is left");
      }
    } finally {
      await sh(`umount "$1" || umount -l "$1"`, root);
    }
  });
});

/** Whether this machine has IPv6 loopback (::1 on lo), for the test that needs it. */
function hasIpv6Loopback(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

const IPV6 = hasIpv6Loopback();
if (!IPV6) console.warn("skiff: no IPv6 loopback (::1), so the IPv6 registry test is skipped");

Deno.test({
  name:
    "[root] an image pushed to and pulled from a registry on [::1] is stored and found under its IPv6 name",
  ignore: ROOT_ONLY.ignore || !IPV6,
  async fn() {
    await withClientFiles(async (env) => {
      await withRegistry(async (registry) => {
        await withStore(async (store) => {
          assert.match(registry.host, /^\[::1\]:\d+$/);
          const name = `${registry.host}/test/bb:1`;
          await skiffOk(store, ["tag", "busybox", name]);
          assert.match((await skiffOk(store, ["push", "-q", name], { env })).trim(), /^sha256:[0-9a-f]{64}$/);
          await skiffOk(store, ["rmi", name]);
          const id = (await skiffOk(store, ["pull", "-q", name], { env })).trim();
          assert.match(
            await skiffOk(store, ["images"]),
            new RegExp(`\n\\[::1\\]:\\d+/test/bb\\s+1\\s+${id.slice(0, 12)}`),
          );
          const [inspected] = JSON.parse(await skiffOk(store, ["inspect", name]));
          assert.deepEqual(inspected.RepoTags, [name]);
          assert.equal(
            await skiffOk(store, ["run", "--rm", name, "echo", "over ipv6"], { env }),
            "over ipv6\n",
          );
        });
      }, { ipv6: true });
    });
  },
});

test("a partial download untouched for over a week is removed by the next pull, unless a pull holds its lock", async () => {
  await withPullScene(async ({ env, registry, store, dir }) => {
    await fill(dir, registry.host);
    await skiffOk(store, ["ps"]); // a store first: skiff refuses a directory it did not make
    const downloads = `${store}/downloads`;
    await Deno.mkdir(downloads, { recursive: true });
    const [old, fresh, held] = ["f", "e", "d"].map((c) => c.repeat(64));
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    for (const hex of [old, fresh, held]) Deno.writeTextFileSync(`${downloads}/${hex}.partial`, hex);
    for (const hex of [old, held]) Deno.utimeSync(`${downloads}/${hex}.partial`, eightDaysAgo, eightDaysAgo);
    // as a running pull holds the digest it downloads
    using lock = Deno.openSync(`${downloads}/${held}.lock`, { create: true, write: true });
    lock.lockSync(true);
    await skiffOk(store, ["pull", "-q", `${registry.host}/test/oci:1`], { env });
    assert.deepEqual(entries(downloads), [`${held}.lock`, `${held}.partial`, `${fresh}.partial`]);
  });
});

test("a foreign layer comes from its urls, without the registry's credentials", async () => {
  await withClientFiles(async (env) => {
    await withRegistry(async (registry) => {
      const proxy = startProxy(registry.host);
      const dir = await Deno.makeTempDir({ prefix: "skiff-pull-" });
      const seen: string[] = [];
      let blob = new Uint8Array();
      const foreign = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
        seen.push(`${new URL(req.url).pathname} auth=${req.headers.get("Authorization") ?? "-"}`);
        return new Response(blob);
      });
      try {
        await withStore(async (store) => {
          await fillWithCreds(dir, registry.host, "dave:pw");
          await skiffOk(store, ["login", "-u", "dave", "-p", "pw", proxy.host], { env });
          const manifest = JSON.parse(
            await sh(
              `skopeo inspect --raw --tls-verify=false --creds dave:pw docker://$1/test/oci:1`,
              registry.host,
            ),
          );
          const layer = manifest.layers[0];
          blob = await Deno.readFile(`${dir}/layout/blobs/sha256/${layer.digest.slice(7)}`);
          layer.mediaType = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
          layer.urls = [`http://127.0.0.1:${foreign.addr.port}/layer.tar.gz`];
          proxy.faults.manifest = { body: JSON.stringify(manifest), contentType: manifest.mediaType };
          await skiffOk(store, ["pull", "-q", `${proxy.host}/test/oci:1`], { env });
          assert.deepEqual(seen, ["/layer.tar.gz auth=-"]);
          assert.ok(!proxy.seen.some((s) => s.includes(layer.digest)), "the registry is not asked for it");
          assert.equal(entries(`${store}/layers`).length, 3);
        }, { empty: true });
      } finally {
        await foreign.shutdown();
        await proxy.stop();
        await Deno.remove(dir, { recursive: true });
      }
    }, { users: { dave: "pw" } });
  });
});

test("pushing a pulled image to another repository of its registry mounts its blobs instead of sending them", async () => {
  await withClientFiles(async (env) => {
    await withRegistry(async (registry) => {
      const proxy = startProxy(registry.host);
      await withStore(async (store) => {
        const dir = await Deno.makeTempDir({ prefix: "skiff-push-" });
        try {
          await fill(dir, registry.host);
          await skiffOk(store, ["pull", "-q", `${proxy.host}/test/oci:1`], { env });
          proxy.seen.length = 0;
          const pushed = await skiff(
            store,
            ["push", `${proxy.host}/test/oci:1`, `${proxy.host}/copy/oci:1`],
            { env },
          );
          assert.equal(pushed.code, 0, pushed.stderr);
          assert.equal(pushed.stderr.match(/mounted from another repository/g)?.length, 3, pushed.stderr);
          const mounts = proxy.seen.filter((s) => /^POST \/v2\/copy\/oci\/blobs\/uploads\/$/.test(s));
          assert.equal(mounts.length, 4, `three layers and the config: ${proxy.seen.join("\n")}`);
          assert.deepEqual(
            proxy.seen.filter((s) => /^(PUT|PATCH) .*\/blobs\//.test(s)),
            [],
            "no blob is sent",
          );
          const original = JSON.parse(
            await sh(`skopeo inspect --tls-verify=false docker://$1/test/oci:1`, registry.host),
          );
          const copy = JSON.parse(
            await sh(`skopeo inspect --tls-verify=false docker://$1/copy/oci:1`, registry.host),
          );
          assert.deepEqual(copy.Layers, original.Layers, "the same blobs");
        } finally {
          await proxy.stop();
          await Deno.remove(dir, { recursive: true });
        }
      }, { empty: true });
    });
  });
});

test("registries.conf: a [[registry]] location rewrites where a name is fetched, after its mirrors are tried", async () => {
  await withClientFiles(async (env, clientDir) => {
    await withRegistry(async (registry) => {
      await withStore(async (store) => {
        const dir = await Deno.makeTempDir({ prefix: "skiff-pull-" });
        try {
          await fill(dir, registry.host);
          await Deno.writeTextFile(
            `${clientDir}/registries.conf`,
            `[[registry]]\nprefix = "images.example/team"\nlocation = "${registry.host}/test"\n\n` +
              `[[registry.mirror]]\nlocation = "127.0.0.1:${freePort()}/dead"\n`,
          );
          const r = await skiff(store, ["pull", "images.example/team/oci:1"], { env });
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stderr, /^Mirror 127\.0\.0\.1:\d+\/dead\/oci failed: Cannot reach registry/m);
          assert.match(
            await skiffOk(store, ["images"]),
            /images\.example\/team\/oci\s+1/,
            "kept under the name asked for",
          );
          assert.equal(
            await skiffOk(store, ["run", "--rm", "images.example/team/oci:1", "cat", "/data/keep/new"], {
              env,
            }),
            "added\n",
          );
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      }, { empty: true });
    });
  });
});

test("tag gives an image another name with the same id, a short one under localhost/; a missing source or a bad target is a one-line error", async () => {
  await withClientFiles(async (env) => {
    await withStore(async (store) => {
      const [busybox] = JSON.parse(await skiffOk(store, ["inspect", "busybox"]));
      assert.equal(await skiffOk(store, ["tag", "busybox", "127.0.0.1:5000/team/bb:2"]), "");
      const [tagged] = JSON.parse(await skiffOk(store, ["inspect", "127.0.0.1:5000/team/bb:2"]));
      assert.equal(tagged.Id, busybox.Id);
      assert.equal(
        await skiffOk(store, ["run", "--rm", "127.0.0.1:5000/team/bb:2", "echo", "tagged"]),
        "tagged\n",
      );
      // a target without a registry is a local name, as podman tags it
      assert.equal(await skiffOk(store, ["tag", "busybox", "mine:2"]), "");
      const [mine] = JSON.parse(await skiffOk(store, ["inspect", "mine:2"]));
      assert.equal(mine.Id, busybox.Id);
      assert.deepEqual(mine.RepoTags, ["localhost/mine:2"]);
      assert.match(await skiffOk(store, ["images"]), /\nlocalhost\/mine\s+2\s/);
      const missing = await skiff(store, ["tag", "nosuch", "x"], { env });
      assert.equal(missing.code, 125);
      assert.equal(missing.stderr, 'skiff: Cannot tag "nosuch": no such image\n');
      const bad = await skiff(store, ["tag", "busybox", "Bad:Name"]);
      assert.equal(bad.code, 125);
      assert.match(bad.stderr, /^skiff: Invalid image reference "Bad:Name"/);
      assert.equal(
        (await skiffOk(store, ["images", "-q"])).trim().split("\n").length,
        3,
        "one image, three names",
      );
    });
  });
});

test("a pulled config is checked as a loaded one: an Env entry that is not KEY=VALUE is refused, nothing kept", async () => {
  await withPullScene(async ({ env, registry, store, dir }) => {
    await umociImage(dir);
    await sh(
      // umoci refuses such an Env, so the config is rewritten by hand, digests and all
      `cd "$1"
python3 - <<'PY'
import hashlib, json
def blob(d): return "layout/blobs/sha256/" + d.split(":")[1]
def put(doc):
    data = json.dumps(doc).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    open(blob(digest), "wb").write(data)
    return {"digest": digest, "size": len(data)}
index = json.load(open("layout/index.json"))
desc = index["manifests"][0]
manifest = json.load(open(blob(desc["digest"])))
config = json.load(open(blob(manifest["config"]["digest"])))
config.setdefault("config", {})["Env"] = ["PATH=/bin", "pwn"]
manifest["config"].update(put(config))
desc.update(put(manifest))
json.dump(index, open("layout/index.json", "w"))
PY
skopeo copy -q --dest-tls-verify=false oci:layout:t docker://$2/test/env:1`,
      dir,
      registry.host,
    );
    const r = await skiff(store, ["pull", "-q", `${registry.host}/test/env:1`], { env });
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, /Env entry "pwn" is not KEY=VALUE/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    await assertEmptyStore(store);
  });
});
