/**
 * `exec`: runs another command in a running container, in all of its
 * namespaces, its root, its cgroup and with its capabilities, and returns
 * the command's exit code.
 *
 * Namespaces are entered by util-linux `nsenter` (setns is refused to
 * Deno's threads). The hard part is the capability bounding set: the
 * command must get the container's reduced one, but entering a mount
 * namespace needs CAP_SYS_ADMIN, which the reduced set lacks, and once in
 * the container's mount namespace the host's tools are out of reach.
 * So, as one chain of processes:
 *
 * 1. `nsenter --pid --no-fork`: children of what follows are born in the
 *    container's pid namespace (rootless, `--user` first: the user owns
 *    the container's user namespace, and is root in it from here);
 * 2. a host shell ({@link WAITER}) closes what skiff inherited, joins the container's cgroups, opens the
 *    directory of the host's static busybox as fd 3, and runs the rest as
 *    its child, which is therefore in the container's pid namespace. It
 *    stays outside, waiting, catching SIGINT and SIGQUIT (a caught signal
 *    is reset for its children, an ignored one would not be), so Ctrl-C on
 *    a shared terminal reaches the command and does not end the exec;
 * 3. `setpriv --inh-caps +sys_admin,+sys_chroot`, then `setpriv
 *    --bounding-set` down to the container's set: root keeps what is both
 *    bounded and inheritable after execve, so nsenter still has the two
 *    capabilities it needs;
 * 4. `nsenter --mount --uts --ipc --net --root`: into the container;
 * 5. `/proc/self/fd/3/busybox sh` ({@link ENTERED}), the host's static
 *    busybox reached through fd 3: closes fd 3, changes to the working
 *    directory, and `env -i` with the container's environment runs
 *    busybox's `setpriv --inh-caps` dropping the two capabilities, which
 *    execs the command: bounding set, permitted and effective as the
 *    container's PID 1, nothing inheritable, no descriptor of the host.
 *
 * busybox runs its own applets first, so the command is resolved to a path
 * beforehand, inside the container's root.
 *
 * @module
 */

import { close, openPath } from "../../ffi/libc.ts";
import { openInRoot } from "../host/in_root.ts";
import { KEPT_CAPABILITIES } from "../host/capabilities.ts";
import { findContainer, listContainers } from "./containers.ts";
import { InvalidStateError, UsageError } from "../errors.ts";
import { EXIT_CANNOT_EXECUTE, EXIT_SKIFF, InitFailure, resolveCommand } from "./init.ts";
import { pid1Of } from "./lifecycle.ts";
import { checkCommandOptions, mergeEnvironment, StartError } from "./run.ts";
import { exitCodeOf, forwardSignals } from "../host/signals.ts";
import { findCommand } from "../host/spawn.ts";
import type { Store } from "../store/store.ts";
import { BUSYBOX } from "../host/tools.ts";

/** What the user asked `exec` for. */
export interface ExecOptions {
  /** The command and its arguments. */
  command: string[];
  /** `KEY=VALUE` pairs over the container's environment. */
  env?: string[];
  /** The working directory; the container's by default. */
  workdir?: string;
  /** Keep stdin open (`-i`). */
  interactive?: boolean;
  /** Give the command the terminal (`-t`). */
  tty?: boolean;
  /** Run it in the background, output discarded, and return at once (`-d`). */
  detach?: boolean;
}

/** Everything the exec chain needs, resolved. */
export interface ExecPlan {
  /** The container's PID 1, on the host. */
  pid1: number;
  /** Enter the container's user namespace first (rootless: this skiff is its owner, outside it). */
  user: boolean;
  /** cgroup.procs files to join. */
  cgroupProcs: string[];
  cwd: string;
  argv: string[];
  env: string[];
  /** Host paths of nsenter, setpriv and the static busybox. */
  tools: { nsenter: string; setpriv: string; busybox: string };
}

/** The capabilities nsenter needs to enter the mount namespace and its root. */
const ENTERING = "sys_admin,sys_chroot";

/**
 * The host shell of step 2 (busybox's: it closes descriptors above 9).
 * Arguments: CGROUP_PROCS (space separated), DIR (busybox's), then the
 * chain. Descriptors skiff inherited from its parent are closed first.
 */
export const WAITER = `
for fd in /proc/$$/fd/*; do fd=\${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
for procs in $1; do echo $$ > "$procs" || exit ${EXIT_SKIFF}; done
exec 3< "$2" || exit ${EXIT_SKIFF}
shift 2
trap : INT QUIT
"$@"
`;

/** The busybox shell of step 5, in the container. Arguments: DIR, then env -i's. */
export const ENTERED = `
exec 3<&-
cd -- "$1" 2>/dev/null || { echo "skiff: no directory $1 in the container" >&2; exit ${EXIT_CANNOT_EXECUTE}; }
shift
exec env -i "$@"
`;

/** argv of the whole chain (see the module doc). */
export function execArgv(plan: ExecPlan): string[] {
  const { tools } = plan;
  const target = ["--target", String(plan.pid1)];
  const kept = Object.keys(KEPT_CAPABILITIES).map((c) => `+${c.slice(4).toLowerCase()}`);
  const slash = tools.busybox.lastIndexOf("/");
  return [
    tools.nsenter,
    ...target,
    ...(plan.user ? ["--user"] : []),
    "--pid",
    "--no-fork",
    "--",
    tools.busybox,
    "sh",
    "-c",
    WAITER,
    "exec-waiter",
    plan.cgroupProcs.join(" "),
    tools.busybox.slice(0, slash) || "/",
    tools.setpriv,
    "--inh-caps",
    ENTERING.split(",").map((c) => `+${c}`).join(","),
    "--",
    tools.setpriv,
    "--bounding-set",
    ["-all", ...kept].join(","),
    "--",
    tools.nsenter,
    ...target,
    "--mount",
    "--uts",
    "--ipc",
    "--net",
    "--root",
    "--no-fork",
    "--",
    `/proc/self/fd/3/${tools.busybox.slice(slash + 1)}`,
    "sh",
    "-c",
    ENTERED,
    "exec-entered",
    plan.cwd,
    "--",
    ...plan.env,
    "setpriv",
    "--inh-caps",
    ENTERING.split(",").map((c) => `-${c}`).join(","),
    "--",
    ...plan.argv,
  ];
}

/**
 * Runs a command in a running container, in the foreground.
 *
 * @returns the command's exit code (128 + N when killed by signal N); 0 at once with `detach`
 * @throws {InvalidStateError} when the container is not running
 * @throws {StartError} when the working directory or the command is missing (126, 127)
 */
export async function execInContainer(store: Store, ref: string, opts: ExecOptions): Promise<number> {
  if (opts.detach && (opts.tty || opts.interactive)) {
    throw new UsageError("A detached exec takes no terminal or stdin: drop -i and -t, or -d");
  }
  checkCommandOptions(opts);
  const record = findContainer(await listContainers(store), ref);
  const pid1 = pid1Of(record);
  if (pid1 === undefined) {
    throw new InvalidStateError(`Cannot exec in container "${ref}": it is not running; start it first`);
  }
  const env = mergeEnvironment([...record.env, ...(opts.tty ? ["TERM=xterm"] : []), ...(opts.env ?? [])]);
  const cwd = opts.workdir ?? record.workdir;
  const argv = [resolveInContainer(pid1, ref, cwd, opts.command[0], env), ...opts.command.slice(1)];
  try {
    Deno.statSync(BUSYBOX);
  } catch {
    throw new StartError(`Cannot exec: ${BUSYBOX} is missing; install busybox-static`, EXIT_SKIFF);
  }
  const plan: ExecPlan = {
    pid1,
    user: Deno.uid() !== 0,
    cgroupProcs: (record.cgroup?.own ?? []).map((dir) => `${dir}/cgroup.procs`),
    cwd,
    argv,
    env,
    tools: {
      nsenter: findCommand("nsenter"),
      setpriv: findCommand("setpriv"),
      busybox: BUSYBOX,
    },
  };
  const [command, ...args] = execArgv(plan);
  if (opts.detach) {
    // Its own session, so it outlives this skiff; the waiting shell reaps it.
    const child = new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
      detached: true,
    })
      .spawn();
    child.unref();
    return 0;
  }
  const shared = Deno.stdin.isTerminal();
  const child = new Deno.Command(command, {
    args,
    stdin: opts.interactive || opts.tty || shared ? "inherit" : "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const stop = forwardSignals(child.pid, shared);
  return exitCodeOf(await child.status.finally(stop));
}

/**
 * Checks the working directory and finds the command inside the
 * container's root (through its PID 1's /proc root, each path resolved by
 * openat2 with RESOLVE_IN_ROOT), as init does for `run`.
 *
 * @returns the command's path
 * @throws {StartError} with 126 or 127, as docker exits
 */
function resolveInContainer(pid1: number, ref: string, cwd: string, name: string, env: string[]): string {
  const rootFd = openPath(`/proc/${pid1}/root`);
  const stat = (path: string): Deno.FileInfo | null => {
    let fd: number;
    try {
      fd = openInRoot(rootFd, path.startsWith("/") ? path : `${cwd}/${path}`);
    } catch {
      return null;
    }
    try {
      return Deno.statSync(`/proc/self/fd/${fd}`);
    } catch {
      return null;
    } finally {
      close(fd);
    }
  };
  try {
    if (!stat(cwd)?.isDirectory) {
      throw new StartError(
        `Cannot exec in container "${ref}": no directory "${cwd}" in it; give an existing one with -w`,
        EXIT_CANNOT_EXECUTE,
      );
    }
    return resolveCommand(name, env, stat);
  } catch (e) {
    if (e instanceof InitFailure) throw new StartError(e.message, e.exitCode);
    throw e;
  } finally {
    close(rootFd);
  }
}
