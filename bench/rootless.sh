#!/usr/bin/env bash
# Times `run --rm busybox true` rootless, side by side with the same run as
# root (through the installed launcher and through deno task) and with
# rootless podman (runc, no network; on cgroup v1 it makes no
# cgroup for a user either). The rootless runs are a throwaway user's, made
# here (useradd, with subordinate ids) and removed on exit, running from a
# copy of the code it can read. Needs root and `.ci/setup --bench`.
#
#   sudo deno task bench:rootless [RUNS]      (default 30 runs each)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
[ "$(id -u)" = 0 ] || { echo "bench: run as root (sudo deno task bench:rootless)" >&2; exit 1; }
for tool in hyperfine podman useradd; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing: sudo bash .ci/setup --bench" >&2; exit 1; }
done

user=skiffbench$$
work=$(mktemp -d /tmp/skiff-bench.XXXXXX)
cleanup() {
  pkill -KILL -u "$user" 2>/dev/null || true # the throwaway user's processes: ours
  userdel --remove "$user" 2>/dev/null || true
  # the runtime dir a user without XDG_RUNTIME_DIR gets (lib/store/store.ts)
  [ -z "${uid:-}" ] || rm -rf "/tmp/skiff-run-$uid"
  rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"
cp -r deno.json cli.ts mod.ts lib ffi images "$work/"
useradd --create-home --shell /bin/sh "$user"
grep -q "^$user:" /etc/subuid || usermod --add-subuids 400000-465535 --add-subgids 400000-465535 "$user"
uid=$(id -u "$user")
as_user="setpriv --reuid $uid --regid $uid --init-groups -- env -i HOME=/home/$user USER=$user PATH=$PATH"

# Warm both stores (the busybox image) and give podman the same rootfs.
(cd "$work" && $as_user deno task -q run --rm --network none busybox true)
(cd "$work" && SKIFF_ROOT=$work/store deno task -q run --rm --network none busybox true)
tar -C "$(ls -d "$work"/store/layers/*)" -cf "$work/rootfs.tar" .
chmod 644 "$work/rootfs.tar"
(cd /tmp && $as_user podman import -q "$work/rootfs.tar" skiff-bench/busybox >/dev/null)
podman_run="podman run --rm --runtime /usr/sbin/runc --network none skiff-bench/busybox /bin/true"

(cd "$work" && sh lib/container/install.sh "$work/bin" >/dev/null)

cd "$work"
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/results.json" \
  -n "skiff as root: skiff run --rm --network none busybox true (installed launcher)" "env SKIFF_ROOT=$work/store $work/bin/skiff run --rm --network none busybox true" \
  -n "skiff rootless: skiff run --rm --network none busybox true (installed launcher)" "$as_user $work/bin/skiff run --rm --network none busybox true" \
  -n "skiff as root: deno task run --rm --network none busybox true" "env SKIFF_ROOT=$work/store deno task -q run --rm --network none busybox true" \
  -n "skiff rootless: deno task run --rm --network none busybox true" "$as_user deno task -q run --rm --network none busybox true" \
  -n "podman rootless: run --rm (runc)" "$as_user $podman_run"

echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r), $(deno --version | head -n1)"
deno run --quiet --allow-read "$OLDPWD/bench/table.ts" "$work/results.json"
