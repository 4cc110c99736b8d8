#!/usr/bin/env bash
# Image benchmarks, side by side with GNU tar, for images of SIZES MB
# (default 100 and 1000) of incompressible files plus busybox:
#
# - commit of a container that changed one file, next to tarring the
#   image's whole tree (what a commit that ignored layers would cost);
# - import of the image's tar, next to plain GNU tar extraction of it.
#
#   sudo deno task bench:images [SIZE_MB...]      (needs .ci/setup --bench)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing: sudo bash .ci/setup --bench" >&2; exit 1; }
if [ $# -gt 0 ]; then sizes=("$@"); else sizes=(100 1000); fi

work=$(mktemp -d /var/tmp/skiff-bench-images.XXXXXX)
trap 'rm -rf "$work"' EXIT
skiff() { SKIFF_ROOT=$work/store deno task -q skiff "$@"; }

for mb in "${sizes[@]}"; do
  root=$work/root-$mb
  mkdir -p "$root/data" "$root/bin"
  cp /bin/busybox "$root/bin/" && ln -s busybox "$root/bin/sh"
  for i in $(seq 1 "$mb"); do head -c 1000000 /dev/urandom > "$root/data/f$i"; done
  tar -cf "$work/image-$mb.tar" -C "$root" .
  skiff import "$work/image-$mb.tar" "big$mb" >/dev/null
  skiff run --network none --name "c$mb" "big$mb" sh -c 'echo changed > /changed' >/dev/null
  diff=$(skiff inspect "big$mb" | deno eval 'console.log(JSON.parse(await new Response(Deno.stdin.readable).text())[0].rootfs.diff_ids[0].slice(7))')
  layer=$work/store/layers/$diff
  echo "== image of $(du -sm "$root" | cut -f1) MB"
  hyperfine -N --warmup 1 --runs 10 --export-json "$work/commit-$mb.json" \
    -n "skiff commit (one file changed)" "env SKIFF_ROOT=$work/store deno task -q skiff commit c$mb big$mb:c" \
    -n "GNU tar of the image's whole tree" "tar -cf $work/full.tar -C $layer ." >/dev/null
  deno run --quiet --allow-read bench/table.ts "$work/commit-$mb.json"
  # Each import is a first one, into an empty store (the layer is new), as
  # each extraction is into an empty directory; emptying them is untimed.
  hyperfine -N --warmup 1 --runs 5 --export-json "$work/import-$mb.json" \
    --prepare "sh -c 'rm -rf $work/x $work/istore && mkdir $work/x'" \
    -n "GNU tar -x of the image tar" "tar -xf $work/image-$mb.tar -C $work/x" \
    -n "skiff import of the image tar" "env SKIFF_ROOT=$work/istore deno task -q skiff import $work/image-$mb.tar imported$mb" >/dev/null
  deno run --quiet --allow-read bench/table.ts "$work/import-$mb.json"
  rm -rf "$root" "$work/x" "$work/istore" "$work/full.tar"
done
echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r), $(deno --version | head -n1)"
