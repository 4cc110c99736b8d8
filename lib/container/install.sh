# `deno task install [DIR]`: puts a `skiff` command in DIR (default
# /usr/local/bin, or ~/.local/bin for an ordinary user) that runs this
# checkout's launcher (lib/container/launcher.sh) with this Deno. Not a
# `deno install` shim: that would start Deno before the launcher could make
# the container's namespaces, a second start-up on the path of `run`.
set -eu
home=$(cd "$(dirname "$0")/../.." && pwd)
deno=$(command -v deno)
if [ "$(id -u)" = 0 ]; then dir=${1:-/usr/local/bin}; else dir=${1:-$HOME/.local/bin}; fi
mkdir -p "$dir"
tmp=$(mktemp "$dir/.skiff.XXXXXX")
cat > "$tmp" <<SCRIPT
#!/bin/sh
# skiff, from $home (written by deno task install)
SKIFF_HOME='$home'
SKIFF_DENO='$deno'
. "\$SKIFF_HOME/lib/container/launcher.sh"
SCRIPT
chmod 755 "$tmp"
mv "$tmp" "$dir/skiff"
echo "installed $dir/skiff"
