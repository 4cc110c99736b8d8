/**
 * End-to-end tests of layered images as root: commit (with OCI whiteouts
 * and opaque directories), export, rmi, and extraction of hostile tars.
 */

import assert from "node:assert/strict";
import { background, entries, ROOT_ONLY, skiff, skiffOk, waitFor, withStore } from "./helpers.ts";
import { FREEZER } from "../lib/host/cgroup/freezer.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

/** The member names of a tar file. */
async function members(tar: string): Promise<string[]> {
  const out = await new Deno.Command("tar", { args: ["-tf", tar] }).output();
  assert.equal(out.code, 0);
  return new TextDecoder().decode(out.stdout).trim().split("\n");
}

/** The image's manifest and config, read from the store's blobs; `ref` is NAME:TAG, made here. */
async function imageBlobs(store: string, ref: string) {
  const [image] = JSON.parse(await skiffOk(store, ["inspect", ref]));
  const key = `localhost/${ref}`;
  assert.deepEqual(image.RepoTags, [key], "a committed image is stored under localhost/, as podman does");
  const index = JSON.parse(await Deno.readTextFile(`${store}/images/index.json`));
  const manifest = JSON.parse(await Deno.readTextFile(`${store}/blobs/sha256/${index[key].manifest}`));
  return { image, manifest };
}

const CHANGES = [
  "echo new > /newfile", // added
  "rm /etc/group", // deleted: a whiteout
  "rm -rf /usr/sbin && mkdir /usr/sbin && echo only > /usr/sbin/only", // replaced: an opaque dir
  "echo changed > /etc/hostname", // modified
].join(" && ");

test("commit adds one OCI layer of the container's changes, and the image runs with them", async () => {
  await withStore(async (store) => {
    await skiffOk(store, [
      "run",
      "--name",
      "changed",
      "-e",
      "MODE=prod",
      "-w",
      "/srv",
      "busybox",
      "sh",
      "-c",
      CHANGES,
    ]);
    const id = (await skiffOk(store, ["commit", "-m", "my change", "changed", "mine:v1"])).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);

    const { image, manifest } = await imageBlobs(store, "mine:v1");
    assert.equal(image.Id, id);
    assert.equal(manifest.mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.equal(manifest.layers.length, 2, "busybox's layer plus one");
    assert.equal(image.rootfs.diff_ids.length, 2);
    assert.deepEqual(image.config.Cmd, ["sh", "-c", CHANGES], "the container's command");
    assert.equal(image.config.WorkingDir, "/srv");
    assert.ok(image.config.Env.includes("MODE=prod"));
    assert.ok(!image.config.Env.some((e: string) => e.startsWith("HOSTNAME=")));
    assert.equal(image.history.at(-1).comment, "my change");

    const layer = `${store}/blobs/sha256/${manifest.layers[1].digest.slice(7)}`;
    const names = await members(layer);
    for (
      const name of ["newfile", "etc/.wh.group", "usr/sbin/.wh..wh..opq", "usr/sbin/only", "etc/hostname"]
    ) {
      assert.ok(names.includes(name), `${name} in ${names.join(" ")}`);
    }
    assert.ok(
      !names.some((n) => /^(proc|sys|dev)(\/|$)/.test(n)),
      "skiff's mount points are not in the layer",
    );

    const out = await skiffOk(store, [
      "run",
      "--rm",
      "mine:v1",
      "sh",
      "-c",
      "cat /newfile /etc/hostname; test -e /etc/group || echo no-group; ls /usr/sbin; pwd",
    ]);
    assert.equal(out, "new\nchanged\nno-group\nonly\n/srv\n");
  });
});

test("a commit of a committed image stacks a third layer; deletions of lower files hold", async () => {
  await withStore(async (store) => {
    await skiffOk(store, ["run", "--name", "one", "busybox", "sh", "-c", "mkdir /app && echo 1 > /app/a"]);
    await skiffOk(store, ["commit", "one", "app:1"]);
    await skiffOk(store, ["run", "--name", "two", "app:1", "sh", "-c", "rm /app/a && echo 2 > /app/b"]);
    await skiffOk(store, ["commit", "-c", 'CMD ["ls", "/app"]', "-c", "ENV STAGE=two", "two", "app:2"]);
    assert.equal(
      await skiffOk(store, ["run", "--rm", "app:2"]),
      "b\n",
      "the CMD change is the default command",
    );
    const { image } = await imageBlobs(store, "app:2");
    assert.equal(image.rootfs.diff_ids.length, 3);
    assert.ok(image.config.Env.includes("STAGE=two"));
    assert.equal(
      await skiffOk(store, ["run", "--rm", "app:1", "cat", "/app/a"]),
      "1\n",
      "app:1 is unchanged",
    );
  });
});

test("commit leaves volume contents and mount points out, and refuses bad input", async () => {
  await withStore(async (store) => {
    const host = await Deno.makeTempDir({ prefix: "skiff-vol-" });
    try {
      await skiffOk(store, [
        "run",
        "--name",
        "v",
        "-v",
        `${host}:/data`,
        "busybox",
        "sh",
        "-c",
        "echo secret > /data/s",
      ]);
      await skiffOk(store, ["commit", "v", "withvol"]);
      const { manifest } = await imageBlobs(store, "withvol:latest");
      const names = await members(`${store}/blobs/sha256/${manifest.layers[1].digest.slice(7)}`);
      assert.ok(!names.some((n) => n.startsWith("data")), names.join(" "));
      const cases: [string[], RegExp][] = [
        [["commit", "nosuch", "x"], /^skiff: No such container: nosuch\n$/],
        [["commit", "v", "Bad:Name"], /^skiff: Invalid image reference "Bad:Name"/],
        [["commit", "-c", "RUN make", "v", "x"], /^skiff: Unsupported change "RUN make"/],
      ];
      for (const [args, message] of cases) {
        const r = await skiff(store, args);
        assert.equal(r.code, 125);
        assert.match(r.stderr, message);
      }
      assert.deepEqual(entries(`${store}/tmp`), []);
    } finally {
      await Deno.remove(host, { recursive: true });
    }
  });
});

test("export writes the container's flattened tree, which import reads back", async () => {
  await withStore(async (store) => {
    await skiffOk(store, [
      "run",
      "--name",
      "src",
      "busybox",
      "sh",
      "-c",
      "echo x > /exported; rm /etc/hosts",
    ]);
    const dir = await Deno.makeTempDir({ prefix: "skiff-export-" });
    try {
      await skiffOk(store, ["export", "-o", `${dir}/src.tar`, "src"]);
      const names = await members(`${dir}/src.tar`);
      assert.ok(names.includes("./exported"));
      assert.ok(names.includes("./bin/busybox"));
      assert.ok(!names.includes("./etc/hosts"), "a deleted file is absent, not whited out");
      assert.ok(!names.some((n) => n.includes(".wh.")));
      await skiffOk(store, ["import", `${dir}/src.tar`, "reimported"]);
      assert.equal(await skiffOk(store, ["run", "--rm", "reimported", "cat", "/exported"]), "x\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

test("rmi refuses an image in use, and removes layers no one needs", async () => {
  await withStore(async (store) => {
    await skiffOk(store, ["run", "--name", "c", "busybox", "sh", "-c", "echo > /f"]);
    await skiffOk(store, ["commit", "c", "extra"]);
    const layers = () => entries(`${store}/layers`).length;
    assert.equal(layers(), 2);
    const refused = await skiff(store, ["rmi", "busybox"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^skiff: Cannot remove image "busybox": a container uses it/);
    assert.equal(await skiffOk(store, ["rmi", "extra"]), "extra\n");
    assert.equal(layers(), 1, "the committed layer went with its image");
    assert.equal(await skiffOk(store, ["rmi", "-f", "busybox"]), "busybox\n");
    assert.equal(layers(), 1, "the container still needs busybox's layer");
    await skiffOk(store, ["rm", "c"]);
    assert.equal(await skiffOk(store, ["images", "-q"]), "");
    const missing = await skiff(store, ["rmi", "busybox"]);
    assert.equal(missing.stderr, "skiff: No such image: busybox\n");
  });
});

test("a hostile tar is refused whole and writes nothing outside its layer", async () => {
  await withStore(async (store) => {
    const dir = await Deno.makeTempDir({ prefix: "skiff-evil-" });
    try {
      await Deno.mkdir(`${dir}/victim`);
      // python3's tarfile writes the members GNU tar would never make
      const script = `
import tarfile, io, sys
t = tarfile.open(sys.argv[1], 'w')
def add(name, data=b'', kind=tarfile.REGTYPE, link=''):
    ti = tarfile.TarInfo(name); ti.type = kind; ti.linkname = link
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    t.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
add('link', kind=tarfile.SYMTYPE, link=sys.argv[2])
add('link/through-symlink', b'pwned')
add('../dotdot', b'pwned')
add('hard', kind=tarfile.LNKTYPE, link='/etc/passwd')
t.close()`;
      const made = await new Deno.Command("python3", {
        args: ["-c", script, `${dir}/evil.tar`, `${dir}/victim`],
      })
        .output();
      assert.equal(made.code, 0, new TextDecoder().decode(made.stderr));
      const r = await skiff(store, ["import", `${dir}/evil.tar`, "evil"]);
      assert.equal(r.code, 125);
      assert.match(r.stderr, /^skiff: Cannot import "[^"]+evil.tar": /);
      assert.deepEqual(entries(`${dir}/victim`), []);
      assert.deepEqual(entries(dir), ["evil.tar", "victim"]);
      assert.deepEqual(entries(`${store}/tmp`), []);
      assert.equal(entries(`${store}/layers`).length, 1, "only busybox's");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

test("a running container is paused while its layer is made, and runs on after", async () => {
  await withStore(async (store) => {
    const live = background(store, [
      "run",
      "--name",
      "live",
      "busybox",
      "sh",
      "-c",
      // renamed into place: any moment the freezer catches has a whole number
      "i=0; while true; do i=$((i+1)); echo $i > /count.tmp; mv /count.tmp /count; sleep 0.01; done",
    ]);
    try {
      await waitFor(() =>
        entries(`${store}/containers`).some((id) =>
          entries(`${store}/containers/${id}/upper`).includes("count")
        )
      );
      await skiffOk(store, ["commit", "live", "live:snap"]);
      const snapshot = Number(await skiffOk(store, ["run", "--rm", "live:snap", "cat", "/count"]));
      assert.ok(snapshot > 0, `the layer holds a count: ${snapshot}`);
      const [id] = entries(`${store}/containers`);
      await waitFor(() =>
        Number(Deno.readTextFileSync(`${store}/containers/${id}/upper/count`)) > snapshot + 5
      );
      assert.ok(!entries(FREEZER).some((e) => e.startsWith("skiff-freeze-")), "the freeze cgroup is gone");
    } finally {
      await live.stop();
    }
  });
});
