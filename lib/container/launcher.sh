# skiff's launcher: the `skiff` command (deno task install puts it on the
# PATH; the deno tasks run it). See docs/process-model.md.
#
# Every verb but `run` and `start` (of one container) goes straight to the
# CLI. `run` starts the CLI
# already inside the container's new mount, uts, ipc and pid namespaces,
# made by util-linux before Deno starts (a pid namespace can't be made from
# a running Deno, DESIGN.md), so one Deno start-up is on its path: the CLI,
# as PID 1, does the host-side work (image, record, cgroups, mounts), makes
# the network namespace, pivots and execve()s the command, which keeps PID 1.
#
#   launcher (this shell, in the caller's foreground)
#     └ supervisor (busybox sh, a session of its own)
#         ├ keeper: setpriv --pdeathsig → busybox unshare → env → busybox sh
#         │   └ deno cli.ts run … (PID 1, arms its own pdeathsig) → execve CMD
#         └ relays: cat (foreground) or line stampers (-d, into the log)
#
# The CLI tells the supervisor what it made on a pipe (the supervisor's
# fd 3; the CLI writes to fd 4), a letter and a value per line:
#   P PID STARTTIME   the CLI's own host pid, first: the supervisor waits
#       for it to be gone before it cleans up
#   C DIR   R RUNTIME   L LOCK   T TRASH   M 1|0   N 1|0   G CGROUP…
#       the container exists: its directory and runtime dir, the store's
#       lock and trash prefix, whether to remove it when it exits (--rm)
#       and whether to remove it if it never starts (a new one), and each
#       of its cgroup directories
#   K SCRIPT       it holds something on the host's network: run
#       `sh SCRIPT leave STORE ID` under the lock when it ends
#       (lib/container/network.sh)
#   Y POLICY MAX   its restart policy (`on-failure 3`, `always 0`): a
#       detached one is started again when it exits (supervise.sh)
#   O fg|fgi|log   its output goes through FIFOs in RUNTIME: relayed to
#       ours (fgi: and our stdin to its stdin), or stamped into DIR/log (-d)
#   B              the CLI can't start this one from inside (-t): the
#       launcher runs the CLI outside instead, once the supervisor is done
#   X              the command is about to be executed
# EOF before X: the CLI failed (it said why on stderr) or was killed.
#
# `start` takes the same way, the CLI claiming the container (N 0: it is
# kept, exited, if the start fails).
#
# The supervisor waits for the keeper, records "CODE TIME OOMKILLS" in
# DIR/exit, removes the cgroups and, for --rm (or a new container that never
# started), the container under the store lock. A detached run's launcher
# exits once X came (SIGUSR1 from the supervisor); a foreground one waits
# for the supervisor and exits with its code, passing on INT, TERM, HUP and
# QUIT to the supervisor's process group (its keeper passes them to the
# command; the supervisor and its relays ignore them).
#
# Rootless, the supervisor is root of a user namespace of its own (below).
# What the launcher can't take on (-t, rootless on a machine that lacks
# what that needs) goes to the CLI, which starts the container from outside.

skiff_home=${SKIFF_HOME:-${0%/*}/../..}
skiff_deno=${SKIFF_DENO:-deno}
skiff_cli() {
  exec "$skiff_deno" run --quiet --allow-all --config "$skiff_home/deno.json" "$skiff_home/cli.ts" "$@"
}

# The verb, after the global options, and how many arguments come before it.
skiff_verb=
skiff_skip=
skiff_before=0
for skiff_arg do
  if [ -n "$skiff_skip" ]; then skiff_skip=; skiff_before=$((skiff_before + 1)); continue; fi
  case $skiff_arg in
    --root | --runroot) skiff_skip=1 ;;
    --root=* | --runroot=*) ;;
    *) skiff_verb=$skiff_arg; break ;;
  esac
  skiff_before=$((skiff_before + 1))
done

skiff_uid=
while read -r skiff_key skiff_value _; do
  if [ "$skiff_key" = Uid: ]; then skiff_uid=$skiff_value; break; fi
done < /proc/self/status

# Through the CLI alone: other verbs; a start of more than one container;
# a missing busybox; and, when the CLI in the namespaces asks for it (B), a
# run it can't start from there.
skiff_one_start() { # ARGS after the verb: [-a|--attach] CONTAINER
  case $1 in -a | --attach) shift ;; esac
  [ $# = 1 ] && case $1 in -*) false ;; esac
}
# run's options that take a value, long and short: what the CLI's parser
# (lib/cli/args.ts) would skip, so that run's own options end at the image.
# A test holds this to the run verb's options (tests/launcher_test.ts).
SKIFF_RUN_VALUES="name env workdir hostname volume mount memory memory-swap cpus cpu-shares cpuset-cpus pids-limit pull security-opt cap-add cap-drop tmpfs entrypoint env-file label label-file stop-signal stop-timeout network net ip network-alias publish dns dns-search dns-option add-host cidfile restart user group-add ulimit sysctl oom-score-adj device"
SKIFF_RUN_SHORT_VALUES=ewvmlpu
skiff_tty() { # ARGS after the verb: whether run's own options ask for -t
  while [ $# -gt 0 ]; do
    case $1 in
      --tty) return 0 ;;
      --*=* | --) ;;
      --*) case " $SKIFF_RUN_VALUES " in *" ${1#--} "*) shift ;; esac ;;
      -?*)
        skiff_cluster=${1#-}
        while [ -n "$skiff_cluster" ]; do
          skiff_flag=${skiff_cluster%"${skiff_cluster#?}"}
          skiff_cluster=${skiff_cluster#?}
          [ "$skiff_flag" = t ] && return 0
          case $SKIFF_RUN_SHORT_VALUES in
            *"$skiff_flag"*)
              [ -z "$skiff_cluster" ] && shift
              break
              ;;
          esac
        done
        ;;
      *) return 1 ;; # the image
    esac
    shift
  done
  return 1
}
skiff_inside() {
  case $skiff_verb in
    run)
      # -t: the pty's relay is the CLI's, from outside: straight there
      # (the CLI inside would only say B)
      shift $((skiff_before + 1))
      ! skiff_tty "$@" || return 1
      ;;
    start)
      shift $((skiff_before + 1))
      skiff_one_start "$@" || return 1
      ;;
    *) return 1 ;;
  esac
  [ -x /bin/busybox ]
}
skiff_inside "$@" || skiff_cli "$@"

# skiff_path TOOL: sets skiff_found to TOOL's path on PATH, without a fork
# (every process here is time on the path of run), or fails.
skiff_path() {
  skiff_found=
  skiff_ifs=$IFS
  IFS=:
  for skiff_dir in $PATH; do
    if [ -x "$skiff_dir/$1" ]; then skiff_found=$skiff_dir/$1; break; fi
  done
  IFS=$skiff_ifs
  [ -n "$skiff_found" ]
}

# Rootless: the supervisor starts as root of a user namespace of its own,
# made by util-linux with the user's subordinate ids mapped from 1
# (--map-auto, podman's layout), so everything below runs as it does for
# root. When the machine can't give that as it is (a setting forbids user
# namespaces, a kernel before 5.11, no range in /etc/subuid or /etc/subgid,
# no newuidmap), the CLI starts the run instead and says what is missing
# (lib/host/rootless.ts).
skiff_is() { # FILE VALUE: the sysctl FILE exists and holds VALUE
  [ -r "$1" ] || return 1
  read -r skiff_value < "$1"
  [ "$skiff_value" = "$2" ]
}
skiff_ranged() { # FILE: it gives the user a range
  [ -r "$1" ] || return 1
  while IFS=: read -r skiff_who _ skiff_count _; do
    case $skiff_who in "$skiff_user" | "$skiff_uid") ;; *) continue ;; esac
    case $skiff_count in '' | *[!0-9]*) ;; *) [ "$skiff_count" -gt 0 ] && return 0 ;; esac
  done < "$1"
  return 1
}
skiff_rootless_here() {
  skiff_is /proc/sys/user/max_user_namespaces 0 && return 1
  skiff_is /proc/sys/kernel/unprivileged_userns_clone 0 && return 1
  skiff_is /proc/sys/kernel/apparmor_restrict_unprivileged_userns 1 && return 1
  read -r skiff_release < /proc/sys/kernel/osrelease || return 1
  skiff_major=${skiff_release%%.*}
  skiff_minor=${skiff_release#*.}
  skiff_minor=${skiff_minor%%[!0-9]*}
  [ "$skiff_major" -gt 5 ] || { [ "$skiff_major" = 5 ] && [ "${skiff_minor:-0}" -ge 11 ]; } || return 1
  skiff_user=${USER:-${LOGNAME:-}}
  skiff_ranged /etc/subuid && skiff_ranged /etc/subgid && skiff_path newuidmap && skiff_path newgidmap
}
skiff_userns=
if [ "$skiff_uid" != 0 ]; then
  skiff_rootless_here && skiff_path unshare || skiff_cli "$@"
  skiff_userns="$skiff_found --user --map-root-user --map-auto --"
fi

# A terminal as stdin is passed on without -i, as docker -i would, when
# this is the terminal's foreground job (a background one would be stopped
# by SIGTTIN). Fields 5 and 8 of stat: our process group, the terminal's.
skiff_foreground() { [ "$3" = "$6" ]; }
skiff_stdin=
if [ -t 0 ]; then
  read -r skiff_stat < /proc/$$/stat
  # shellcheck disable=SC2086
  skiff_foreground ${skiff_stat##*) } && skiff_stdin=shared
fi

# The supervisor's shell is busybox's, whose own applets come before PATH:
# util-linux's and coreutils' tools, for what busybox's lack (setpriv
# --pdeathsig, env --default-signal, flock), are named by path; setsid and
# unshare are busybox's (a static binary starts faster).
skiff_tools=
for skiff_tool in setpriv env flock; do
  skiff_path $skiff_tool || skiff_cli "$@"
  skiff_tools="$skiff_tools $skiff_found"
done
# The arguments go to the CLI in the environment, not on command lines
# that every user can read in ps for as long as the container runs: a
# secret in -e stays out of the supervisor's and the keeper's.
skiff_n=0
for skiff_arg do
  export "SKIFF_ARG_$skiff_n=$skiff_arg"
  skiff_n=$((skiff_n + 1))
done
export SKIFF_ARGC=$skiff_n

# The launcher: starts the supervisor with a pipe as its stdin (the channel)
# and the caller's stdin as fd 6, then waits for it.
for skiff_signal in INT TERM HUP QUIT; do
  trap 'kill -s '$skiff_signal' -- -$skiff_supervisor 2>/dev/null' $skiff_signal
done
trap 'exit 0' USR1
skiff_bounce=
trap 'skiff_bounce=1' USR2
exec 6<&0
: | SKIFF_LAUNCHER=$$ SKIFF_HOME=$skiff_home SKIFF_DENO=$skiff_deno SKIFF_STDIN=$skiff_stdin \
  SKIFF_TOOLS=$skiff_tools /bin/busybox setsid $skiff_userns /bin/busybox sh "$skiff_home/lib/container/supervise.sh" &
skiff_supervisor=$!
exec 6<&-
while :; do
  wait $skiff_supervisor
  skiff_code=$?
  # interrupted by a trapped signal: the supervisor is still there
  [ "$skiff_code" -gt 128 ] && kill -0 $skiff_supervisor 2>/dev/null && continue
  break
done
if [ -n "$skiff_bounce" ]; then
  while [ "$skiff_n" -gt 0 ]; do
    skiff_n=$((skiff_n - 1))
    unset "SKIFF_ARG_$skiff_n"
  done
  unset SKIFF_ARGC
  skiff_cli "$@"
fi
exit $skiff_code
