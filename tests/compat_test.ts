/**
 * Compatibility with real OCI tools (Debian's umoci, skopeo and podman):
 * an image built by umoci and archived by skopeo loads in skiff with the
 * same tree umoci unpacks, and skiff's archives load in podman and pass
 * skopeo inspect.
 */

import assert from "node:assert/strict";
import { ROOT_ONLY, skiffOk, withStore } from "./helpers.ts";
import { sh, treeListing, umociImage } from "./_oci.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

test("an image built by umoci and archived by skopeo loads with the tree umoci unpacks", async () => {
  await withStore(async (store) => {
    const dir = await Deno.makeTempDir({ prefix: "skiff-compat-" });
    try {
      await umociImage(dir);
      await sh(
        `cd "$1" && skopeo copy -q oci:layout:t oci-archive:oci.tar:compat/oci:1 && skopeo copy -q oci:layout:t docker-archive:docker.tar:compat/docker:1`,
        dir,
      );
      const expected = await treeListing(`${dir}/reference/rootfs`);
      assert.match(expected, /\.\/opaque\/new /);
      assert.doesNotMatch(expected, /\.\/opaque\/old1|\.\/etc\/base |\.\/data\/gone/);

      for (
        const [archive, ref] of [["oci.tar", "localhost/compat/oci:1"], [
          "docker.tar",
          "docker.io/compat/docker:1",
        ]]
      ) {
        const loaded = await skiffOk(store, ["load", "-i", `${dir}/${archive}`]);
        const name = loaded.trim().replace("Loaded image: ", "");
        assert.equal(name, ref);
        await skiffOk(store, ["run", "--name", `from-${archive}`, name, "true"]);
        await skiffOk(store, ["export", "-o", `${dir}/${archive}.export`, `from-${archive}`]);
        await Deno.mkdir(`${dir}/${archive}.tree`);
        await sh(
          `tar -x -p --same-owner --numeric-owner -f "$1" -C "$2"`,
          `${dir}/${archive}.export`,
          `${dir}/${archive}.tree`,
        );
        assert.equal(
          await treeListing(`${dir}/${archive}.tree`),
          expected,
          `${archive}: same tree as umoci unpack`,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }, { empty: true });
});

test("skiff's archives pass skopeo inspect and load and run in podman", async () => {
  await withStore(async (store) => {
    const dir = await Deno.makeTempDir({ prefix: "skiff-compat-" });
    const podman = ["--runtime", "/usr/sbin/runc"];
    const tag = `localhost/skiff-compat-${crypto.randomUUID().slice(0, 8)}:1`;
    try {
      await skiffOk(store, ["run", "--name", "c", "busybox", "sh", "-c", "echo from-skiff > /marker"]);
      await skiffOk(store, ["commit", "c", tag]);
      const [image] = JSON.parse(await skiffOk(store, ["inspect", tag]));
      for (const format of ["oci", "docker"]) {
        const file = `${dir}/${format}.tar`;
        await skiffOk(store, ["save", "--format", format, "-o", file, tag]);
        const transport = format === "oci" ? "oci-archive" : "docker-archive";
        const inspected = JSON.parse(await sh(`skopeo inspect "$1"`, `${transport}:${file}`));
        assert.deepEqual(inspected.Layers, image.rootfs.diff_ids);
        const loaded = await sh(`podman ${podman.join(" ")} load -q -i "$1"`, file);
        assert.match(loaded, new RegExp(`Loaded image: ${tag}`));
        const ran = await sh(
          `podman ${
            podman.join(" ")
          } run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 "$1" cat /marker`,
          tag,
        );
        assert.equal(ran, "from-skiff\n");
        const id = (await sh(`podman image inspect --format '{{.Id}}' "$1"`, tag)).trim();
        assert.equal(`sha256:${id}`, image.Id, "podman keeps skiff's image id");
        await sh(`podman rmi -f "$1" >/dev/null`, tag);
      }
    } finally {
      await new Deno.Command("podman", { args: ["rmi", "-f", tag], stdout: "null", stderr: "null" }).output();
      await Deno.remove(dir, { recursive: true });
    }
  });
});
