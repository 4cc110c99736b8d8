#!/usr/bin/env bash
# What the seccomp filter costs: `run --rm busybox true` with skiff's
# default filter and with `--security-opt seccomp=unconfined`, side by side
# in one hyperfine run, through the installed launcher (the fastest way
# in). The difference is planning the filter (the profile compiler is
# imported, the profile compiled for the container's capabilities), building
# it in libseccomp before the pivot and loading it before execve. The issue
# allows 5 ms. Needs root and `.ci/setup --bench`.
#
#   sudo deno task bench:seccomp [RUNS]      (default 40 runs each)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-40}
[ "$(id -u)" = 0 ] || { echo "bench: run as root (sudo deno task bench:seccomp)" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing: sudo bash .ci/setup --bench" >&2; exit 1; }

work=$(mktemp -d /tmp/skiff-bench-seccomp.XXXXXX)
trap 'rm -rf "$work"' EXIT
store=$work/store
SKIFF_ROOT=$store deno task -q run --rm busybox true
sh lib/container/install.sh "$work/bin" >/dev/null

# Interleaved, so that other work on the machine weighs on both alike.
hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/results.json" \
  -n "skiff run --rm busybox true (default seccomp filter)" "env SKIFF_ROOT=$store $work/bin/skiff run --rm busybox true" \
  -n "skiff run --rm --security-opt seccomp=unconfined busybox true" "env SKIFF_ROOT=$store $work/bin/skiff run --rm --security-opt seccomp=unconfined busybox true"

echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r), $(deno --version | head -n1), $(date -u +%Y-%m-%d)"
deno run --quiet --allow-read bench/table.ts "$work/results.json"

# Where the filter's time goes, in one run (lib/host/phases.ts).
echo
echo "Phases of one run with the filter (ms since the launcher was started):"
rm -f "$work/phases"
t0=$(date +%s.%N)
SKIFF_ROOT=$store SKIFF_PHASES=$work/phases "$work/bin/skiff" run --rm busybox true </dev/null
awk -v t0="$t0" '{ printf "  %7.1f  %s\n", ($1 - t0) * 1000, substr($0, index($0, $2)) }' "$work/phases"
