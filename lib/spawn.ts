/**
 * The command lines that start a container, as pure functions so they can
 * be checked as data.
 *
 * Namespaces come from util-linux `unshare`, not from unshare(2) through
 * FFI: a Deno process is multi-threaded from the start, and the kernel
 * refuses or half-applies namespace changes to such a process (DESIGN.md).
 *
 * @module
 */

/** The namespaces every container gets. */
export const NAMESPACES = ["--mount", "--uts", "--ipc", "--net", "--pid"];

/** What {@link containerArgv} needs. */
export interface SpawnSpec {
  /** The Deno binary that runs init. */
  deno: string;
  /** Path or URL of lib/init.ts. */
  initModule: string;
  /** The init spec, serialised. */
  initSpec: string;
}

/**
 * argv for starting a container's init:
 *
 * - `setpriv --pdeathsig SIGKILL`: unshare dies with the skiff that
 *   started it, even under SIGKILL;
 * - `unshare ... --fork --kill-child=SIGKILL`: init is PID 1 of the new
 *   pid namespace and dies with unshare, taking the namespace, and so
 *   every mount in it, down with it;
 * - `--propagation private`: nothing mounted inside reaches the host.
 */
export function containerArgv(spec: SpawnSpec): string[] {
  return [
    "setpriv",
    "--pdeathsig",
    "SIGKILL",
    "--",
    "unshare",
    ...NAMESPACES,
    "--fork",
    "--propagation",
    "private",
    "--kill-child=SIGKILL",
    "--",
    spec.deno,
    "run",
    "--quiet",
    "--no-config",
    "--no-lock",
    "--no-prompt",
    "--allow-read",
    "--allow-write",
    "--allow-ffi",
    spec.initModule,
    spec.initSpec,
  ];
}
