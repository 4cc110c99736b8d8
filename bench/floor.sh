#!/bin/sh
# floor.sh ROOTFS: what `run --rm IMAGE true` must do at the least, from a
# shell: fresh upper/work, overlay mount, namespaces, chroot, /bin/true,
# unmount, clean up. (The project's reference floor, shared/bench/.)
set -eu
d=$(mktemp -d /tmp/ovf.XXXXXX); mkdir "$d/u" "$d/w" "$d/m"
mount -t overlay overlay -o "lowerdir=$1,upperdir=$d/u,workdir=$d/w" "$d/m"
unshare --mount --uts --ipc --net --pid --fork chroot "$d/m" /bin/true
umount "$d/m"; rm -rf "$d"
