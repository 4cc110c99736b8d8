/**
 * The last step of `exec`: a Deno process born in the container's pid
 * namespace (its parent, exec's waiter, runs under `nsenter --pid`), still
 * in the host's mount namespace, so everything it runs is the host's. Its
 * main thread then, through ffi/:
 *
 * 1. opens the container's namespaces and root from its PID 1's /proc
 *    entries, and checks that PID 1 is still the keeper's child (a pid
 *    alone could have been reused since the CLI looked); then joins the
 *    container's cgroups, Deno's start-up done (see lib/container/exec.ts);
 * 2. takes a filesystem context of its own (unshare CLONE_FS), joins those
 *    namespaces (setns acts on the calling thread) and chroots to the
 *    container's root, then changes to the working directory;
 * 3. starts a session of its own, so the caller's terminal, if skiff has
 *    one, is no controlling terminal of the command's (its /dev/tty opens
 *    nothing, and no TIOCSTI reaches the caller's shell). With -t, it
 *    opens a pty of the container's devpts (its /dev/pts/ptmx, through the
 *    root just entered), offers the master to the CLI on the sync FIFO
 *    (lib/container/sync.ts, as init does: `started`, then `pty`), waits
 *    for the CLI's go-ahead line on stdin (the CLI has taken the master
 *    with pidfd_getfd by then), closes the master and makes the slave its
 *    controlling terminal and stdin, stdout and stderr;
 * 4. drops the capabilities the container lacks from its bounding set and
 *    empties its inheritable and ambient sets, resets signals, and marks
 *    every descriptor but 0-2 close-on-exec;
 * 5. execve()s the command, the environment passed as execve's envp.
 *
 * So nothing of the image runs before the command itself, and that only
 * once the capabilities are the container's; and no program ever reads
 * the environment as arguments. The spec comes in {@link SPEC_ENV}: not
 * argv, which every user of the host can read in ps, and not the
 * command's environment, which is built from the spec alone.
 *
 * Kept small, like init: it is a second Deno start-up on the path of exec.
 *
 * @module
 */

import {
  capbsetDrop,
  close,
  closeOnExecFrom,
  dup2,
  execve,
  openFifoWriter,
  openPty,
  readFd,
  readFile,
  setControllingTerminal,
  setsid,
  writeFd,
  writeFile,
} from "../../ffi/libc.ts";
import {
  chrootTo,
  clearInheritableCaps,
  openReadOnly,
  resetSignals,
  setns,
  unshareFs,
} from "../../ffi/ns.ts";
import { InvalidArgument, NotFound } from "../../ffi/errors.ts";
import { describeError } from "../errors.ts";
import { startTimeOf } from "../host/proc.ts";
import {
  EXIT_CANNOT_EXECUTE,
  EXIT_NOT_FOUND,
  EXIT_SKIFF,
  InitFailure,
  type InitMessage,
  installSeccomp,
  realInitSys,
  resolveCredentials,
} from "./init.ts";
import type { SeccompFilter, UserPlan } from "./security.ts";
import { becomeUser, withHome } from "./user.ts";
import type { Rlimit } from "./ulimits.ts";
import { readFileInRoot } from "./sys.ts";

/** The environment variable the spec comes in, as JSON. */
export const SPEC_ENV = "SKIFF_EXEC_SPEC";

/** What the exec chain's last step needs, planned by the CLI (see lib/container/exec.ts). */
export interface EnterSpec {
  /** The container's PID 1, on the host. */
  pid1: number;
  /** Its parent, the keeper, with its start time: PID 1 must still be its child. */
  keeper: { pid: number; startTime: number };
  /** Files to write "0" to: v1's `tasks` (this thread) or v2's `cgroup.procs`. */
  cgroups: string[];
  /** Entries of /proc/PID/ns to join, in this order. */
  namespaces: string[];
  /** The working directory, inside the container. */
  cwd: string;
  /** The command's path inside the container, resolved by the CLI. */
  path: string;
  argv: string[];
  env: string[];
  /** Capabilities to remove from the bounding set before execve: the container's. */
  dropCaps: number[];
  /** The container's seccomp filter, installed last (none: unconfined). */
  seccomp?: SeccompFilter;
  /** Set no_new_privs, as the container's command has it. */
  noNewPrivileges?: boolean;
  /** The user to become (`exec -u`, else the container's), resolved in its files; none: root. */
  user?: UserPlan;
  /** The container's `--ulimit`s and `--oom-score-adj`, as its command has them. */
  rlimits?: Rlimit[];
  oomScoreAdj?: number;
  /** With -t: the host path of the sync FIFO the pty's master is offered on. */
  syncFifo?: string;
}

/**
 * Whether `pid` is a child of the keeper, and the keeper the recorded
 * process. (Through libc: Deno reads other processes' /proc entries only
 * with --allow-all.)
 */
function isKeepersChild(keeper: EnterSpec["keeper"], pid: number): boolean {
  try {
    if (startTimeOf(readFile(`/proc/${keeper.pid}/stat`)) !== keeper.startTime) return false;
    return readFile(`/proc/${keeper.pid}/task/${keeper.pid}/children`).trim().split(" ").includes(
      String(pid),
    );
  } catch {
    return false; // no such process
  }
}

/** Waits for the CLI's go-ahead, a line on stdin: it holds the pty's master by then. */
function awaitGoAhead(): void {
  for (;;) {
    const byte = readFd(0, 1);
    if (byte.length === 0) throw new Error("Cannot exec in the container: skiff is gone (no go-ahead)");
    if (byte[0] === 0x0a) return;
  }
}

/**
 * Gives the command a pty of the container's devpts as its controlling
 * terminal and stdio; its master goes to the CLI (see the module doc).
 * Called in the container's root, as a session leader with no terminal.
 */
function setUpTerminal(report: (message: InitMessage) => void): void {
  const { master, slave } = openPty("/dev/pts/ptmx");
  report({ pty: master });
  awaitGoAhead();
  close(master);
  setControllingTerminal(slave);
  for (const fd of [0, 1, 2]) dup2(slave, fd);
  close(slave);
}

function enter(spec: EnterSpec): never {
  const proc = `/proc/${spec.pid1}`;
  let report: ((message: InitMessage) => void) | undefined;
  if (spec.syncFifo !== undefined) {
    // Still in the host's mount namespace: the FIFO is the host's, and so
    // is /proc, whose self/stat gives the pids the CLI's pidfd_getfd needs.
    // Close-on-exec: the CLI reads EOF once the command runs.
    const sync = openFifoWriter(spec.syncFifo);
    report = (message) => writeFd(sync, new TextEncoder().encode(JSON.stringify(message) + "\n"));
    const self = readFile("/proc/self/stat");
    const ppid = Number(self.slice(self.lastIndexOf(")") + 2).split(" ")[1]);
    report({ started: { pid: Number(self.slice(0, self.indexOf(" "))), keeper: ppid } });
  }
  const namespaces = spec.namespaces.map((ns) => ({
    path: `${proc}/ns/${ns}`,
    fd: openReadOnly(`${proc}/ns/${ns}`),
  }));
  const root = openReadOnly(`${proc}/root`);
  // Opened first, checked after: if PID 1 is still the living keeper's
  // child now (the keeper forks once), the descriptors are its.
  if (!isKeepersChild(spec.keeper, spec.pid1)) {
    throw new InitFailure("Cannot exec in the container: it is not running", EXIT_SKIFF);
  }
  // Through libc: Deno lets only --allow-all write under /sys.
  for (const file of spec.cgroups) writeFile(file, "0");
  unshareFs();
  for (const { path, fd } of namespaces) setns(fd, path);
  chrootTo(root, `${proc}/root`);
  try {
    Deno.chdir(spec.cwd);
  } catch (e) {
    throw new InitFailure(
      `Cannot exec in the container: no directory "${spec.cwd}" in it: ${describeError(e)}`,
      EXIT_CANNOT_EXECUTE,
    );
  }
  // In the container's root now: its own /etc/passwd and /etc/group.
  const creds = spec.user && resolveCredentials(spec.user, { readInRoot: (p) => readFileInRoot("/", p) });
  const env = creds ? withHome(spec.env, creds.home) : spec.env;
  // setsid(2) fails only for a group leader: we are the waiter's child, in its group.
  setsid();
  if (report !== undefined) {
    try {
      setUpTerminal(report);
    } catch (e) {
      throw new Error("Cannot make the command's terminal", { cause: e });
    }
  }
  if (spec.oomScoreAdj !== undefined) writeFile("/proc/self/oom_score_adj", String(spec.oomScoreAdj));
  for (const [resource, soft, hard] of spec.rlimits ?? []) realInitSys.setRlimit(resource, soft, hard);
  for (const cap of spec.dropCaps) {
    try {
      capbsetDrop(cap);
    } catch (e) {
      // EINVAL: this kernel has no capability with that number
      if (!(e instanceof InvalidArgument)) throw e;
    }
  }
  clearInheritableCaps();
  // After the bounding set (CAP_SETPCAP), before the filter, as init.
  if (creds && spec.user) becomeUser(creds, spec.user.ambient, realInitSys);
  resetSignals();
  closeOnExecFrom(3);
  // Last, on this thread, the one that execve()s, as run's init does.
  const filter = spec.seccomp;
  try {
    if (spec.noNewPrivileges) realInitSys.setNoNewPrivs();
    if (filter) installSeccomp(filter, spec.noNewPrivileges, realInitSys);
  } catch (e) {
    throw new Error("Cannot install the seccomp filter", { cause: e });
  }
  try {
    execve(spec.path, spec.argv, env);
  } catch (e) {
    throw new InitFailure(
      `exec: "${spec.argv[0]}": ${e instanceof Error ? e.message : e}`,
      e instanceof NotFound ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE,
    );
  }
}

if (import.meta.main) {
  try {
    const spec = Deno.env.get(SPEC_ENV);
    if (spec === undefined) {
      throw new Error(`This is the last step of "skiff exec": its spec comes in $${SPEC_ENV}`);
    }
    enter(JSON.parse(spec) as EnterSpec);
  } catch (e) {
    console.error(`skiff: ${describeError(e)}`);
    Deno.exit(e instanceof InitFailure ? e.exitCode : EXIT_SKIFF);
  }
}
