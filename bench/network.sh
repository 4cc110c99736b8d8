#!/usr/bin/env bash
# Networking's cost, side by side, all inside a network namespace that
# plays the host (the real host's links and firewall are never touched):
#  - throughput host -> container over skiff's bridge and over podman's
#    (its default backend here: CNI, as root), with a bare veth pair
#    between two namespaces as the floor (iperf3, SECONDS each);
#  - what the bridge adds to `run --rm busybox true` (against --network none).
# (nsenter --net, not ip netns exec, which remounts /sys and hides the cgroups.)
# The iperf3 server runs in the container's network namespace from the host
# (nsenter): the busybox image has no iperf3, and the path measured is the
# network's, not the binary's.
#
# Usage: sudo bash bench/network.sh [RUNS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }
for tool in iperf3 hyperfine podman nft; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (bash .ci/setup --bench)" >&2; exit 1; }
done
runs=${1:-20}
secs=${2:-5}
work=$(mktemp -d /tmp/skiff-bench-net.XXXXXX)
h=skb-host-$$ a=skb-a-$$ b=skb-b-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  nsenter --net="/run/netns/$h" -- sh -c "SKIFF_ROOT=$work/store deno task -q skiff rm -f \$(SKIFF_ROOT=$work/store deno task -q skiff ps -aq)" >/dev/null 2>&1 || true
  nsenter --net="/run/netns/$h" -- podman --root "$work/podman" --runroot "$work/podman-run" rm -f -t 0 skb >/dev/null 2>&1 || true
  for ns in "$h" "$a" "$b"; do ip netns del "$ns" 2>/dev/null || true; done
  umount -R -l "$work/podman" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# the host, with an uplink (podman's CNI wants a default route)
ip netns add "$h"
ip -n "$h" link set lo up
ip -n "$h" link add up0 type veth peer name up1
ip -n "$h" addr add 10.250.0.2/24 dev up0
ip -n "$h" link set up0 up
ip -n "$h" link set up1 up
ip -n "$h" route add default via 10.250.0.1

# the floor: a bare veth between two namespaces
ip netns add "$a"
ip netns add "$b"
ip link add va netns "$a" type veth peer name vb netns "$b"
ip -n "$a" addr add 10.251.0.1/24 dev va
ip -n "$b" addr add 10.251.0.2/24 dev vb
for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
ip -n "$a" link set va up
ip -n "$b" link set vb up

throughput() { # NETNS-PATH-OF-SERVER SERVER-IP CLIENT-NETNS
  nsenter --net="$1" iperf3 -s -1 -B "$2" >/dev/null 2>&1 &
  local server=$!
  for _ in $(seq 100); do nsenter --net="$1" sh -c "ss -ltn | grep -q ':5201 '" && break; sleep 0.05; done
  ip netns exec "$3" iperf3 -c "$2" -t "$secs" -J | python3 -c 'import json,sys; print("%.1f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
  wait "$server" || true
}

inhost() { nsenter --net="/run/netns/$h" -- "$@"; }
skiff() { inhost env SKIFF_ROOT="$work/store" deno task -q skiff "$@"; }

skiff run --rm --network none busybox true
id=$(skiff run -d busybox sleep 600)
pid1=$(inhost env SKIFF_ROOT="$work/store" deno task -q skiff inspect "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["pid"])')
pid1=$(cat "/proc/$pid1/task/$pid1/children" | cut -d' ' -f1)
ctr_ip=$(skiff inspect "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["NetworkSettings"]["IPAddress"])')

podman_args=(--root "$work/podman" --runroot "$work/podman-run" --storage-driver overlay)
tar -C "$(ls -d "$work"/store/layers/* | head -n1)" -c . | inhost podman "${podman_args[@]}" import -q - skb/busybox >/dev/null
inhost podman "${podman_args[@]}" run -d --name skb --runtime /usr/sbin/runc --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 skb/busybox sleep 600 >/dev/null
ppid1=$(inhost podman "${podman_args[@]}" inspect -f '{{.State.Pid}}' skb)
pod_ip=$(inhost podman "${podman_args[@]}" inspect -f '{{.NetworkSettings.IPAddress}}' skb)

echo "Throughput, ${secs} s each, Gbit/s (iperf3, one TCP stream, host -> container):"
echo "  bare veth between two namespaces (floor): $(throughput "/run/netns/$b" 10.251.0.2 "$a")"
echo "  skiff bridge (skiff0, nftables):          $(throughput "/proc/$pid1/ns/net" "$ctr_ip" "$h")"
echo "  podman bridge (CNI, iptables):            $(throughput "/proc/$ppid1/ns/net" "$pod_ip" "$h")"
skiff rm -f "$id" >/dev/null

echo
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/run.json" \
  -n "skiff run --rm --network none busybox true" "nsenter --net=/run/netns/$h -- env SKIFF_ROOT=$work/store deno task -q skiff run --rm --network none busybox true" \
  -n "skiff run --rm busybox true (bridge)" "nsenter --net=/run/netns/$h -- env SKIFF_ROOT=$work/store deno task -q skiff run --rm busybox true" \
  -n "skiff run --rm -p 8080:80 busybox true (bridge, a port)" "nsenter --net=/run/netns/$h -- env SKIFF_ROOT=$work/store deno task -q skiff run --rm -p 8080:80 busybox true" \
  >/dev/null
deno run --quiet --allow-read bench/table.ts "$work/run.json"
