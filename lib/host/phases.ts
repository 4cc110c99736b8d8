/**
 * Where the time of a `run` goes, for bench/run.sh: with $SKIFF_PHASES
 * naming a file, each phase appends `SECONDS.MICROS NAME` (wall clock, as
 * busybox's $EPOCHREALTIME in the launcher and supervisor), so one file
 * interleaves every process of the chain. Otherwise a no-op.
 *
 * @module
 */

const file = Deno.env.get("SKIFF_PHASES");
const encoder = new TextEncoder();

/** Marks the end of a phase named `name`. */
export function phase(name: string): void {
  if (!file) return;
  const now = (performance.timeOrigin + performance.now()) / 1000;
  Deno.writeFileSync(file, encoder.encode(`${now.toFixed(6)} ${name}\n`), { append: true });
}

/** Marks when this process started (Deno's time origin). */
export function started(name: string): void {
  if (!file) return;
  Deno.writeFileSync(file, encoder.encode(`${(performance.timeOrigin / 1000).toFixed(6)} ${name}\n`), {
    append: true,
  });
}
