/**
 * `run` from inside: this process was started by lib/container/launcher.sh
 * as PID 1 of the container's new mount, uts, ipc and pid namespaces, with
 * the host's files, /proc and cgroups still in view. It does what `run`
 * does on the host (image, record, volumes, cgroups), tells its supervisor
 * what it made (the protocol is in launcher.sh), makes the network
 * namespace, and becomes the container: init's steps ({@link startInit})
 * run here, in this process, ending in execve(). One Deno start-up.
 *
 * Nothing is cleaned up here once the supervisor knows the container: a
 * failure may come after the pivot, where the store is out of sight, so
 * the supervisor removes a new container that never started.
 *
 * @module
 */

import {
  claimForStart,
  type ContainerRecord,
  createContainer,
  NETWORK_SCRIPT,
  type ProcessRef,
  updateContainer,
} from "./containers.ts";
import { type ImageConfig, layerDirs } from "../image/images.ts";
import { resolveImage } from "./resolve_image.ts";
import {
  type InitMessage,
  keeperAlive,
  ppidOf,
  realInitSys,
  startInit,
  type Stdio,
  testHold,
} from "./init.ts";
import { cgroupFor, initSpecFor, planContainer, type RunOptions, validateRunOptions } from "./run.ts";
import { type CgroupPlan, createCgroup } from "../host/cgroup/cgroups.ts";
import { attachDeviceFilter } from "../host/cgroup/device_filter.ts";
import { planSecurity, type SecurityPlan } from "./security.ts";
import { prepareMounts } from "./volumes.ts";
import { planNetwork } from "./network.ts";
import { restartLine } from "./restart.ts";
import {
  dupCloexec,
  mkfifo,
  openFd,
  readFile,
  selfPid,
  setParentDeathSignal,
  writeFd,
} from "../../ffi/libc.ts";
import { processStartTime, SIGNAL_NUMBERS } from "../host/proc.ts";
import { readJson, type Store } from "../store/store.ts";
import { UsageError } from "../errors.ts";
import { phase, started } from "../host/phases.ts";

/** The keeper's process name (supervise.sh): a busybox shell. */
const KEEPER_COMM = "busybox";

/** The channel to the supervisor: the descriptor the CLI inherits. */
const CHANNEL_FD = 4;

/** The variable the supervisor names itself in (its pid): set, the CLI was launched inside. */
export const SUPERVISOR_ENV = "SKIFF_SUPERVISOR";

/** This CLI's supervisor (launcher.sh), when it was started by one. */
export interface Supervisor {
  pid: number;
  startTime: number;
  /** How the caller's stdin is to be treated without -i: passed on (a terminal in the foreground), or not. */
  sharedStdin: boolean;
  /** Sends one line (see launcher.sh). */
  send(line: string): void;
}

/** The supervisor named in the environment, or null when skiff was not launched inside. */
export function launchedBy(env = Deno.env): Supervisor | null {
  const pid = Number(env.get(SUPERVISOR_ENV));
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return {
    pid,
    startTime: processStartTime(pid) ?? -1,
    sharedStdin: env.get("SKIFF_STDIN") === "shared",
    send(line) {
      if (line.includes("\n")) {
        throw new UsageError(`Cannot pass "${line}" to the supervisor: it holds a newline`);
      }
      writeFd(CHANNEL_FD, new TextEncoder().encode(line + "\n"));
    },
  };
}

/**
 * What the launcher can't do (a pty's relay needs Deno outside the
 * namespaces): the supervisor then has the CLI start the container from
 * outside instead.
 */
export class StartFromOutside extends Error {
  /** The class name, as errors show it. */
  override name = "StartFromOutside";
}

/**
 * Runs a container from inside its namespaces: never returns but by
 * execve() into the command.
 *
 * @throws {UsageError} for bad options, before anything is created
 * @throws {StartFromOutside} for -t
 * @throws {Error} when the container can't start (the supervisor removes it)
 */
export async function runInside(
  store: Store,
  opts: RunOptions,
  detach: boolean,
  supervisor: Supervisor,
): Promise<never> {
  armAgainstKeeperDeath(supervisor);
  if (opts.tty && !detach) throw new StartFromOutside("-t wants a relay from outside");
  phase("cli: modules loaded, arguments parsed");
  validateRunOptions(opts, detach);
  await store.init();
  const image = await resolveImage(store, opts.image, opts.pull);
  phase("cli: image resolved");
  const { fields, cgroup } = planContainer(image, opts);
  const security = await planSecurity(fields.security, store.seccompDir);
  phase("cli: security planned");
  const record = await createContainer(store, { ...fields, owner: ownerOf(supervisor) });
  phase("cli: record created");
  // The relays start now, while the rest is made.
  const passStdin = !detach && (opts.interactive || supervisor.sharedStdin);
  const mode = detach ? "log" : passStdin ? "fgi" : "fg";
  announce(store, record, cgroup, true, mode, supervisor);
  if (opts.mounts?.length) {
    record.mounts = await prepareMounts(store, opts.mounts);
    await updateContainer(store, record.id, { mounts: record.mounts });
  }
  return await become(
    store,
    record,
    image.config,
    cgroup,
    security,
    mode,
    detach ? record.id : null,
    supervisor,
  );
}

/**
 * Starts an existing container (`start`, `start -a`) from inside its
 * namespaces: the same as {@link runInside} from the claim on. A start
 * that fails leaves it exited, with the failure's code (the supervisor
 * records it).
 *
 * @throws {InvalidStateError} when it is not exited
 * @throws {Error} when the container can't start
 */
export async function startInside(
  store: Store,
  ref: string,
  attach: boolean,
  supervisor: Supervisor,
): Promise<never> {
  armAgainstKeeperDeath(supervisor);
  // a restart by the supervisor that owns it (supervise.sh) is a claim of its own
  const record = await claimForStart(store, ref, ownerOf(supervisor), Deno.env.get("SKIFF_RESTART") === "1");
  const config = await readJson<ImageConfig>(store.blob(record.imageId));
  if (config === null) throw new Error(`Cannot start "${ref}": its image's config is gone`);
  const security = await planSecurity(record.security, store.seccompDir);
  const cgroup = cgroupFor(record.id, record.limits, record.security);
  await updateContainer(store, record.id, { cgroup: { version: cgroup.version, own: cgroup.own } });
  const mode = attach ? "fg" : "log";
  announce(store, record, cgroup, false, mode, supervisor);
  // docker prints the container as it was named
  return await become(
    store,
    record,
    config,
    cgroup,
    security,
    mode,
    attach ? null : ref,
    supervisor,
  );
}

/**
 * The keeper's setpriv armed no parent-death signal for us (a process
 * fewer on the path): arm it, then look that the keeper had not died
 * before, with nothing made yet. From here the keeper's end is ours.
 */
function armAgainstKeeperDeath(supervisor: Supervisor): void {
  started("cli: deno process started");
  setParentDeathSignal(SIGNAL_NUMBERS.SIGKILL);
  if (!keeperAlive(supervisor.pid, readFile, KEEPER_COMM)) {
    throw new Error("The container's keeper or its supervisor is gone (killed while it started)");
  }
  // Who we are on the host: killed with our keeper, we may still be in a
  // syscall (a cgroup's mkdir), and the supervisor waits for us to be gone
  // before it removes what we made.
  const pid = selfPid();
  supervisor.send(`P ${pid} ${processStartTime(pid) ?? -1}`);
}

/** The record's owner: the supervisor, who records the end. */
function ownerOf(supervisor: Supervisor): ProcessRef {
  return { pid: supervisor.pid, startTime: supervisor.startTime };
}

/** Tells the supervisor what the container is (see launcher.sh) and has it start the relays. */
function announce(
  store: Store,
  record: ContainerRecord,
  cgroup: CgroupPlan,
  isNew: boolean,
  mode: Relays,
  supervisor: Supervisor,
): void {
  const runtime = store.runtime(record.id);
  supervisor.send(`C ${store.container(record.id)}`);
  supervisor.send(`R ${runtime}`);
  supervisor.send(`L ${store.lockFile}`);
  supervisor.send(`T ${store.tmpDir}/rm`);
  supervisor.send(`M ${record.autoRemove ? 1 : 0}`);
  supervisor.send(`N ${isNew ? 1 : 0}`);
  for (const cg of cgroup.own) supervisor.send(`G ${cg}`);
  if (record.restart) supervisor.send(`Y ${restartLine(record.restart)}`);
  offerRelays(runtime, mode, supervisor);
}

/**
 * The rest, for a run and a start alike: cgroups, relays, the record
 * running, then init's sequence in this process, ending in execve().
 *
 * @param print what to print on our stdout once the command is about to
 *   run (the id of `run -d`, the name of `start`), or null
 */
async function become(
  store: Store,
  record: ContainerRecord,
  image: ImageConfig,
  cgroup: CgroupPlan,
  security: SecurityPlan,
  mode: Relays,
  print: string | null,
  supervisor: Supervisor,
): Promise<never> {
  createCgroup(cgroup, (dir, rules) => {
    phase("cli: cgroups written");
    attachDeviceFilter(dir, rules);
    phase("cli: device program attached");
  });
  phase("cli: cgroups made");
  const net = await planNetwork(store, record, image.config.ExposedPorts);
  // What it holds on the host's network is let go by the supervisor when it ends.
  if (net.leave) supervisor.send(`K ${NETWORK_SCRIPT}`);
  phase("cli: network planned");
  const spec = {
    ...initSpecFor(store, record, layerDirs(store, image), security, false, cgroup.procs, net),
    keeperParent: supervisor.pid,
    keeperComm: KEEPER_COMM,
  };
  const stdio = openRelays(store.runtime(record.id), mode);
  phase("cli: relays connected");
  // init's pid and its keeper's (our parent) in the host's /proc.
  const keeper = ppidOf(readFile("/proc/self/stat"));
  await updateContainer(store, record.id, {
    status: "running",
    startedAt: new Date().toISOString(),
    pid: keeper,
    pidStartTime: processStartTime(keeper) ?? undefined,
  });
  phase("cli: record running");
  // Our stdout, for the id: by `exec`, fd 1 is the container's.
  const callerOut = dupCloexec(1);
  const report = (m: InitMessage) => {
    if (!("exec" in m)) return;
    phase("cli: mounted, pivoted, about to execve");
    // Only once the command is found and about to run, as docker.
    if (print !== null) writeFd(callerOut, new TextEncoder().encode(print + "\n"));
    supervisor.send("X");
  };
  startInit(spec, realInitSys, report, testHold(), stdio);
}

/** Where the command's stdio goes: relayed to the caller's (`fgi`: stdin too), or into the log. */
type Relays = "fg" | "fgi" | "log";

/**
 * Makes the FIFOs the command's output (and with `fgi` its input) goes
 * through, and has the supervisor start their relays.
 */
function offerRelays(runtime: string, mode: Relays, supervisor: Supervisor): void {
  Deno.mkdirSync(runtime, { recursive: true, mode: 0o700 });
  for (const name of ["stdout", "stderr", ...(mode === "fgi" ? ["stdin"] : [])]) {
    const path = `${runtime}/${name}.fifo`;
    try {
      Deno.removeSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    mkfifo(path, 0o600);
  }
  supervisor.send(`O ${mode}`);
}

/**
 * Opens our ends of the relays' FIFOs: each open waits for the relay to
 * open the other end. Close-on-exec: init dup()s them onto 0, 1 and 2.
 */
function openRelays(runtime: string, mode: Relays): Stdio {
  return {
    stdin: mode === "fgi" ? openFd(`${runtime}/stdin.fifo`, "read") : openFd("/dev/null", "read"),
    stdout: openFd(`${runtime}/stdout.fifo`, "write"),
    stderr: openFd(`${runtime}/stderr.fifo`, "write"),
  };
}
