/**
 * The supervisor of a detached container (`run -d`): a shell script run by
 * the host's static busybox, not a Deno process (about 40 MB each): a
 * shell and its two line-stampers take a few MB, most of it shared.
 *
 * It starts the container's keeper chain with stdout and stderr through two
 * FIFOs, each read by a loop that writes `SECONDS.MICROS STREAM LINE` to
 * the container's log (busybox's $EPOCHREALTIME: no fork per line), and
 * writes the keeper's pid to `keeper`. When the keeper exits it writes
 * `CODE TIME OOMKILLS` to `exit` (tmp, then rename), removes
 * the container's cgroup directories, and for `--rm` removes the container
 * under the store lock. The record, whose owner is the supervisor, is
 * brought up to date from `exit` by the next command that reads it.
 *
 * @module
 */

import { BUSYBOX } from "../host/tools.ts";

/**
 * The script. Arguments: DIR (the container's), RUN (its runtime state),
 * LOCK (the store's lock file), TRASH (the prefix of where --rm moves DIR,
 * completed with the shell's pid and start time, as Store.tempPrefix), RM (1 for
 * --rm), CGROUPS (the container's cgroup directories, space separated),
 * then the keeper argv.
 */
export const SUPERVISE = `
dir=$1 run=$2 lock=$3 trash=$4 rm=$5 cgroups=$6
shift 6
stamp() {
  while IFS= read -r line || [ -n "$line" ]; do
    printf '%s %s %s\\n' "$EPOCHREALTIME" "$1" "$line"
  done
}
rm -f "$run/stdout.fifo" "$run/stderr.fifo"
mkfifo "$run/stdout.fifo" "$run/stderr.fifo"
stamp stdout < "$run/stdout.fifo" >> "$dir/log" &
stamp stderr < "$run/stderr.fifo" >> "$dir/log" &
# init checks that its keeper's parent is still this shell (lib/init.ts)
SKIFF_KEEPER_PARENT=$$ "$@" < /dev/null > "$run/stdout.fifo" 2> "$run/stderr.fifo" &
keeper=$!
echo "$keeper" > "$run/keeper.tmp" && mv "$run/keeper.tmp" "$run/keeper"
wait "$keeper"
code=$?
wait
rm -f "$run/stdout.fifo" "$run/stderr.fifo"
oom=0
for cg in $cgroups; do
  for f in "$cg/memory.oom_control" "$cg/memory.events"; do
    [ -f "$f" ] && oom=$(awk '$1 == "oom_kill" { print $2 }' "$f")
  done
done
echo "$code $EPOCHREALTIME \${oom:-0}" > "$dir/exit.tmp" && mv "$dir/exit.tmp" "$dir/exit"
for cg in $cgroups; do rmdir "$cg" 2>/dev/null; done
if [ "$rm" = 1 ]; then
  # named after this shell (pid, start time) so no sweep deletes it under us
  stat=$(cat /proc/$$/stat); set -- \${stat##*) }; shift 19
  trash="$trash-$$-$1-\${dir##*/}"
  flock "$lock" mv "$dir" "$trash" && rm -rf "$trash" "$run"
fi
`;

/** argv that runs the supervisor (see {@link SUPERVISE} for the arguments). */
export function supervisorArgv(
  spec: { dir: string; runtime: string; lock: string; trash: string; autoRemove: boolean; cgroups: string[] },
  keeper: string[],
): string[] {
  return [
    BUSYBOX,
    "sh",
    "-c",
    SUPERVISE,
    "supervise",
    spec.dir,
    spec.runtime,
    spec.lock,
    spec.trash,
    spec.autoRemove ? "1" : "0",
    spec.cgroups.join(" "),
    ...keeper,
  ];
}

/** One line of a container's log. */
export interface LogLine {
  /** Seconds since the epoch, with microseconds. */
  time: number;
  /** Which of the container's outputs it came from. */
  stream: "stdout" | "stderr";
  /** The line, without its newline. */
  text: string;
}

/** Parses the log's lines; a line cut short by a crash is skipped. */
export function parseLog(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of text.split("\n")) {
    const match = /^(\d+\.\d+) (stdout|stderr) (.*)$/.exec(line);
    if (match) lines.push({ time: Number(match[1]), stream: match[2] as LogLine["stream"], text: match[3] });
  }
  return lines;
}

/** RFC 3339 with microseconds, UTC: "2026-11-28T01:02:03.456789Z". */
export function logTime(seconds: number): string {
  const whole = Math.floor(seconds);
  const micros = Math.round((seconds - whole) * 1e6).toString().padStart(6, "0");
  return new Date(whole * 1000).toISOString().replace(/\.\d{3}Z$/, `.${micros}Z`);
}
