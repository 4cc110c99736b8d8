/**
 * `skiff build` against `podman build` (buildah 1.28, Debian's): the same
 * multi-stage Dockerfile, from `FROM scratch` and a rootfs in the context
 * (no registry), gives the same file tree (path, type, mode, owner, size,
 * content, link target, hard links; compared after `umoci unpack` of each
 * image's OCI archive) and the same config. Ignored, as the issue says:
 * what buildah itself puts in every image (`/dev`, `/proc`, `/sys`, `/run`,
 * `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`) and its
 * `io.buildah.version` label. podman runs as root with vfs storage under a
 * temporary root, `--network none`, runc (crun fails on this cgroup v1
 * host).
 */

import assert from "node:assert/strict";
import { BUSYBOX } from "../lib/host/tools.ts";
import { ROOT_ONLY, skiff, skiffOk, withStore } from "./helpers.ts";
import { sh, treeListing } from "./_oci.ts";

const DOCKERFILE = `FROM scratch AS base
ADD rootfs.tar /
ENV PATH=/bin
FROM base AS build
ARG MODE=0600
WORKDIR /src
COPY app/ ./
RUN echo built > /src/out && chmod $MODE /src/out && mkdir -p /src/d && ln -s ../out /src/d/link
RUN rm /etc/gone && echo changed > /etc/passwd
FROM build
COPY --from=build /src /opt/app
COPY --chown=12:34 --chmod=0640 conf /etc/conf
COPY *.txt /txt/
ADD pack.tar.gz /unpacked/
ENV A=1 B="x y"
LABEL k=v "with space"="a b"
EXPOSE 80/tcp 53/udp
VOLUME /data
WORKDIR /opt/app
USER 1000
ENTRYPOINT ["/bin/sh"]
CMD ["-c", "cat out"]
`;

/** What buildah adds to every image, and the comparison leaves out. */
const BUILDAH_OWN = /^\.\/(dev|proc|sys|run|etc\/hostname|etc\/hosts|etc\/resolv\.conf)( |\/)/;

/** The config fields the issue compares. */
const FIELDS = ["User", "Env", "Entrypoint", "Cmd", "WorkingDir", "ExposedPorts", "Volumes", "Labels"];

/** What a build gave: its tree (less what buildah adds) and the compared config fields. */
interface Built {
  tree: string[];
  config: Record<string, unknown>;
}

/**
 * Builds `dir/ctx` with skiff (in `store`) and with podman (vfs under
 * `dir`), and unpacks both images with umoci.
 */
async function buildBoth(store: string, dir: string, podman: string, env?: Record<string, string>) {
  const built = await skiff(store, ["build", "--network", "none", "-t", "compat", `${dir}/ctx`], { env });
  assert.equal(built.code, 0, built.stderr);
  await skiffOk(store, ["save", "--format", "oci", "-o", `${dir}/skiff.tar`, "compat"]);
  await sh(
    `${podman} build -q --tls-verify=false --network none --layers -t compat "$1/ctx" >/dev/null`,
    dir,
  );
  await sh(`${podman} save -q --format oci-archive -o "$1/podman.tar" compat`, dir);
  const unpacked: Record<string, Built> = {};
  for (const tool of ["skiff", "podman"]) {
    await sh(
      `cd "$1" && skopeo copy -q oci-archive:$2.tar oci:$2-layout:t && umoci unpack --image $2-layout:t $2-bundle >/dev/null`,
      dir,
      tool,
    );
    const tree = (await treeListing(`${dir}/${tool}-bundle/rootfs`)).split("\n").filter((l) =>
      l !== "" && !BUILDAH_OWN.test(l)
    );
    const layout = `${dir}/${tool}-layout`;
    const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`));
    const manifest = JSON.parse(
      await Deno.readTextFile(`${layout}/blobs/sha256/${index.manifests[0].digest.slice(7)}`),
    );
    const image = JSON.parse(
      await Deno.readTextFile(`${layout}/blobs/sha256/${manifest.config.digest.slice(7)}`),
    );
    const config = Object.fromEntries(FIELDS.map((f) => [f, image.config[f]]));
    const labels = config.Labels as Record<string, string> | undefined;
    if (labels) delete labels["io.buildah.version"];
    if (labels && Object.keys(labels).length === 0) config.Labels = undefined; // only buildah's
    unpacked[tool] = { tree, config };
  }
  return unpacked as { skiff: Built; podman: Built };
}

/** A temporary directory and a podman of its own (vfs storage in it), removed after `fn`. */
async function withPodman(fn: (dir: string, podman: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-build-compat-" });
  const podman =
    `podman --root ${dir}/proot --runroot ${dir}/prun --storage-driver vfs --runtime /usr/sbin/runc`;
  try {
    await fn(dir, podman);
  } finally {
    await new Deno.Command("sh", { args: ["-c", `${podman} rmi -a -f`], stdout: "null", stderr: "null" })
      .output();
    await new Deno.Command("umount", { args: ["-R", "-l", `${dir}/prun`], stderr: "null" }).output();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "[root] skiff build gives the tree and config podman build gives",
  ...ROOT_ONLY,
  fn: async () => {
    await withStore(async (store) => {
      await withPodman(async (dir, podman) => {
        await sh(
          `
cd "$1"
mkdir -p ctx/app/sub r/bin r/etc pkg
cp "$2" r/bin/busybox
for a in sh cat ls mkdir chmod ln rm echo; do ln -s busybox r/bin/$a; done
echo gone > r/etc/gone && echo root:x:0:0::/root:/bin/sh > r/etc/passwd && chmod 0700 r/etc
tar -C r -cf ctx/rootfs.tar --numeric-owner --owner=0 --group=0 .
echo app > ctx/app/main && echo sub > ctx/app/sub/f && chmod 0750 ctx/app/sub
echo c > ctx/conf && echo t > ctx/a.txt && echo u > ctx/b.txt
echo packed > pkg/file && ln pkg/file pkg/hard && tar -C . -czf ctx/pack.tar.gz --owner=7 --group=8 pkg
`,
          dir,
          BUSYBOX,
        );
        await Deno.writeTextFile(`${dir}/ctx/Dockerfile`, DOCKERFILE);
        const both = await buildBoth(store, dir, podman);
        assert.ok(
          both.skiff.tree.some((l) => l.startsWith("./opt/app/d/link symbolic link")),
          "the tree is there",
        );
        assert.deepEqual(both.skiff.tree, both.podman.tree);
        assert.deepEqual(both.skiff.config, both.podman.config);
      });
    });
  },
});

Deno.test({
  name: "[root] FROM an image pulled from a registry: the same tree and config as podman build's",
  ...ROOT_ONLY,
  fn: async () => {
    const { startRegistry } = await import("./_registry.ts");
    const registry = await startRegistry();
    try {
      await withStore(async (store) => {
        await withPodman(async (dir, podman) => {
          const env = {
            REGISTRY_AUTH_FILE: `${dir}/auth.json`,
            CONTAINERS_REGISTRIES_CONF: `${dir}/registries.conf`,
          };
          await Deno.writeTextFile(
            env.CONTAINERS_REGISTRIES_CONF,
            'unqualified-search-registries = ["docker.io"]\n',
          );
          const base = `${registry.host}/lib/base:1`;
          await skiffOk(store, ["push", "-q", "busybox", base], { env });
          await Deno.mkdir(`${dir}/ctx`);
          await Deno.writeTextFile(`${dir}/ctx/f`, "f\n");
          await Deno.writeTextFile(
            `${dir}/ctx/Dockerfile`,
            `FROM ${base}\nCOPY f /srv/f\nRUN rm /etc/group && echo ran > /srv/ran\nENV K=v\nCMD ["cat", "/srv/ran"]\n`,
          );
          const both = await buildBoth(store, dir, podman, env);
          assert.ok(both.skiff.tree.some((l) => l.startsWith("./srv/ran regular file")), "the tree is there");
          assert.ok(!both.skiff.tree.some((l) => l.startsWith("./etc/group ")));
          assert.deepEqual(both.skiff.tree, both.podman.tree);
          assert.deepEqual(both.skiff.config, both.podman.config);
        });
      });
    } finally {
      await registry.stop();
    }
  },
});
