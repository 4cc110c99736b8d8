# The supervisor of a container, run by the host's static busybox sh (it
# needs $EPOCHREALTIME): the parent of its keeper, the relay of its output,
# and who records its end. A shell and a few busybox processes take a few
# MB, most of it shared; a Deno process would take 40.
#
# Started by launcher.sh for `skiff ARGS…` (run, start), the ARGS in $SKIFF_ARGC
# and $SKIFF_ARG_0…, it starts the keeper chain with the CLI in the
# container's namespaces, reads what the CLI made on its stdin (the
# protocol is in launcher.sh), relays or logs its output, and waits. (A
# container started from outside the namespaces, by the CLI on the host,
# has the older supervisor of lib/container/supervise.ts.)
#
# When the keeper exits it writes "CODE TIME OOMKILLS" to DIR/exit (tmp,
# then rename), removes the container's cgroups and, for --rm (or a new
# container that never reached its command), the container itself under the
# store lock (renamed to TRASH-PID-START-ID first: a sweep never deletes a
# live process's entry). The record, whose owner is this shell, is brought
# up to date from DIR/exit by the next command that reads it.
#
# A detached container with a restart policy (Y) is then started again, as
# `skiff start ID` is, by a CLI the supervisor runs in a new keeper chain
# (SKIFF_RESTART=1: the claim by its own owner, counted in RestartCount),
# after docker's growing delay, until the policy says no or `stop` leaves
# DIR/norestart (and wakes a delay with USR1).

stamp() {
  while IFS= read -r line || [ -n "$line" ]; do
    printf '%s %s %s\n' "$EPOCHREALTIME" "$1" "$line"
  done
}

# log STREAM, relay STREAM: a background job's output relay, from
# RUN/STREAM.fifo into the log or to ours. The redirections are exec's, in
# the job itself: busybox keeps copies of what a redirected function call
# replaces, and a copy of the caller's stdout would keep `$(skiff run -d …)`
# waiting.
log() {
  exec < "$run/$1.fifo" >> "$dir/log" 2>&1 3<&- 6<&- 7>&-
  stamp "$1"
}
relay() {
  exec < "$run/$1.fifo" 3<&- 6<&-
  [ "$1" = stderr ] && exec >&2
  exec cat
}

# mark NAME: a phase's end, for bench/run.sh (see lib/host/phases.ts).
mark() {
  [ -z "$SKIFF_PHASES" ] || echo "$EPOCHREALTIME supervisor: $1" >> "$SKIFF_PHASES"
}

# finish CODE: the bookkeeping above; STARTED=1 once the command ran.
finish() {
  oom=0
  # (a container about to be removed needs no record of its end)
  [ "$rm" = 1 ] || for cg in $cgroups; do
    for f in "$cg/memory.oom_control" "$cg/memory.events"; do
      [ -f "$f" ] || continue
      while read -r key value; do
        [ "$key" = oom_kill ] && oom=$value
      done < "$f"
    done
  done
  # (and a start of an existing one that failed: it is left exited, with
  # the failure's code)
  if { [ "$started" = 1 ] || [ "$new" != 1 ]; } && [ "$rm" != 1 ]; then
    echo "$1 $EPOCHREALTIME $oom" > "$dir/exit.tmp" && mv "$dir/exit.tmp" "$dir/exit"
  fi
  # shellcheck disable=SC2086
  [ -z "$cgroups" ] || rmdir $cgroups 2>/dev/null
  # its port rules and its names in its peers' /etc/hosts (network.sh)
  if [ -n "$leave" ]; then
    id=${dir##*/}
    { "$flock" 9 && /bin/busybox sh "$leave" leave "${dir%/containers/*}" "$id"; } 9< "$lock"
  fi
  if [ "$rm" = 1 ] || { [ "$new" = 1 ] && [ "$started" != 1 ]; }; then
    read -r stat < /proc/$$/stat
    # shellcheck disable=SC2086
    set -- ${stat##*) }
    trash="$trash-$$-${20}-${dir##*/}"
    # (util-linux flock on a descriptor, busybox's mv: one exec fewer)
    if [ -d "$dir" ] && { "$flock" 9 && mv "$dir" "$trash"; } 9< "$lock"; then rm -rf "$trash" "$run"; fi
  fi
}

# Started by the launcher: the channel is stdin, the caller's stdin fd 6.
mark "started"
exec 3<&0 0</dev/null 4>/proc/self/fd/3
# Signals to the group (from the launcher) are for the command alone: the
# keeper passes them on; this shell and its relays ignore them (INT and
# QUIT already are, in a shell's background jobs).
trap '' TERM HUP
# The keeper: once the CLI is started it lets go of the caller's
# descriptors and the channel (so neither outlives the start), passes
# signals on to PID 1 and exits with its status (128+N for signal N).
# env restores the signals ignored above, which a shell could not trap.
keep='"$@" & pid1=$!
exec >/dev/null 2>&1 4>&-
for s in INT TERM HUP QUIT; do trap "kill -s $s $pid1" $s; done
while :; do
  wait $pid1
  code=$?
  [ $code -gt 128 ] && kill -0 $pid1 2>/dev/null && continue
  exit $code
done'
# shellcheck disable=SC2086
set -- $SKIFF_TOOLS
setpriv=$1 env=$2 flock=$3
# restart POLICY MAX CODE: whether a detached container that ran is to be
# started again, as docker's restart manager decides, unless `stop` (or
# `rm -f`) left DIR/norestart.
again() {
  [ "$mode" = log ] && [ "$started" = 1 ] && [ -d "$dir" ] && [ ! -e "$dir/norestart" ] || return 1
  case $policy in
    always | unless-stopped) return 0 ;;
    on-failure) [ "$3" != 0 ] && { [ "$max" = 0 ] || [ "$restarts" -lt "$max" ]; } ;;
    *) return 1 ;;
  esac
}
# `stop` during the delay wakes us (USR1), and DIR/norestart says stop.
trap 'kill "$sleeper" 2>/dev/null' USR1
# reap PID: wait for a child and return its status, through a USR1's
# interruption of wait (which returns 128+10 while the child lives).
reap() {
  while :; do
    wait "$1"
    set -- "$1" $?
    [ "$2" -gt 128 ] && kill -0 "$1" 2>/dev/null && continue
    return "$2"
  done
}
restarts=0 restarting= delay=100 sleeper=
while :; do
  # (busybox's unshare: a static binary starts faster than util-linux's)
  SKIFF_SUPERVISOR=$$ SKIFF_RESTART=$restarting "$setpriv" --pdeathsig SIGKILL -- \
    /bin/busybox unshare --mount --uts --ipc --pid --propagation private \
    "$env" --default-signal=INT,QUIT,TERM,HUP /bin/busybox sh -c "$keep" keeper \
    "$SKIFF_DENO" run --quiet --allow-all --config "$SKIFF_HOME/deno.json" "$SKIFF_HOME/cli.ts" \
    3<&- 6<&- &
  keeper=$!
  exec 4>&-
  mark "keeper started"
  dir= run= lock= trash= rm=0 new=0 cgroups= started=0 mode= relays= input= pid1= leave= policy=no max=0
  while :; do
    # (a USR1 from stop cuts a read short: read again)
    read -r kind value <&3
    got=$?
    [ "$got" = 0 ] || { [ "$got" -gt 128 ] && continue; break; }
    case $kind in
      P) pid1=$value ;;
      C) dir=$value ;;
      R) run=$value ;;
      L) lock=$value ;;
      T) trash=$value ;;
      M) rm=$value ;;
      N) new=$value ;;
      G) cgroups="$cgroups $value" ;;
      K) leave=$value ;;
      Y) policy=${value% *} max=${value#* } ;;
      B) kill -USR2 "$SKIFF_LAUNCHER" 2>/dev/null ;;
      O)
        mode=$value
        if [ "$mode" = log ]; then
          # the caller's stderr kept (7) until X, for a start that fails
          exec 7>&2 6<&- >/dev/null 2>&1
          log stdout &
          relays="$relays $!"
          log stderr &
          relays="$relays $!"
        else
          relay stdout &
          relays="$relays $!"
          relay stderr &
          relays="$relays $!"
          if [ "$mode" = fgi ]; then
            (exec 0<&6 6<&- 3<&- > "$run/stdin.fifo" && exec cat) &
            input=$!
          fi
          exec 6<&-
        fi
        ;;
      X)
        started=1
        break
        ;;
    esac
  done
  exec 3<&-
  [ "$started" = 1 ] && exec 7>&-
  mark "the CLI is executing the command"
  if [ "$started" = 1 ] && [ "$mode" = log ]; then
    echo "$keeper" > "$run/keeper.tmp" && mv "$run/keeper.tmp" "$run/keeper"
    # (the launcher waits for the first start only; its pid may be another's since)
    [ "$restarts" -gt 0 ] || kill -USR1 "$SKIFF_LAUNCHER" 2>/dev/null
  fi
  began=${EPOCHREALTIME%.*}
  reap "$keeper"
  code=$?
  if [ "$started" != 1 ] && [ "$code" -gt 128 ]; then
    # the CLI was killed before it could say why
    msg="skiff: Cannot start the container: its init exited before reaching the command"
    if [ "$mode" = log ]; then echo "$msg" >&7; else echo "$msg" >&2; fi
    code=125
  fi
  # A CLI killed with its keeper may still be finishing a syscall (a mkdir
  # in a cgroup hierarchy): wait until it is gone, or a zombie (out of its
  # cgroups), before removing what it made. "PID STARTTIME", so a reused
  # pid is not waited for.
  gone() {
    read -r stat 2>/dev/null < "/proc/$1/stat" || return 0
    # shellcheck disable=SC2086
    set -- "$2" ${stat##*) }
    [ "$2" = Z ] || [ "${21}" != "$1" ]
  }
  # shellcheck disable=SC2086
  [ -z "$pid1" ] || while ! gone $pid1; do sleep 0.01; done
  mark "the container exited"
  # The relays end at the command's EOF; ones it never opened are stopped
  # (with KILL: they ignore the signals the launcher passes on).
  [ -n "$input" ] && kill -KILL "$input" 2>/dev/null
  if [ "$started" = 1 ]; then
    for r in $relays; do reap "$r"; done
  else
    for r in $relays; do kill -KILL "$r" 2>/dev/null; done
  fi
  [ -n "$dir" ] && finish "$code"

  again "$policy" "$max" "$code" || break
  # docker's delay: 100 ms, doubled at each restart up to a minute, and
  # back to 100 ms after a run of 10 s or more
  [ $((${EPOCHREALTIME%.*} - began)) -lt 10 ] || delay=100
  sleep "$((delay / 1000)).$((delay % 1000 / 100))" &
  sleeper=$!
  wait "$sleeper"
  [ -d "$dir" ] && [ ! -e "$dir/norestart" ] || break
  delay=$((delay * 2))
  [ "$delay" -le 60000 ] || delay=60000
  restarts=$((restarts + 1))
  # the claim by its own supervisor (SKIFF_RESTART) counts the restart
  # shellcheck disable=SC2034
  set -- --root "${dir%/containers/*}" --runroot "${run%/containers/*}" start "${dir##*/}"
  SKIFF_ARGC=$# SKIFF_ARG_0=$1 SKIFF_ARG_1=$2 SKIFF_ARG_2=$3 SKIFF_ARG_3=$4 SKIFF_ARG_4=$5 SKIFF_ARG_5=$6
  export SKIFF_ARGC SKIFF_ARG_0 SKIFF_ARG_1 SKIFF_ARG_2 SKIFF_ARG_3 SKIFF_ARG_4 SKIFF_ARG_5
  restarting=1
  # a new channel: a FIFO, read here, written by the next CLI alone
  rm -f "$run/channel"
  mkfifo -m 600 "$run/channel" && exec 4<>"$run/channel" 3<"$run/channel" || break
  rm -f "$run/channel"
done
mark "cleaned up"
exit "$code"
