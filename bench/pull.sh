#!/usr/bin/env bash
# Pull benchmark: a 3-layer image of about 100 MB (incompressible files,
# gzip layers) from Debian's docker-registry on 127.0.0.1, into an empty
# store each time, side by side with `podman pull` (into an empty
# storage) and `skopeo copy docker://… oci:DIR` (which unpacks nothing);
# then a second skiff pull, every layer already present.
#
#   sudo bash bench/pull.sh [TOTAL_MB]      (needs .ci/setup --bench)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }
for tool in hyperfine docker-registry umoci skopeo podman; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing: sudo bash .ci/setup --bench" >&2; exit 1; }
done
mb=${1:-100}

work=$(mktemp -d /var/tmp/skiff-bench-pull.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YML
version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: $work/registry } }
http: { addr: 127.0.0.1:$port }
YML
docker-registry serve "$work/registry.yml" 2>/dev/null &
registry=$!
# podman's overlay driver mounts its own overlay/ dir, and a reset does not
# always undo it: unmount what is left under $work before removing it.
unmount_podman() { umount -R -l "$work/podman/overlay" 2>/dev/null || true; }
trap 'kill $registry; wait $registry 2>/dev/null || true; unmount_podman; rm -rf "$work"' EXIT
until curl -sf "http://127.0.0.1:$port/v2/" >/dev/null; do sleep 0.1; done

# three layers of a third each, busybox in the first
cd "$work"
umoci init --layout layout >/dev/null
umoci new --image layout:t >/dev/null
for i in 1 2 3; do
  umoci unpack --image layout:t b >/dev/null
  mkdir -p b/rootfs/bin "b/rootfs/data$i"
  [ "$i" = 1 ] && cp /bin/busybox b/rootfs/bin/ && ln -s busybox b/rootfs/bin/sh
  for f in $(seq 1 $((mb / 3))); do head -c 1000000 /dev/urandom > "b/rootfs/data$i/f$f"; done
  umoci repack --image layout:t b >/dev/null
  rm -rf b
done
image=127.0.0.1:$port/bench/big:1
skopeo copy -q --dest-tls-verify=false oci:layout:t "docker://$image"
cd - >/dev/null
echo "== pull of a 3-layer image of $(du -sm "$work/layout" | cut -f1) MB (gzip) from 127.0.0.1"

conf=$work/registries.conf
echo 'unqualified-search-registries = []' > "$conf"
echo "{}" > "$work/auth.json"
export CONTAINERS_REGISTRIES_CONF=$conf REGISTRY_AUTH_FILE=$work/auth.json
hyperfine -N --warmup 1 --runs 5 --export-json "$work/pull.json" \
  --prepare "sh -c 'umount -R -l $work/podman/overlay 2>/dev/null; rm -rf $work/store $work/podman $work/podman-run $work/oci'" \
  -n "skiff pull" "env SKIFF_ROOT=$work/store deno task -q skiff pull -q $image" \
  -n "podman pull" "podman --root $work/podman --runroot $work/podman-run --storage-driver overlay pull -q --tls-verify=false $image" \
  -n "skopeo copy to oci:DIR (no unpack)" "skopeo copy -q --src-tls-verify=false docker://$image oci:$work/oci:t" >/dev/null
deno run --quiet --allow-read bench/table.ts "$work/pull.json"

hyperfine -N --warmup 1 --runs 10 --export-json "$work/again.json" \
  -n "skiff pull, every layer present" "env SKIFF_ROOT=$work/store deno task -q skiff pull -q $image" >/dev/null
deno run --quiet --allow-read bench/table.ts "$work/again.json"
podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver overlay system reset -f >/dev/null 2>&1 || true
echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r), $(deno --version | head -n1)"
