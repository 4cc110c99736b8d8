/**
 * `exec`: runs another command in a running container, in all of its
 * namespaces, its root, its cgroup and with its capabilities, and returns
 * the command's exit code.
 *
 * The pid namespace (and a rootless container's user namespace) can only
 * be entered before a process has threads, so util-linux `nsenter` enters
 * them; the rest is done by a Deno process of skiff's, on one thread, as
 * one chain:
 *
 * 1. `nsenter --pid --no-fork`: children of what follows are born in the
 *    container's pid namespace (rootless, `--user` first: the user owns
 *    the container's user namespace, and is root in it from here);
 * 2. a host shell ({@link WAITER}, the host's static busybox) closes what
 *    skiff inherited and runs the rest as its child, which is therefore
 *    in the container's pid namespace. It stays outside, waiting, catching
 *    SIGINT and SIGQUIT (a caught signal is reset for its children, an
 *    ignored one would not be), so Ctrl-C on a shared terminal reaches the
 *    command and does not end the exec;
 * 3. `deno run lib/container/enter.ts`: joins the container's cgroups,
 *    the other namespaces and the root, drops the capabilities and
 *    execve()s the command with the environment as data (see that module).
 *    It joins the cgroups only once Deno has started, and on cgroup v1
 *    with its main thread alone: Deno's threads and memory must not count
 *    against the container's limits (a --pids-limit under Deno's thread
 *    count would make every exec fail).
 *
 * Its stdio is skiff's to relay, as `run`'s (lib/container/stdio.ts): the
 * command never holds a descriptor of the caller's files or terminal.
 * stdout and stderr are pipes; stdin a pipe with -i, or when it is a
 * terminal whose foreground skiff is in, else /dev/null; the command is in
 * a session of its own. With -t, enter.ts opens a pty of the container's
 * devpts and offers its master on a sync FIFO; skiff takes it
 * (pidfd_getfd) and relays it to the caller's terminal.
 *
 * Until that execve, everything that runs is the host's: nothing of the
 * image runs while the chain holds CAP_SYS_ADMIN, and no program reads the
 * environment as its arguments (an Env entry without "=" once made `env`
 * run the image's program of that name, with every capability).
 *
 * @module
 */

import { close, inForeground, openPath, takeFd } from "../../ffi/libc.ts";
import { openInRoot } from "../host/in_root.ts";
import { CAPABILITIES, capabilitiesToDrop } from "../host/capabilities.ts";
import { planSecurity, type SecurityPlan } from "./security.ts";
import { checkUserSpec } from "./user.ts";
import { findContainer, listContainers } from "./containers.ts";
import { type EnterSpec, SPEC_ENV } from "./enter.ts";
import { describeError, InvalidStateError, UsageError } from "../errors.ts";
import { EXIT_CANNOT_EXECUTE, EXIT_SKIFF, InitFailure, resolveCommand } from "./init.ts";
import { type CgroupVersion, joinFile } from "../host/cgroup/cgroups.ts";
import { pid1Of } from "./lifecycle.ts";
import { checkCommandOptions, mergeEnvironment, StartError } from "./run.ts";
import { exitCodeOf, forwardSignals } from "../host/signals.ts";
import { InitChannel } from "./sync.ts";
import { pump, pumpStdin, relayTerminal, type TerminalRelay } from "./stdio.ts";
import {
  denoArgv,
  findCommand,
  type Namespace,
  namespaceFile,
  namespaceFlag,
  NAMESPACES,
} from "../host/spawn.ts";
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
  /** `-u`: the user (default: the container's). */
  user?: string;
  /** `--privileged`: every capability (the container's filter and device cgroup stay, as docker's). */
  privileged?: boolean;
}

/** Everything the exec chain needs, resolved. */
export interface ExecPlan {
  /** The container's PID 1, on the host. */
  pid1: number;
  /** Its keeper (PID 1's parent) and the keeper's start time. */
  keeper: { pid: number; startTime: number };
  /** Enter the container's user namespace first (rootless: this skiff is its owner, outside it). */
  user: boolean;
  /** The container's namespaces: {@link NAMESPACES} unless given. */
  namespaces?: readonly Namespace[];
  /** The container's cgroup: its version and directories. */
  cgroup: { version: CgroupVersion; own: string[] };
  cwd: string;
  /** The command's path inside the container. */
  path: string;
  argv: string[];
  env: string[];
  /** Host paths of nsenter, the static busybox, deno and lib/container/enter.ts. */
  tools: { nsenter: string; busybox: string; deno: string; enter: string };
  /** With -t: the host path of the sync FIFO enter.ts offers the pty's master on. */
  syncFifo?: string;
  /** The container's capabilities and seccomp filter (default: podman's set, no filter). */
  security?: SecurityPlan;
}

/**
 * Namespaces a process with threads cannot join (setns(2)): the user and
 * time namespaces refuse it, and a thread in another pid namespace than
 * its process's can start no thread, which Deno needs. nsenter joins these
 * before Deno starts; enter.ts joins the rest.
 */
const BEFORE_THREADS: ReadonlySet<Namespace> = new Set(["user", "pid", "time"]);

/**
 * The host shell of step 2 (busybox's: it closes descriptors above 9).
 * Arguments: the chain. Descriptors skiff inherited from its parent are
 * closed first.
 */
export const WAITER = `
for fd in /proc/$$/fd/*; do fd=\${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
trap : INT QUIT
"$@"
`;

/** argv of the whole chain (see the module doc); its spec goes in {@link execEnv}. */
export function execArgv(plan: ExecPlan): string[] {
  const { tools } = plan;
  const early = (plan.namespaces ?? NAMESPACES).filter((ns) => BEFORE_THREADS.has(ns));
  return [
    tools.nsenter,
    "--target",
    String(plan.pid1),
    ...(plan.user ? ["--user"] : []),
    ...early.map(namespaceFlag),
    "--no-fork",
    "--",
    tools.busybox,
    "sh",
    "-c",
    WAITER,
    "exec-waiter",
    ...denoArgv(tools.deno, tools.enter, ["--allow-read", "--allow-ffi", `--allow-env=${SPEC_ENV}`], []),
  ];
}

/** The spec of the chain's last step (lib/container/enter.ts). */
export function enterSpec(plan: ExecPlan): EnterSpec {
  return {
    pid1: plan.pid1,
    keeper: plan.keeper,
    // "0" in v1's `tasks` moves the writing thread only; v2 has no such file
    // for a domain cgroup (nor has a hybrid host's unified one), so there the whole process moves.
    cgroups: plan.cgroup.own.map((dir) => joinFile(plan.cgroup.version, dir)),
    namespaces: (plan.namespaces ?? NAMESPACES).filter((ns) => !BEFORE_THREADS.has(ns)).map(namespaceFile),
    cwd: plan.cwd,
    path: plan.path,
    argv: plan.argv,
    env: plan.env,
    dropCaps: plan.security?.dropCaps ?? capabilitiesToDrop(),
    ...(plan.security?.seccomp ? { seccomp: plan.security.seccomp } : {}),
    ...(plan.security?.noNewPrivileges ? { noNewPrivileges: true } : {}),
    ...(plan.security?.user ? { user: plan.security.user } : {}),
    ...(plan.security?.rlimits ? { rlimits: plan.security.rlimits } : {}),
    ...(plan.security?.oomScoreAdj !== undefined ? { oomScoreAdj: plan.security.oomScoreAdj } : {}),
    ...(plan.syncFifo === undefined ? {} : { syncFifo: plan.syncFifo }),
  };
}

/** What the chain adds to skiff's environment: the spec, which only enter.ts reads. */
export function execEnv(plan: ExecPlan): Record<string, string> {
  return { [SPEC_ENV]: JSON.stringify(enterSpec(plan)) };
}

/**
 * The container's settings for an exec; `--privileged` keeps every
 * capability but leaves the container's seccomp filter, which runc
 * applies to every process of the container (docker's `exec
 * --privileged` does the same), and adds no ambient one for a user.
 */
export function execSecurity(plan: SecurityPlan, privileged = false): SecurityPlan {
  if (!privileged) return plan;
  return {
    ...plan,
    dropCaps: capabilitiesToDrop(Object.keys(CAPABILITIES)),
    ...(plan.user ? { user: { ...plan.user, ambient: [] } } : {}),
  };
}

/** Where enter.ts lives: beside this module, whether that is a file or a URL. */
function enterModule(): string {
  const url = new URL("./enter.ts", import.meta.url);
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href;
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
  if (opts.user !== undefined) checkUserSpec(opts.user);
  const record = findContainer(await listContainers(store), ref);
  const pid1 = pid1Of(record);
  if (pid1 === undefined) {
    throw new InvalidStateError(`Cannot exec in container "${ref}": it is not running; start it first`);
  }
  if (record.status === "paused") {
    throw new InvalidStateError(`Container "${ref}" is paused, unpause the container before exec`);
  }
  const env = mergeEnvironment([...record.env, ...(opts.tty ? ["TERM=xterm"] : []), ...(opts.env ?? [])]);
  const cwd = opts.workdir ?? record.workdir;
  const path = resolveInContainer(pid1, ref, cwd, opts.command[0], env);
  try {
    Deno.statSync(BUSYBOX);
  } catch {
    throw new StartError(`Cannot exec: ${BUSYBOX} is missing; install busybox-static`, EXIT_SKIFF);
  }
  const plan: ExecPlan = {
    pid1,
    // pid1Of checked the keeper against the record.
    keeper: { pid: record.pid!, startTime: record.pidStartTime! },
    user: Deno.uid() !== 0,
    cgroup: record.cgroup ?? { version: "v1", own: [] },
    cwd,
    path,
    argv: opts.command,
    env,
    tools: { nsenter: findCommand("nsenter"), busybox: BUSYBOX, deno: Deno.execPath(), enter: enterModule() },
    security: execSecurity(
      await planSecurity({ ...record.security, user: opts.user ?? record.security?.user }, store.seccompDir),
      opts.privileged,
    ),
    // One per exec: several may run at once.
    ...(opts.tty && !opts.detach
      ? { syncFifo: `${store.runtime(record.id)}/exec-${crypto.randomUUID()}.sync` }
      : {}),
  };
  const [command, ...args] = execArgv(plan);
  const spec = execEnv(plan);
  if (opts.detach) {
    // Its own session, so it outlives this skiff; the waiting shell reaps it.
    const child = new Deno.Command(command, {
      args,
      env: spec,
      stdin: "null",
      stdout: "null",
      stderr: "null",
      detached: true,
    })
      .spawn();
    child.unref();
    return 0;
  }
  return await execInForeground(command, args, spec, opts, plan.syncFifo);
}

/**
 * Runs the chain in the foreground, its stdio relayed (see the module
 * doc), and waits for it.
 *
 * @param syncFifo with -t: where enter.ts offers the pty's master
 */
async function execInForeground(
  command: string,
  args: string[],
  env: Record<string, string>,
  opts: ExecOptions,
  syncFifo: string | undefined,
): Promise<number> {
  // As `run`'s: a terminal's input is passed on through a pipe unless
  // skiff runs in its background (reading it would stop skiff with
  // SIGTTIN). With -t, stdin is enter.ts's go-ahead.
  const shared = !opts.tty && Deno.stdin.isTerminal() && inForeground(0);
  const passStdin = opts.interactive || shared;
  const ended = Promise.withResolvers<void>();
  let channel: InitChannel | undefined;
  if (syncFifo !== undefined) {
    Deno.mkdirSync(syncFifo.slice(0, syncFifo.lastIndexOf("/")), { recursive: true, mode: 0o700 });
    channel = await InitChannel.open(syncFifo, ended.promise);
  }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, {
      args,
      env,
      stdin: opts.tty || passStdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    closeChannel(channel, syncFifo);
    throw e;
  }
  child.status.finally(ended.resolve);
  const output = Promise.all([pump(child.stdout, Deno.stdout), pump(child.stderr, Deno.stderr)]);
  if (passStdin && !opts.tty) pumpStdin(child.stdin);
  // The command is in a session of its own: no keyboard signal of the
  // caller's terminal reaches it but through skiff, which passes on all.
  const stop = forwardSignals(child.pid, false);
  let terminal: TerminalRelay | undefined;
  try {
    if (channel !== undefined) await relayOffered(channel, child, (relay) => terminal = relay);
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status.finally(stop);
    await output;
    // Its slave closed with enter.ts: the caller's terminal is restored.
    await terminal?.done;
    throw e;
  } finally {
    closeChannel(channel, syncFifo);
  }
  const status = await child.status.finally(stop);
  await output;
  await terminal?.done;
  return exitCodeOf(status);
}

/**
 * Reads enter.ts's messages to EOF (it comes at the command's execve, or
 * enter.ts's end), relaying the pty's master it offers and giving it the
 * go-ahead once the master is skiff's.
 *
 * @param onRelay is handed the relay as soon as it runs (none if enter.ts
 *   ended before offering a terminal)
 */
async function relayOffered(
  channel: InitChannel,
  child: Deno.ChildProcess,
  onRelay: (relay: TerminalRelay) => void,
): Promise<void> {
  let pid: number | undefined;
  let terminal: TerminalRelay | undefined;
  for (let m = await channel.next(); m !== null; m = await channel.next()) {
    if ("started" in m) pid = m.started.pid;
    else if ("pty" in m && pid !== undefined && terminal === undefined) {
      try {
        terminal = relayTerminal(takeFd(pid, m.pty));
        onRelay(terminal);
        const go = child.stdin.getWriter();
        await go.write(new TextEncoder().encode("\n"));
        await go.close();
      } catch (e) {
        throw new StartError(`Cannot relay the command's terminal: ${describeError(e)}`, EXIT_SKIFF);
      }
    } else {
      throw new StartError(
        `Cannot exec: unexpected report ${JSON.stringify(m)} from the exec chain`,
        EXIT_SKIFF,
      );
    }
  }
}

/** Closes the sync FIFO's ends and removes it. */
function closeChannel(channel: InitChannel | undefined, path: string | undefined): void {
  channel?.close();
  if (path === undefined) return;
  try {
    Deno.removeSync(path);
  } catch { /* gone with the container's runtime dir */ }
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
