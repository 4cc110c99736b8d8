/**
 * Compatibility with real OCI tools (Debian's umoci, skopeo and podman):
 * an image built by umoci and archived by skopeo loads in skiff with the
 * same tree umoci unpacks, and skiff's archives load in podman and pass
 * skopeo inspect.
 */

import assert from "node:assert/strict";
import { ROOT_ONLY, skiffOk, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

async function sh(script: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("bash", { args: ["-euo", "pipefail", "-c", script, "bash", ...args] })
    .output();
  const text = new TextDecoder();
  assert.equal(out.code, 0, `${script}\n${text.decode(out.stderr)}`);
  return text.decode(out.stdout);
}

/**
 * An OCI layout at `dir/layout`, tag `t`, of three layers: a base with
 * busybox, owners, modes, links, a fifo and a device; a second that
 * deletes, changes and adds (umoci writes its whiteouts); a third, added
 * raw, with an opaque directory.
 */
async function umociImage(dir: string): Promise<void> {
  await sh(
    `
cd "$1"
umoci init --layout layout
umoci new --image layout:t
umoci unpack --image layout:t b1
r=b1/rootfs
mkdir -p $r/bin $r/etc $r/proc $r/sys $r/dev $r/data/keep $r/data/gone $r/opaque $r/srv
cp /bin/busybox $r/bin/busybox
for a in sh true cat ls; do ln -s busybox $r/bin/$a; done
echo base > $r/etc/base
echo secret > $r/etc/shadow && chmod 0600 $r/etc/shadow
echo tool > $r/bin/suid && chmod 4755 $r/bin/suid
echo owned > $r/srv/owned && chown 1234:5678 $r/srv/owned
echo linked > $r/data/keep/a && ln $r/data/keep/a $r/data/keep/hard
ln -s /etc/base $r/data/abs-link && ln -s ../etc/base $r/data/rel-link
echo x > $r/data/gone/x
echo old1 > $r/opaque/old1 && echo old2 > $r/opaque/old2
mkfifo $r/data/fifo
mknod $r/dev/null-like c 1 3
umoci repack --image layout:t b1
umoci unpack --image layout:t b2
r=b2/rootfs
rm -r $r/data/gone
rm $r/etc/base
echo changed > $r/srv/owned
echo added > $r/data/keep/new
umoci repack --image layout:t b2
mkdir -p l3/opaque && echo new > l3/opaque/new && touch l3/opaque/.wh..wh..opq
tar -C l3 -cf layer3.tar --no-recursion --numeric-owner --owner=0 --group=0 opaque opaque/.wh..wh..opq opaque/new
umoci raw add-layer --image layout:t layer3.tar
umoci unpack --image layout:t reference
`,
    dir,
  );
}

/** One line per entry: path, type, mode, owner, size, content hash, link target, hardlink group. */
async function treeListing(root: string): Promise<string> {
  return await sh(
    `
cd "$1"
find . -mindepth 1 -printf '%i %p\\n' | sort -k2 > /tmp/skiff-inodes.$$
find . -mindepth 1 | sort | while read -r p; do
  line=$(stat -c '%F %a %u:%g' "$p")
  case "$line" in
    "regular file"*|"regular empty file"*) line="$line $(stat -c %s "$p") $(sha256sum < "$p" | cut -c1-16)";;
    "symbolic link"*) line="$line -> $(readlink "$p")";;
    "character special file"*|"block special file"*) line="$line $(stat -c '%t:%T' "$p")";;
  esac
  ino=$(grep " $p\\$" /tmp/skiff-inodes.$$ | head -1 | cut -d' ' -f1)
  first=$(awk -v i="$ino" '$1 == i { print $2; exit }' /tmp/skiff-inodes.$$)
  [ "$first" != "$p" ] && line="$line hardlink-of $first"
  echo "$p $line"
done
rm /tmp/skiff-inodes.$$
`,
    root,
  );
}

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
        const [archive, ref] of [["oci.tar", "compat/oci:1"], ["docker.tar", "docker.io/compat/docker:1"]]
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
