/**
 * Where the time of a `run` goes, for bench/run.sh: with $SKIFF_PHASES
 * naming a file, each phase appends `SECONDS.MICROS NAME` (wall clock, as
 * busybox's $EPOCHREALTIME in the supervisor), so one file interleaves
 * every process of the chain. Otherwise a no-op. The file is opened at the
 * first mark and written through that descriptor, so marks after the
 * pivot still reach the host's file.
 *
 * @module
 */

const path = Deno.env.get("SKIFF_PHASES");
const encoder = new TextEncoder();
let file: Deno.FsFile | undefined;

function append(seconds: number, name: string): void {
  if (!path) return;
  file ??= Deno.openSync(path, { append: true, create: true });
  file.writeSync(encoder.encode(`${seconds.toFixed(6)} ${name}\n`));
}

/** Marks the end of a phase named `name`. */
export function phase(name: string): void {
  append((performance.timeOrigin + performance.now()) / 1000, name);
}

/** Marks when this process started (Deno's time origin). */
export function started(name: string): void {
  append(performance.timeOrigin / 1000, name);
}
