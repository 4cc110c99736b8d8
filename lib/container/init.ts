/**
 * The container's init: started as PID 1 of the container's new
 * namespaces, it builds the root the CLI planned, pivots into it and
 * execve()s the user's command, which then is PID 1.
 *
 * Kept small on purpose: it is the second Deno start-up on the path of
 * `run`, so it imports nothing but `ffi/`, the plan executor and the
 * default PATH.
 *
 * Its steps run in {@link startInit}'s fixed order through an
 * {@link InitSys}, the real one here, a recording fake in the tests. It
 * reports to the CLI on the sync FIFO (lib/container/sync.ts), opened
 * before the pivot and closed by execve (Deno opens files O_CLOEXEC), as
 * crun's sync socket: one JSON line per message, `started` first, then
 * `pty` with -t, then `exec` or `failed`; EOF without `exec` means init
 * died early.
 *
 * Test hook: with SKIFF_TEST_HOLD_INIT naming a FIFO (a host path), init
 * reads that FIFO to EOF right after it reports `started`, so a test holds
 * it there until it closes its write end (tests/io_test.ts). Nothing else
 * reads it.
 *
 * @module
 */

import {
  capbsetDrop,
  chdir,
  close,
  closeOnExecFrom,
  dup2,
  execve,
  MNT_DETACH,
  MS_BIND,
  openFifoWriter,
  openPty,
  pivotRoot,
  readFd,
  readFile,
  seccompSetModeFilter,
  setControllingTerminal,
  sethostname,
  setNoNewPrivs,
  setParentDeathSignal,
  setsid,
  umount2,
  writeFd,
  writeFile,
} from "../../ffi/libc.ts";
import { ErrnoError, InvalidArgument, NotFound, SyscallError } from "../../ffi/errors.ts";
import { openReadOnly, resetSignals, setns, unshareNet } from "../../ffi/ns.ts";
import { describeError } from "../errors.ts";
import { DEFAULT_PATH } from "../image/default_path.ts";
import { applyRootfs, type Step, type Sys } from "./rootfs.ts";
import {
  configureInterface,
  interfaceUp,
  makeVeth,
  mkdirAll,
  readFileInRoot,
  realSys,
  routeSocket,
} from "./sys.ts";
import type { SeccompFilter, UserPlan } from "./security.ts";
import type { InitNet, VethPlan } from "./network.ts";
import type { Rlimit } from "./ulimits.ts";
import { becomeUser, type CredentialSys, resolveUser, UnknownUserError, withHome } from "./user.ts";
import {
  parentDeathSignal,
  parentPid,
  raiseAmbientCap,
  restoreEffectiveCaps,
  setgroups,
  setKeepCaps,
  setresgid,
  setresuid,
  setRlimit,
} from "../../ffi/creds.ts";

/** Everything init needs, planned by the CLI and passed as a JSON file named in argv. */
export interface InitSpec {
  /** Host path of the merged overlay: the new `/`. */
  root: string;
  /** The mounts to make before the pivot. */
  steps: Step[];
  hostname: string;
  /** The working directory inside the container; created when missing. */
  cwd: string;
  argv: string[];
  env: string[];
  /** Capabilities to remove from the bounding set before execve. */
  dropCaps: number[];
  /** The seccomp filter to install last, right before execve (none: unconfined). */
  seccomp?: SeccompFilter;
  /** Set no_new_privs before execve (`--security-opt no-new-privileges`). */
  noNewPrivileges?: boolean;
  /** The user to become, resolved in the container's /etc/passwd and /etc/group (none: root). */
  user?: UserPlan;
  /** prlimit calls (`--ulimit`), before the capabilities are dropped. */
  rlimits?: Rlimit[];
  /** /proc/sys files to write (`--sysctl`), from this thread, in the container's namespaces. */
  sysctls?: [path: string, value: string][];
  /** Written to /proc/self/oom_score_adj (`--oom-score-adj`). */
  oomScoreAdj?: number;
  /** cgroup.procs files to join (write 0 to) before anything else. */
  cgroupProcs: string[];
  /** The pid the keeper's parent must have: the foreground skiff (a detached
   * container's supervisor passes its own in $SKIFF_KEEPER_PARENT). */
  keeperParent?: number;
  /** Host path of the sync FIFO (see the module doc). */
  syncFifo: string;
  /** Give the command a terminal of its own (`-t`): a pty of the container's devpts. */
  tty?: boolean;
  /**
   * The network namespace: made here (none, bridge: after the CLI's pull
   * reached the registry through the host's), joined (another
   * container's), or the host's; see lib/container/network.ts.
   */
  net?: InitNet;
  /** The keeper's command name, as /proc/PID/comm shows it (default `timeout`). */
  keeperComm?: string;
}

/** Descriptors to become the command's stdin, stdout and stderr (without -t). */
export interface Stdio {
  stdin: number;
  stdout: number;
  stderr: number;
}

/** What init tells the CLI, one JSON line each, in this order (see the module doc). */
export type InitMessage =
  /** Init runs: its pid and its keeper's, in the host's pid namespace. */
  | { started: { pid: number; keeper: number } }
  /** The master of the container's terminal is init's descriptor `pty`; init waits for a line on stdin. */
  | { pty: number }
  /** The command is about to be executed. */
  | { exec: true }
  | { failed: StartFailure };

/** How a start failed: the message and the exit code `run` returns. */
export interface StartFailure {
  message: string;
  exitCode: number;
}

/** Exit codes as docker's: skiff failed, command not runnable, not found. */
export const EXIT_SKIFF = 125;
export const EXIT_CANNOT_EXECUTE = 126;
export const EXIT_NOT_FOUND = 127;

/** The command can't be started: the message and exit code `run` and `exec` give. */
export class InitFailure extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/**
 * Finds the command as execvp would, but up front so that "not found" and
 * "not executable" get docker's exit codes and messages.
 */
export function resolveCommand(
  name: string,
  env: string[],
  stat: (path: string) => Deno.FileInfo | null,
): string {
  const candidates = name.includes("/") ? [name] : (env.findLast((e) => e.startsWith("PATH="))
    ?.slice(5) ?? DEFAULT_PATH).split(":").filter((d) => d !== "").map((d) => `${d}/${name}`);
  for (const path of candidates) {
    const info = stat(path);
    if (info === null) continue;
    if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return path;
    if (name.includes("/")) {
      throw new InitFailure(`exec: "${name}": permission denied`, EXIT_CANNOT_EXECUTE);
    }
  }
  const where = name.includes("/") ? "no such file or directory" : "executable file not found in $PATH";
  throw new InitFailure(`exec: "${name}": ${where}`, EXIT_NOT_FOUND);
}

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

/** The parent's pid in a /proc/PID/stat line (field 4; the name in field 2 may hold spaces). */
export function ppidOf(stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/**
 * Whether the keeper that forked us still lives, and still has its parent.
 * setpriv arms a parent-death signal before each exec in the chain, but a
 * parent that died before the arming sends none, and we would run on as an
 * orphan. So look, once armed: our parent in the host's /proc (still
 * mounted: this runs before the pivot) must be `timeout`, and its parent
 * the skiff that planned us. (Through libc: Deno reads /proc/self only
 * with --allow-all.)
 */
export function keeperAlive(
  keeperParent: number | undefined,
  read: (path: string) => string = readFile,
  keeperComm = "timeout",
): boolean {
  try {
    const keeper = ppidOf(read("/proc/self/stat"));
    if (read(`/proc/${keeper}/comm`).trim() !== keeperComm) return false;
    return keeperParent === undefined || ppidOf(read(`/proc/${keeper}/stat`)) === keeperParent;
  } catch {
    return false;
  }
}

/**
 * The kernel operations init uses, beyond a plan's: the fakeable seam of
 * its own sequence (the real one is {@link realInitSys}).
 */
export interface InitSys extends Sys, CredentialSys {
  /** prlimit(2) on this process; -1 is unlimited. */
  setRlimit(resource: number, soft: number, hard: number): void;
  /** A file of the new root, read inside it (after the pivot: `/`); null when missing. */
  readInRoot(path: string): string | null;
  /** Reads a small /proc file. */
  readFile(path: string): string;
  /** Writes a kernel interface file (cgroup.procs) in one write. */
  writeFile(path: string, text: string): void;
  chdir(path: string): void;
  pivotRoot(newRoot: string, putOld: string): void;
  umount2(target: string, flags: number): void;
  sethostname(name: string): void;
  interfaceUp(name: string): void;
  /** A network namespace of this thread's own. */
  unshareNet(): void;
  /** Opens this thread's network namespace (/proc/thread-self/ns/net). */
  openNetns(): number;
  /** Moves this thread into the network namespace `fd` refers to. */
  setNetns(fd: number): void;
  /** Opens another network namespace by path (/proc/PID/ns/net). */
  openPath(path: string): number;
  /** An rtnetlink socket in this thread's network namespace. */
  routeSocket(): number;
  /** Makes a veth through the netlink socket `sock`, its container end in the namespace `netnsFd`. */
  makeVeth(sock: number, veth: VethPlan, netnsFd: number): void;
  /** An interface's address and prefix, up, and a default route through `gateway` when given. */
  configureInterface(name: string, address: string, prefix: number, gateway?: string): void;
  /** Makes a directory and its missing parents. */
  mkdirAll(path: string): void;
  /** For finding the command: null when nothing is there. */
  stat(path: string): Deno.FileInfo | null;
  /** A pty of the devpts whose ptmx node is `ptmx`. */
  openPty(ptmx: string): { master: number; slave: number };
  /** Waits for the CLI's go-ahead: a line on stdin. */
  awaitParent(): void;
  setsid(): void;
  setControllingTerminal(fd: number): void;
  dup2(from: number, to: number): void;
  close(fd: number): void;
  capbsetDrop(cap: number): void;
  setNoNewPrivs(): void;
  /** Installs a seccomp filter (a BPF program) on this thread only. */
  seccompSetModeFilter(program: Uint8Array<ArrayBuffer>, flags: number): void;
  /** Every signal back to its default disposition, none blocked. */
  resetSignals(): void;
  closeOnExecFrom(first: number): void;
  execve(path: string, argv: string[], env: string[]): never;
}

/** The running kernel's {@link InitSys}. */
export const realInitSys: InitSys = {
  ...realSys,
  readInRoot: (path) => readFileInRoot("/", path),
  setRlimit,
  setKeepCaps,
  setgroups,
  setresgid,
  setresuid,
  restoreEffectiveCaps,
  raiseAmbientCap,
  parentDeathSignal,
  setParentDeathSignal,
  parentPid,
  readFile,
  writeFile,
  chdir,
  pivotRoot,
  umount2,
  sethostname,
  interfaceUp,
  unshareNet,
  openNetns: () => openReadOnly("/proc/thread-self/ns/net"),
  setNetns: (fd) => setns(fd, "the network namespace"),
  openPath: openReadOnly,
  routeSocket,
  makeVeth,
  mkdirAll,
  configureInterface,
  stat: statOrNull,
  openPty,
  awaitParent() {
    // Up to the newline: the CLI is done with the master. EOF first means it is gone.
    for (let byte = readFd(0, 1); byte[0] !== 0x0a; byte = readFd(0, 1)) {
      if (byte.length === 0) throw new Error("The CLI closed init's stdin before taking the terminal");
    }
  },
  setsid,
  setControllingTerminal,
  dup2,
  close,
  capbsetDrop,
  setNoNewPrivs,
  seccompSetModeFilter,
  resetSignals,
  closeOnExecFrom,
  execve,
};

/** Runs one step of init, naming it in front of whatever made it fail. */
function step<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof InitFailure) throw e;
    throw new Error(`Cannot ${what}`, { cause: e });
  }
}

/**
 * Starts the container's command: keeper check, cgroup join, the root's
 * mounts, pivot, old root detached, hostname, loopback up, working
 * directory, the command found, a session of its own (with -t: its own
 * terminal as stdio, controlling terminal and /dev/console), capabilities
 * dropped, descriptors marked close-on-exec, no_new_privs when asked, the
 * seccomp filter, `exec` reported, execve.
 *
 * @param report sends one message to the CLI
 * @param hold a test hook run right after `started` is reported
 * @param stdio the command's stdin, stdout and stderr, when they are not
 *   init's own (and there is no -t)
 * @throws {InitFailure} when the command can't be run (126, 127)
 * @throws {Error} naming the step that failed, with the cause kept
 */
export function startInit(
  spec: InitSpec,
  sys: InitSys,
  report: (message: InitMessage) => void,
  hold?: () => void,
  stdio?: Stdio,
): never {
  // The host's pids: its /proc is still mounted here, before the pivot.
  const self = sys.readFile("/proc/self/stat");
  report({ started: { pid: Number(self.slice(0, self.indexOf(" "))), keeper: ppidOf(self) } });
  hold?.();
  // A detached keeper's parent is its supervisor, which says so in the environment.
  const supervisor = Deno.env.get("SKIFF_KEEPER_PARENT");
  const keeperParent = spec.keeperParent ?? (supervisor ? Number(supervisor) : undefined);
  if (!keeperAlive(keeperParent, sys.readFile, spec.keeperComm)) {
    throw new Error("The container's keeper or its skiff is gone (killed while it started)");
  }
  // Join the container's cgroup first (and before the pivot hides
  // /sys/fs/cgroup): everything the command forks stays in it.
  // (Through libc: Deno lets only --allow-all write under /sys.)
  for (const procs of spec.cgroupProcs) step(`join the cgroup "${procs}"`, () => sys.writeFile(procs, "0"));
  // Before the mounts: sysfs shows the devices of its mounter's network
  // namespace, and a user namespace may mount it only in a netns it owns.
  if (spec.net) joinNetwork(spec.net, sys);
  // This thread's /proc/sys: its network and IPC namespaces, the container's.
  for (const [path, value] of spec.sysctls ?? []) step(`write "${path}"`, () => sys.writeFile(path, value));
  const oom = spec.oomScoreAdj;
  if (oom !== undefined) {
    step("set oom_score_adj", () => sys.writeFile("/proc/self/oom_score_adj", String(oom)));
  }
  applyRootfs(spec.steps, sys);
  // pivot_root(".", ".") stacks the old root on top of the new one, so no
  // put_old directory has to be made in the image (runc does the same).
  step(`pivot into "${spec.root}"`, () => {
    sys.chdir(spec.root);
    sys.pivotRoot(".", ".");
  });
  step("detach the old root", () => {
    sys.umount2(".", MNT_DETACH);
    sys.chdir("/");
  });
  const creds = spec.user && resolveCredentials(spec.user, sys);
  const env = creds ? withHome(spec.env, creds.home) : spec.env;
  step(`set the hostname "${spec.hostname}"`, () => sys.sethostname(spec.hostname));
  step("bring up the loopback interface", () => sys.interfaceUp("lo"));
  step(`make the working directory "${spec.cwd}"`, () => sys.mkdirAll(spec.cwd));
  step(`enter the working directory "${spec.cwd}"`, () => sys.chdir(spec.cwd));
  const path = resolveCommand(spec.argv[0], env, sys.stat);
  // A session of its own: the caller's terminal, if skiff has one, is no
  // controlling terminal of the container's (its /dev/tty opens nothing).
  step("start a session", () => sys.setsid());
  if (spec.tty) step("make the container's terminal", () => setUpTerminal(sys, report));
  else if (stdio) {
    step("connect the command's stdin, stdout and stderr", () => {
      sys.dup2(stdio.stdin, 0);
      sys.dup2(stdio.stdout, 1);
      sys.dup2(stdio.stderr, 2);
    });
  }
  for (const [resource, soft, hard] of spec.rlimits ?? []) {
    step(`set resource limit ${resource}`, () => sys.setRlimit(resource, soft, hard));
  }
  // Capabilities past the kernel's last are not there to drop: skipped
  // rather than tried, since an EINVAL read through errno was seen misread.
  const last = lastCapability(sys);
  for (const cap of spec.dropCaps) {
    if (cap > last) continue;
    step(`drop capability ${cap} from the bounding set`, () => {
      try {
        sys.capbsetDrop(cap);
      } catch (e) {
        // EINVAL: this kernel has no capability with that number
        if (!(e instanceof InvalidArgument)) throw e;
      }
    });
  }
  // After the bounding set (CAP_SETPCAP), before the filter.
  if (creds && spec.user) {
    const { ambient } = spec.user;
    step(`become user "${spec.user.spec}"`, () => becomeUser(creds, ambient, sys));
  }
  // execve keeps ignored signals ignored: Deno ignores SIGPIPE.
  step("reset signal dispositions and the mask", () => sys.resetSignals());
  step("mark descriptors close-on-exec", () => sys.closeOnExecFrom(3));
  if (spec.noNewPrivileges) step("set no_new_privs", () => sys.setNoNewPrivs());
  // Last, on this thread, the one that execve()s: the filter is per thread,
  // so it binds the command and what it starts, never skiff's other threads.
  // Everything from here to execve (the report, the call itself) must be
  // allowed by the profile.
  const filter = spec.seccomp;
  if (filter) step("install the seccomp filter", () => installSeccomp(filter, spec.noNewPrivileges, sys));
  report({ exec: true });
  try {
    sys.execve(path, spec.argv, env);
  } catch (e) {
    if (!(e instanceof SyscallError || e instanceof ErrnoError)) throw e;
    throw new InitFailure(
      `exec: "${spec.argv[0]}": ${e instanceof Error ? e.message : e}`,
      e instanceof NotFound ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE,
    );
  }
}

/**
 * Gives this thread (the one that execve()s) its network namespace. For a
 * bridge: a netlink socket first, in the host's namespace, then a new
 * namespace, the veths made through that socket with their ends already in
 * the new one (named by our descriptor of it), then their addresses and
 * route from inside. The port rules were written by the CLI before.
 */
export function joinNetwork(net: InitNet, sys: InitSys): void {
  if (net.kind === "host") return;
  if (net.kind === "join") {
    step(`join the network namespace "${net.path}"`, () => {
      const fd = sys.openPath(net.path);
      sys.setNetns(fd);
      sys.close(fd);
    });
    return;
  }
  if (net.kind === "none") {
    step("make the network namespace", () => sys.unshareNet());
    return;
  }
  // The socket belongs to the namespace it was opened in, the host's: the
  // veths are made through it with no setns back and forth.
  const sock = net.veths.length ? step("open a netlink socket", () => sys.routeSocket()) : -1;
  step("make the network namespace", () => sys.unshareNet());
  const own = step("open the network namespace", () => sys.openNetns());
  try {
    for (const veth of net.veths) {
      step(`connect the container to bridge "${veth.bridge}"`, () => sys.makeVeth(sock, veth, own));
    }
  } finally {
    if (sock !== -1) sys.close(sock);
    sys.close(own);
  }
  for (const i of net.inside) {
    step(
      `configure the container's interface "${i.name}"`,
      () => sys.configureInterface(i.name, i.address, i.prefix, i.gateway),
    );
  }
}

/**
 * The user's ids in the container's files; a name they don't have is
 * docker's one-line error, 125.
 */
export function resolveCredentials(
  user: UserPlan,
  sys: Pick<InitSys, "readInRoot">,
): ReturnType<typeof resolveUser> {
  try {
    return resolveUser(user.spec, user.groupAdd, sys.readInRoot);
  } catch (e) {
    if (e instanceof UnknownUserError) throw new InitFailure(e.message, EXIT_SKIFF);
    throw new Error(`Cannot resolve user "${user.spec}" in the container`, { cause: e });
  }
}

/**
 * Installs a planned filter on the calling thread, the one that will
 * execve(): `run`'s init and `exec`'s enter.ts. The kernel takes a filter
 * from a thread with no_new_privs or CAP_SYS_ADMIN; with neither, and
 * no_new_privs not set already, it sets no_new_privs first (as runc).
 */
export function installSeccomp(
  filter: SeccompFilter,
  noNewPrivsSet: boolean | undefined,
  sys: Pick<InitSys, "readFile" | "setNoNewPrivs" | "seccompSetModeFilter">,
): void {
  if (!noNewPrivsSet && !hasCapability(sys.readFile("/proc/thread-self/status"), CAP_SYS_ADMIN)) {
    sys.setNoNewPrivs();
  }
  const program = (Uint8Array as unknown as { fromBase64(s: string): Uint8Array<ArrayBuffer> })
    .fromBase64(filter.program);
  sys.seccompSetModeFilter(program, filter.flags);
}

/** The kernel's highest capability number (/proc/sys/kernel/cap_last_cap), or 63 when it can't be read. */
function lastCapability(sys: Pick<InitSys, "readFile">): number {
  try {
    const n = Number(sys.readFile("/proc/sys/kernel/cap_last_cap").trim());
    return Number.isInteger(n) ? n : 63;
  } catch {
    return 63;
  }
}

/** CAP_SYS_ADMIN's number (linux/capability.h). */
const CAP_SYS_ADMIN = 21;

/** Whether a /proc/PID/status text shows capability `cap` in the effective set. */
export function hasCapability(status: string, cap: number): boolean {
  const hex = status.match(/^CapEff:\s*([0-9a-f]+)$/m)?.[1];
  return hex !== undefined && ((BigInt(`0x${hex}`) >> BigInt(cap)) & 1n) === 1n;
}

/**
 * Gives the command a pty of the container's devpts (mounted newinstance
 * at /dev/pts): its slave becomes stdin, stdout, stderr, the controlling
 * terminal and /dev/console (as runc); its master goes to the CLI, which
 * takes it with pidfd_getfd while init waits, and relays it to the
 * caller's terminal.
 */
function setUpTerminal(sys: InitSys, report: (message: InitMessage) => void): void {
  const { master, slave } = sys.openPty("/dev/pts/ptmx");
  sys.touch("/dev/console");
  sys.mount(`/proc/self/fd/${slave}`, "/dev/console", "", MS_BIND, "");
  report({ pty: master });
  sys.awaitParent();
  sys.close(master);
  sys.setControllingTerminal(slave);
  for (const fd of [0, 1, 2]) sys.dup2(slave, fd);
  sys.close(slave);
}

/**
 * The test hook's hold (see the module doc): reads the FIFO named in
 * $SKIFF_TEST_HOLD_INIT to EOF; undefined when it is unset.
 */
export function testHold(): (() => void) | undefined {
  const fifo = Deno.env.get("SKIFF_TEST_HOLD_INIT");
  return fifo ? () => void Deno.readFileSync(fifo) : undefined;
}

if (import.meta.main) {
  const spec = JSON.parse(Deno.readTextFileSync(Deno.args[0])) as InitSpec;
  // Not Deno.openSync: a skiff killed before this point left no reader,
  // and a blocking open would wait for one forever, an orphan whose
  // parent-death signal was not armed yet when its parent died.
  const sync = openFifoWriter(spec.syncFifo);
  const report = (message: InitMessage) =>
    writeFd(sync, new TextEncoder().encode(JSON.stringify(message) + "\n"));
  try {
    startInit(spec, realInitSys, report, testHold());
  } catch (e) {
    const failure: StartFailure = {
      message: describeError(e),
      exitCode: e instanceof InitFailure ? e.exitCode : EXIT_SKIFF,
    };
    report({ failed: failure });
    Deno.exit(failure.exitCode);
  }
}
