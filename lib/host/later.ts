/**
 * A module imported when it is first needed, out of sight of Deno's module
 * graph. Deno reads and analyses every module a literal `import("…")` names
 * before the program starts, though it never runs: measured here, a
 * never-taken `import()` of cli.ts costs an empty script 60 ms of CPU
 * (the 116 modules of skiff's graph), on the path of every `run`. A
 * specifier Deno can't see statically is loaded only when the call runs.
 *
 * Called as `await later<typeof import(SPEC)>(SPEC, import.meta.url)`, with
 * the same relative SPEC twice: the type argument is erased, `deno check`
 * still follows it, and the layering test counts it as an import.
 *
 * @module
 */

/** Imports `specifier`, resolved against `base` (the caller's `import.meta.url`). */
export function later<M>(specifier: string, base: string): Promise<M> {
  return import(new URL(specifier, base).href);
}
