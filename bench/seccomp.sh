#!/usr/bin/env bash
# What the seccomp filter costs: `run --rm busybox true` with skiff's
# default filter and with `--security-opt seccomp=unconfined`, side by side,
# through the installed launcher (the fastest way in). hyperfine runs the
# two in alternating rounds, so that other work on a shared machine weighs
# on both alike, and the table merges the rounds. The difference is what
# lib/container/security.ts does for the filter (the store's cached program
# read; on a miss, the profile compiled) and init's seccomp(2) before
# execve. The issue allows 5 ms. Needs root and `.ci/setup --bench`.
#
#   sudo deno task bench:seccomp [ROUNDS] [RUNS]   (default 8 rounds of 10 runs each)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-8}
runs=${2:-10}
[ "$(id -u)" = 0 ] || { echo "bench: run as root (sudo deno task bench:seccomp)" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing: sudo bash .ci/setup --bench" >&2; exit 1; }

work=$(mktemp -d /tmp/skiff-bench-seccomp.XXXXXX)
trap 'rm -rf "$work"' EXIT
store=$work/store
SKIFF_ROOT=$store deno task -q run --rm --network none busybox true
sh lib/container/install.sh "$work/bin" >/dev/null

for round in $(seq 1 "$rounds"); do
  hyperfine -N --warmup 2 --runs "$runs" --style none --export-json "$work/round$round.json" \
    -n "skiff run --rm --network none busybox true (default seccomp filter)" \
    "env SKIFF_ROOT=$store $work/bin/skiff run --rm --network none busybox true" \
    -n "skiff run --rm --network none --security-opt seccomp=unconfined busybox true" \
    "env SKIFF_ROOT=$store $work/bin/skiff run --rm --network none --security-opt seccomp=unconfined busybox true" \
    >/dev/null
done
# All rounds in one export: each command's times together, and their median.
deno eval --quiet '
  const [out, ...files] = Deno.args;
  const rounds = files.map((f) => JSON.parse(Deno.readTextFileSync(f)).results);
  const results = rounds[0].map((r, i) => {
    const times = rounds.flatMap((round) => round[i].times).sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    return { command: r.command, times, min: times[0], max: times.at(-1), median };
  });
  Deno.writeTextFileSync(out, JSON.stringify({ results }));
' "$work/results.json" "$work"/round*.json

echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)," \
  "$(deno --version | head -n1 | cut -d' ' -f1-2), $(date -u +%Y-%m-%d), load average $(cut -d' ' -f1-3 /proc/loadavg)"
deno run --quiet --allow-read bench/table.ts "$work/results.json"

# The filter's and the device cgroup's own work, from the phase marks of each
# run (lib/host/phases.ts), which load on the machine blurs far less than
# whole runs: planning (image resolved -> security planned: the cached
# program read, or the profile compiled), the cgroups (record created ->
# cgroups made: --privileged has no device cgroup; of it, the cgroup v2
# device program: cgroups written -> program attached) and the start (record
# running -> about to execve: mounts, pivot, capabilities, the filter's
# seccomp(2)); medians of alternating runs.
for i in $(seq 1 "$((rounds * 5))"); do
  for opt in default unconfined privileged; do
    rm -f "$work/phases"
    case $opt in
      default) set -- ;;
      unconfined) set -- --security-opt seccomp=unconfined ;;
      privileged) set -- --privileged ;;
    esac
    SKIFF_ROOT=$store SKIFF_PHASES=$work/phases "$work/bin/skiff" run --rm --network none "$@" busybox true </dev/null
    echo "$opt $(tr '\n' '|' <"$work/phases")" >>"$work/spans"
  done
done
echo
deno eval --quiet '
  const spans = { default: [[], [], [], []], unconfined: [[], [], [], []], privileged: [[], [], [], []] };
  for (const line of Deno.readTextFileSync(Deno.args[0]).trim().split("\n")) {
    const [mode, rest] = [line.slice(0, line.indexOf(" ")), line.slice(line.indexOf(" ") + 1)];
    const at = (name) => Number(rest.split("|").find((p) => p.endsWith(name))?.split(" ")[0]) * 1000;
    spans[mode][0].push(at("cli: security planned") - at("cli: image resolved"));
    spans[mode][1].push(at("cli: mounted, pivoted, about to execve") - at("cli: record running"));
    spans[mode][2].push(at("cli: cgroups made") - at("cli: record created"));
    spans[mode][3].push(at("cli: device program attached") - at("cli: cgroups written"));
  }
  const med = (xs) => xs.some(isNaN) ? "-" : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(2);
  const row = (what, i) =>
    console.log(`| ${what} | ${med(spans.default[i])} | ${med(spans.unconfined[i])} | ${med(spans.privileged[i])} |`);
  console.log("| phase (median of " + spans.default[0].length + " runs each) | default ms | seccomp=unconfined ms | --privileged ms |");
  console.log("|:---|---:|---:|---:|");
  row("plan the security settings", 0);
  row("make the cgroups (the device cgroup and program but with --privileged)", 2);
  row("of which the device program (cgroup v2: built, loaded, attached)", 3);
  row("mount, pivot, drop capabilities, install the filter", 1);
' "$work/spans"
