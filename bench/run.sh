#!/usr/bin/env bash
# Times `run --rm busybox true` end to end through `deno task run`, side by
# side with the floor (bench/floor.sh), runc on an OCI bundle of the same
# rootfs, podman (runc, no network: skiff's containers have only loopback),
# and one bare Deno start-up for scale. Needs root and `.ci/setup --bench`.
#
#   sudo deno task bench [RUNS]      (default 30 runs each)
#
# With SKIFF_BENCH_BASELINE=DIR (a checkout of another skiff commit), that
# skiff runs too, in a store of its own, so old and new sit in one table.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
[ "$(id -u)" = 0 ] || { echo "bench: run as root (sudo deno task bench)" >&2; exit 1; }
for tool in hyperfine runc podman; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing: sudo bash .ci/setup --bench" >&2; exit 1; }
done

work=$(mktemp -d /tmp/skiff-bench.XXXXXX)
cleanup() {
  podman rmi -f skiff-bench/busybox >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
store=$work/store

# The same rootfs for every contender: skiff's busybox image layer.
SKIFF_ROOT=$store deno task -q run --rm --network none busybox true
rootfs=$(ls -d "$store"/layers/*)

mkdir -p "$work/bundle"
cp -a "$rootfs" "$work/bundle/rootfs"
(cd "$work/bundle" && runc spec)
sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"$/"\/bin\/true"/' "$work/bundle/config.json"

tar -C "$rootfs" -cf "$work/rootfs.tar" .
podman import -q "$work/rootfs.tar" skiff-bench/busybox >/dev/null
podman_run="podman run --rm --runtime /usr/sbin/runc --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 skiff-bench/busybox /bin/true"
echo > "$work/empty.ts"

baseline=()
if [ -n "${SKIFF_BENCH_BASELINE:-}" ]; then
  base=$(cd "$SKIFF_BENCH_BASELINE" && pwd)
  label="skiff $(git -C "$base" rev-parse --short HEAD 2>/dev/null || echo baseline): deno task run --rm busybox true"
  (cd "$base" && SKIFF_ROOT=$work/base-store deno task -q run --rm busybox true)
  baseline=(-n "$label" "sh -c 'cd $base && SKIFF_ROOT=$work/base-store exec deno task -q run --rm busybox true'")
fi

sh lib/container/install.sh "$work/bin" >/dev/null

hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/results.json" \
  -n "floor (overlay + unshare + chroot, sh)" "sh bench/floor.sh $rootfs" \
  -n "skiff: installed launcher, skiff run --rm --network none busybox true" "env SKIFF_ROOT=$store $work/bin/skiff run --rm --network none busybox true" \
  -n "skiff: deno task run --rm --network none busybox true" "env SKIFF_ROOT=$store deno task -q run --rm --network none busybox true" \
  -n "skiff: deno run cli.ts run --rm --network none busybox true" "env SKIFF_ROOT=$store deno run -A --quiet cli.ts run --rm --network none busybox true" \
  "${baseline[@]}" \
  -n "runc run (OCI bundle)" "runc run --bundle $work/bundle skiff-bench" \
  -n "podman run --rm (runc)" "$podman_run" \
  -n "deno run of an empty file" "deno run --quiet $work/empty.ts"

echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r), $(deno --version | head -n1)"
deno run --quiet --allow-read bench/table.ts "$work/results.json"

# Where one run's time goes: each process of the chain marks its phases
# (lib/host/phases.ts) into one file, timed from just before the launcher.
echo
echo "Phases of one run (skiff run --rm --network none busybox true, ms since the launcher was started):"
for _ in 1 2 3; do
  rm -f "$work/phases"
  t0=$(date +%s.%N)
  SKIFF_ROOT=$store SKIFF_PHASES=$work/phases "$work/bin/skiff" run --rm --network none busybox true </dev/null
  t1=$(date +%s.%N)
done
awk -v t0="$t0" -v t1="$t1" '
  { printf "  %7.1f  %s\n", ($1 - t0) * 1000, substr($0, index($0, $2)) }
  END { printf "  %7.1f  the launcher exited\n", (t1 - t0) * 1000 }' "$work/phases"
