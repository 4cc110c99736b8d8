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
  /** The init spec's file (JSON). */
  initSpec: string;
}

/**
 * argv for starting a container's init. One process, the container's
 * keeper, becomes in turn:
 *
 * - `setpriv --pdeathsig SIGKILL`: the keeper dies with the skiff that
 *   started it, even under SIGKILL;
 * - `unshare ... --propagation private`: the new namespaces; with `--pid`
 *   and no `--fork`, the keeper's first child is PID 1 of the new one.
 *   Nothing mounted inside reaches the host;
 * - `timeout --foreground 0`: forks that child and waits for it, reporting
 *   a death by signal faithfully (no time limit: 0). `unshare --fork` would
 *   do both, but util-linux 2.38 turns a child's SIGKILL into "sigprocmask
 *   unblock failed" and exit 1, and SIGKILL is how containers die of OOM;
 * - the child, via `setpriv --pdeathsig SIGKILL`, dies with the keeper,
 *   taking its pid namespace, and so every mount, down with it.
 */
export function containerArgv(spec: SpawnSpec): string[] {
  return [
    "setpriv",
    "--pdeathsig",
    "SIGKILL",
    "--",
    "unshare",
    ...NAMESPACES,
    "--propagation",
    "private",
    "--",
    "timeout",
    "--foreground",
    "0",
    "setpriv",
    "--pdeathsig",
    "SIGKILL",
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
    "--allow-env=SKIFF_KEEPER_PARENT,SKIFF_TEST_HOLD_INIT",
    spec.initModule,
    spec.initSpec,
  ];
}

/**
 * The absolute path of a command along PATH, as execvp would find it, or
 * the name itself when none is found (the spawn then fails with NotFound).
 * Needed where a shell would prefer a builtin of the same name: busybox's
 * sh runs its own `setpriv` applet before PATH's.
 */
export function findCommand(name: string, path = Deno.env.get("PATH") ?? "/usr/bin:/bin"): string {
  for (const dir of path.split(":")) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch {
      // not in this directory
    }
  }
  return name;
}
