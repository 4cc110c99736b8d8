/**
 * OCI layouts built with umoci, and trees listed for comparison: what the
 * compatibility and registry tests check skiff's images against.
 *
 * @module
 */

import assert from "node:assert/strict";

export async function sh(script: string, ...args: string[]): Promise<string> {
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
 * raw, with an opaque directory; `cmd` as its config's Cmd when given.
 * `dir/reference` is what `umoci unpack` makes of it.
 */
export async function umociImage(dir: string, { cmd }: { cmd?: string } = {}): Promise<void> {
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
if [ -n "$2" ]; then umoci config --image layout:t --config.cmd "$2"; fi
umoci unpack --image layout:t reference
rm -rf b1 b2 l3 layer3.tar
`,
    dir,
    cmd ?? "",
  );
}

/** One line per entry: path, type, mode, owner, size, content hash, link target, hardlink group. */
export async function treeListing(root: string): Promise<string> {
  return await sh(
    `
cd "$1"
find . -mindepth 1 -printf '%i\\t%p\\n' | sort -t "$(printf '\\t')" -k2 > /tmp/skiff-inodes.$$
find . -mindepth 1 | sort | while read -r p; do
  line=$(stat -c '%F %a %u:%g' "$p")
  case "$line" in
    "regular file"*|"regular empty file"*) line="$line $(stat -c %s "$p") $(sha256sum < "$p" | cut -c1-16)";;
    "symbolic link"*) line="$line -> $(readlink "$p")";;
    "character special file"*|"block special file"*) line="$line $(stat -c '%t:%T' "$p")";;
  esac
  # exact matches (awk, not grep: names such as busybox's "[" are no patterns)
  ino=$(awk -F '\\t' -v p="$p" '$2 == p { print $1; exit }' /tmp/skiff-inodes.$$)
  first=$(awk -F '\\t' -v i="$ino" '$1 == i { print $2; exit }' /tmp/skiff-inodes.$$)
  [ "$first" != "$p" ] && line="$line hardlink-of $first"
  echo "$p $line"
done
rm /tmp/skiff-inodes.$$
`,
    root,
  );
}
