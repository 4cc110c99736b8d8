#!/usr/bin/env bash
# Host memory per detached container, beyond the container's own
# processes: its supervisor (busybox sh), the two log stampers and the
# keeper (timeout), measured with 20 detached `sleep` containers. RSS counts
# shared pages (the static busybox) in every process; PSS shares them out.
#
#   sudo deno task bench:detached [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }
count=${1:-20}
store=$(mktemp -d /tmp/skiff-bench-detached.XXXXXX)
skiff() { SKIFF_ROOT=$store deno task -q skiff "$@"; }
cleanup() {
  ids=$(skiff ps -q)
  [ -z "$ids" ] || skiff stop -t 0 $ids >/dev/null
  rm -rf "$store"
}
trap cleanup EXIT

for i in $(seq 1 "$count"); do skiff run -d --network none busybox sleep 600 >/dev/null; done
sleep 1

kb() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/smaps_rollup"; }
total_rss=0 total_pss=0
for dir in "$store"/containers/*/; do
  supervisor=$(deno eval "console.log(JSON.parse(Deno.readTextFileSync('$dir/config.json')).owner.pid)")
  keeper=$(cat "$dir/keeper")
  # the supervisor, its stampers (its children but the keeper) and the keeper
  pids="$supervisor $keeper $(cat /proc/$supervisor/task/$supervisor/children | tr ' ' '\n' | grep -vx "$keeper" | tr '\n' ' ')"
  for p in $pids; do
    total_rss=$((total_rss + $(kb "$p" Rss)))
    total_pss=$((total_pss + $(kb "$p" Pss)))
  done
done
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
echo "| detached containers | processes each | RSS per container | PSS per container |"
echo "|---:|---|---:|---:|"
printf '| %d | supervisor sh, 2 stampers, keeper | %d kB | %d kB |\n' "$count" $((total_rss / count)) $((total_pss / count))
