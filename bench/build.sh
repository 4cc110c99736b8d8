#!/usr/bin/env bash
# `skiff build` side by side with `podman build --layers` (buildah; overlay
# storage under a temporary root, runc, --network none) on the same
# context: the issue's 7-step Dockerfile (base, two COPY, three RUN, CMD),
# built first with --no-cache (the base image stored, every step run) and
# then fully cached. And what one RUN step costs: a build of the base plus
# three RUN steps against the base alone, next to one `skiff run --rm` of
# the same command through the launcher (what the installed `skiff` runs).
#
#   sudo deno task bench:build [RUNS]      (default 10 runs each; needs .ci/setup --bench)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }
for tool in hyperfine podman; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing: sudo bash .ci/setup --bench" >&2; exit 1; }
done

work=$(mktemp -d /var/tmp/skiff-bench-build.XXXXXX)
podman=(podman --root "$work/proot" --runroot "$work/prun" --storage-driver overlay --runtime /usr/sbin/runc)
cleanup() {
  "${podman[@]}" rmi -a -f >/dev/null 2>&1 || true
  umount -R -l "$work/prun" "$work/proot" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
skiff=(env SKIFF_ROOT="$work/store" sh lib/container/launcher.sh)

# The base: skiff's busybox image, its rootfs imported into both.
"${skiff[@]}" run --rm --network none busybox true
tar -C "$(ls -d "$work"/store/layers/* | head -1)" -cf "$work/rootfs.tar" .
"${skiff[@]}" import "$work/rootfs.tar" benchbase >/dev/null
"${podman[@]}" import -q "$work/rootfs.tar" localhost/benchbase >/dev/null

mkdir -p "$work/ctx/dir/sub"
head -c 1000000 /dev/urandom > "$work/ctx/big"
for i in $(seq 1 50); do echo "$i" > "$work/ctx/dir/f$i"; echo "$i" > "$work/ctx/dir/sub/g$i"; done
cat > "$work/ctx/Dockerfile" <<'DOCKERFILE'
FROM localhost/benchbase
COPY big /big
COPY dir /dir
RUN echo one > /one
RUN cat /dir/f1 /dir/sub/g2 > /two
RUN ls /dir > /three
CMD ["cat", "/one"]
DOCKERFILE
printf 'FROM localhost/benchbase\nRUN true\nRUN true\nRUN true\n' > "$work/ctx/Dockerfile.run3"
printf 'FROM localhost/benchbase\nENV X=1\n' > "$work/ctx/Dockerfile.run0"

sb="env SKIFF_ROOT=$work/store sh lib/container/launcher.sh build -q --network none"
pb="${podman[*]} build -q --network none --layers"
hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/first.json" \
  -n "skiff build (first: --no-cache)" "$sb --no-cache $work/ctx" \
  -n "podman build --layers (first: --no-cache)" "$pb --no-cache $work/ctx" >/dev/null
deno run --quiet --allow-read bench/table.ts "$work/first.json"
hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/cached.json" \
  -n "skiff build (cached)" "$sb $work/ctx" \
  -n "podman build --layers (cached)" "$pb $work/ctx" >/dev/null
deno run --quiet --allow-read bench/table.ts "$work/cached.json"
hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/run.json" \
  -n "skiff build: base + 3 RUN true" "$sb --no-cache -f $work/ctx/Dockerfile.run3 $work/ctx" \
  -n "skiff build: base alone" "$sb --no-cache -f $work/ctx/Dockerfile.run0 $work/ctx" \
  -n "skiff run --rm --network none benchbase true (launcher)" "env SKIFF_ROOT=$work/store sh lib/container/launcher.sh run --rm --network none benchbase true" >/dev/null
deno run --quiet --allow-read bench/table.ts "$work/run.json"
echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r), $(deno --version | head -n1), $(podman --version)"
