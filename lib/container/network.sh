# network.sh join|leave STORE ID: a container's names on its user networks,
# in every member's /etc/hosts, and its published ports' rules. Run under
# the store lock: by lib/container/network.ts for `join` (at start) and
# `leave` (rm, reconcile), and by the supervisor (supervise.sh) for `leave`
# when the container exits. POSIX sh: busybox's or the host's.
#
# STORE/networks/NET.members/ID holds "IP NAME ALIAS… SHORTID" for each
# container on NET; a container's /etc/hosts is the bind of
# STORE/containers/ID/hosts: its hosts.base, then every member line of
# every network it is on. Written with ">", which keeps the file (the
# bind holds its inode).
set -u
PATH=$PATH:/usr/sbin:/sbin
cmd=$1 store=$2 id=$3

rehost() {
  c=$store/containers/$1
  [ -f "$c/hosts.base" ] || return 0
  {
    cat "$c/hosts.base"
    for m in "$store"/networks/*.members/"$1"; do
      [ -f "$m" ] && cat "${m%/*}"/*
    done
  } > "$c/hosts"
}

rehost_members() {
  for m in "$1"/*; do
    [ -f "$m" ] && rehost "${m##*/}"
  done
}

case $cmd in
  join)
    rehost "$id"
    for m in "$store"/networks/*.members/"$id"; do
      [ -f "$m" ] && rehost_members "${m%/*}"
    done
    ;;
  leave)
    for m in "$store"/networks/*.members/"$id"; do
      [ -f "$m" ] || continue
      rm -f "$m"
      rehost_members "${m%/*}"
    done
    del=$store/containers/$id/ports.del.nft
    if [ -f "$del" ]; then
      nft -f "$del" && rm -f "$del"
    fi
    ;;
  *)
    echo "network.sh: unknown command \"$cmd\"" >&2
    exit 2
    ;;
esac
exit 0
