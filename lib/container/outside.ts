/**
 * `run` from outside, the older of the two ways in: the CLI on the host
 * plans the container and spawns its init as a second Deno program
 * (lib/container/init.ts) through setpriv, unshare and timeout, then
 * relays its stdio (a pty with -t) and waits, or hands it to a supervisor
 * (`-d`). `run -t`, `start`, rootless runs the launcher can't take and
 * library callers (mod.ts) come this way; the launcher's `run` goes from
 * inside instead (lib/container/inside.ts), with one Deno start-up. Loaded
 * only when needed, so that path never compiles it.
 *
 * @module
 */

import {
  claimForStart,
  type ContainerRecord,
  createContainer,
  markExited,
  markRunning,
  removeContainer,
  updateContainer,
} from "./containers.ts";
import { describeError, NotFoundError } from "../errors.ts";
import { type Image, type ImageConfig, layerDirs } from "../image/images.ts";
import { resolveImage } from "./resolve_image.ts";
import { EXIT_SKIFF, type InitSpec, type StartFailure } from "./init.ts";
import { InitChannel } from "./sync.ts";
import { pump, pumpStdin, relayTerminal, type TerminalRelay } from "./stdio.ts";
import { inForeground, takeFd } from "../../ffi/libc.ts";
import { processStartTime } from "../host/proc.ts";
import { exitCodeOf, forwardSignals } from "../host/signals.ts";
import { parseLog, supervisorArgv } from "./supervise.ts";
import { BUSYBOX } from "../host/tools.ts";
import { containerArgv, findCommand } from "../host/spawn.ts";
import { planNetwork } from "./network.ts";
import { exists, readJson, type Store } from "../store/store.ts";
import { prepareMounts } from "./volumes.ts";
import { type CgroupPlan, createCgroup, removeCgroup, wasOomKilled } from "../host/cgroup/cgroups.ts";
import { planSecurity, type SecurityPlan } from "./security.ts";
import {
  cgroupFor,
  checkPrivileges,
  initSpecFor,
  planContainer,
  type RunOptions,
  StartError,
  validateRunOptions,
} from "./run.ts";

/**
 * Runs a container in the foreground.
 *
 * @returns the command's exit code (128 + N when killed by signal N)
 * @throws {UsageError} for bad options, before anything is created
 * @throws {StartError} when the command could not be started (nothing is left behind)
 */
export async function runContainer(store: Store, opts: RunOptions): Promise<number> {
  return (await run(store, opts, false)).exitCode;
}

/**
 * Runs a container in the background under a supervisor (`run -d`),
 * returning once its command runs.
 *
 * @returns the container's id
 * @throws {UsageError} for bad options, before anything is created
 * @throws {StartError} when the command could not be started (nothing is left behind)
 */
export async function runDetached(store: Store, opts: RunOptions): Promise<string> {
  return (await run(store, opts, true)).id;
}

/**
 * Runs a container of an image the caller resolved, in the foreground,
 * and keeps it unless `opts.remove` (the builder's RUN steps, lib/build/:
 * its images are in the build cache, not the index; it commits the
 * container's upper dir, then removes it).
 *
 * @returns the container's id and the command's exit code
 * @throws {UsageError} for bad options, before anything is created
 * @throws {StartError} when the command could not be started (nothing is left behind)
 */
export async function runImage(
  store: Store,
  image: Image,
  opts: RunOptions,
  output?: Output,
): Promise<{ id: string; exitCode: number }> {
  return await run(store, { ...opts, output }, false, image);
}

/** Where a container's output goes instead of skiff's own stdout and stderr; its stdin is then null. */
export interface Output {
  stdout: { write(p: Uint8Array): Promise<number> };
  stderr: { write(p: Uint8Array): Promise<number> };
}

async function run(
  store: Store,
  opts: RunOptions & { output?: Output },
  detach: boolean,
  resolved?: Image,
): Promise<{ id: string; exitCode: number }> {
  validateRunOptions(opts, detach);
  checkPrivileges();
  await store.init();
  const image = resolved ?? await resolveImage(store, opts.image, opts.pull);
  const { fields, cgroup } = planContainer(image, opts);
  const security = await planSecurity(fields.security, store.seccompDir);
  const record = await createContainer(store, fields);

  let started = false;
  try {
    // Host directories and named volumes are made only now that the name
    // is known to be free: bad input leaves nothing behind.
    if (opts.mounts?.length) {
      record.mounts = await prepareMounts(store, opts.mounts);
      await updateContainer(store, record.id, { mounts: record.mounts });
    }
    if (detach) {
      await startDetached(store, record, image.config, cgroup, security);
      started = true;
      return { id: record.id, exitCode: 0 };
    }
    const { exitCode, oomKilled } = await start(store, record, image.config, opts, cgroup, security);
    started = true;
    if (!record.autoRemove) {
      // rm -f may have removed it meanwhile: nothing left to record, then.
      await markExited(store, record.id, exitCode, oomKilled).catch((e) => {
        if (!(e instanceof NotFoundError)) throw e;
      });
    }
    return { id: record.id, exitCode };
  } finally {
    if (!started || (record.autoRemove && !detach)) {
      // Another skiff may have seen the process gone and removed it already.
      await removeContainer(store, record.id, true).catch((e) => {
        if (!(e instanceof NotFoundError)) throw e;
      });
    }
  }
}

interface Ending {
  exitCode: number;
  oomKilled: boolean;
}

/** Runs a container in the foreground, in its cgroup for as long as it lives. */
async function start(
  store: Store,
  record: ContainerRecord,
  config: ImageConfig,
  opts: Pick<RunOptions, "tty" | "interactive"> & { output?: Output },
  cgroup: CgroupPlan,
  security: SecurityPlan,
): Promise<Ending> {
  createCgroup(cgroup);
  try {
    return await startInCgroup(store, record, config, opts, cgroup, security);
  } finally {
    await removeCgroup(cgroup);
  }
}

async function startInCgroup(
  store: Store,
  record: ContainerRecord,
  config: ImageConfig,
  opts: Pick<RunOptions, "tty" | "interactive"> & { output?: Output },
  cgroup: CgroupPlan,
  security: SecurityPlan,
): Promise<Ending> {
  const net = await planNetwork(store, record, config.config.ExposedPorts);
  const spec = {
    ...initSpecFor(store, record, layerDirs(store, config), security, opts.tty, cgroup.procs, net),
    keeperParent: Deno.pid,
  };
  const argv = keeperArgv(store.runtime(record.id), spec);
  // Without -t, a terminal's input is passed on through a pipe as -i's
  // is, as with `docker run -i`: `run busybox sh` typed at a prompt reads
  // its commands (the container gets no terminal: docker would give it
  // none, and would not pass stdin on at all). With -t, stdin is init's
  // go-ahead once skiff holds the pty's master (lib/container/init.ts).
  // A skiff started in the background (`run ... &` at a prompt) leaves
  // the terminal alone: reading it would stop skiff with SIGTTIN.
  const shared = !opts.tty && !opts.output && Deno.stdin.isTerminal() && inForeground(0);
  const passStdin = opts.interactive || shared;
  const ended = Promise.withResolvers<void>();
  const channel = InitChannel.open(spec.syncFifo, ended.promise);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: opts.tty || passStdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    channel.close();
    if (e instanceof Deno.errors.NotFound) {
      throw new StartError(
        `Cannot start a container: "${argv[0]}" is not installed; install util-linux`,
        EXIT_SKIFF,
      );
    }
    throw e;
  }
  child.status.finally(ended.resolve);
  const to = opts.output ?? { stdout: Deno.stdout, stderr: Deno.stderr };
  const output = Promise.all([pump(child.stdout, to.stdout), pump(child.stderr, to.stderr)]);
  if (passStdin && !opts.tty) pumpStdin(child.stdin);
  let terminal: TerminalRelay | undefined;
  let report: Report;
  // A pty's keyboard signals come from the container's own terminal: with
  // -t skiff passes on every signal it gets.
  const stop = forwardSignals(child.pid, shared);
  try {
    await markRunning(store, record.id, child.pid);
    report = await readReport(channel, async (pid, fd) => {
      terminal = relayTerminal(takeFd(pid, fd));
      const go = child.stdin.getWriter();
      await go.write(new TextEncoder().encode("\n"));
      await go.close();
    });
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status.finally(stop);
    throw e;
  } finally {
    channel.close();
  }
  const status = await child.status.finally(stop);
  await output;
  await terminal?.done;
  const oomKilled = wasOomKilled(cgroup);
  checkStarted(report);
  return { exitCode: exitCodeOf(status), oomKilled };
}

/** What init said on the sync FIFO, read to EOF. */
interface Report {
  started?: { pid: number; keeper: number };
  exec: boolean;
  failure?: StartFailure;
}

/**
 * Reads init's messages to EOF (lib/container/sync.ts), handing a pty's
 * master (a descriptor of init) to `onPty` while init waits for it.
 */
async function readReport(
  channel: InitChannel,
  onPty?: (pid: number, fd: number) => Promise<void>,
): Promise<Report> {
  const report: Report = { exec: false };
  for (let m = await channel.next(); m !== null; m = await channel.next()) {
    if ("started" in m) report.started = m.started;
    else if ("exec" in m) report.exec = true;
    else if ("failed" in m) report.failure = m.failed;
    else if ("pty" in m) {
      if (onPty === undefined || report.started === undefined) {
        throw new Error("Cannot start the container: its init offered a terminal unasked");
      }
      try {
        await onPty(report.started.pid, m.pty);
      } catch (e) {
        throw new StartError(`Cannot relay the container's terminal: ${describeError(e)}`, EXIT_SKIFF);
      }
    }
  }
  return report;
}

/**
 * Starts an exited container again, on its kept upper dir, with its
 * command, mounts and limits (`start`). Detached unless `attach`, which
 * waits and returns the exit code.
 *
 * @throws {InvalidStateError} when it is not exited (another start got it first, say)
 */
export async function startContainer(store: Store, ref: string, attach = false): Promise<number> {
  checkPrivileges();
  const record = await claimForStart(store, ref);
  let exitCode = EXIT_SKIFF;
  let oomKilled = false;
  try {
    const config = await readJson<ImageConfig>(store.blob(record.imageId));
    if (config === null) {
      throw new StartError(`Cannot start "${ref}": its image's config is gone`, EXIT_SKIFF);
    }
    const security = await planSecurity(record.security, store.seccompDir);
    const cgroup = cgroupFor(record.id, record.limits, record.security);
    await updateContainer(store, record.id, { cgroup: { version: cgroup.version, own: cgroup.own } });
    if (!attach) {
      await startDetached(store, record, config, cgroup, security);
      return 0;
    }
    ({ exitCode, oomKilled } = await start(store, record, config, {}, cgroup, security));
    return exitCode;
  } catch (e) {
    if (e instanceof StartError) exitCode = e.exitCode;
    throw e;
  } finally {
    // Unless the supervisor owns it now, this process records the end.
    const now = await readJson<ContainerRecord>(`${store.container(record.id)}/config.json`);
    if (now?.owner?.pid === Deno.pid) {
      if (record.autoRemove) await removeContainer(store, record.id, true);
      else await markExited(store, record.id, exitCode, oomKilled);
    }
  }
}

/**
 * Writes the init spec and returns the keeper's argv. The spec holds the
 * environment: a 0600 file, not argv, which every user of the host can
 * read in ps.
 */
function keeperArgv(runtime: string, spec: InitSpec): string[] {
  Deno.mkdirSync(runtime, { recursive: true, mode: 0o700 });
  const specFile = `${runtime}/init.json`;
  Deno.writeTextFileSync(specFile, JSON.stringify(spec), { mode: 0o600 });
  return containerArgv({ deno: Deno.execPath(), initModule: initModule(), initSpec: specFile });
}

/**
 * Checks init's report (see lib/container/init.ts): the command was
 * reached, or a StartError says why not.
 */
function checkStarted(report: Report): void {
  if (report.failure) throw new StartError(report.failure.message, report.failure.exitCode);
  if (!report.exec) {
    throw new StartError(
      "Cannot start the container: its init exited before reaching the command",
      EXIT_SKIFF,
    );
  }
}

/**
 * Starts a container under a supervisor (lib/supervise.ts) and returns
 * once its command runs: the supervisor owns it from then on.
 *
 * @throws {StartError} when the command could not be started
 */
async function startDetached(
  store: Store,
  record: ContainerRecord,
  config: ImageConfig,
  cgroup: CgroupPlan,
  security: SecurityPlan,
): Promise<void> {
  const dir = store.container(record.id);
  const runtime = store.runtime(record.id);
  // A start after a stop: the last run's reports must not be read as this one's.
  for (const stale of [`${dir}/exit`, `${runtime}/keeper`]) {
    try {
      Deno.removeSync(stale);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  createCgroup(cgroup);
  let supervisor: Deno.ChildProcess | undefined;
  let channel: InitChannel | undefined;
  try {
    const net = await planNetwork(store, record, config.config.ExposedPorts);
    const spec = initSpecFor(store, record, layerDirs(store, config), security, false, cgroup.procs, net);
    const keeper = keeperArgv(runtime, spec);
    const ended = Promise.withResolvers<void>();
    channel = InitChannel.open(spec.syncFifo, ended.promise);
    keeper[0] = findCommand(keeper[0]);
    const argv = supervisorArgv({
      dir,
      runtime,
      lock: store.lockFile,
      trash: `${store.tmpDir}/rm`,
      autoRemove: record.autoRemove,
      cgroups: cgroup.own,
    }, keeper);
    try {
      supervisor = new Deno.Command(argv[0], {
        args: argv.slice(1),
        stdin: "null",
        stdout: "null",
        stderr: "null",
        detached: true,
      }).spawn();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new StartError(
          `Cannot start a detached container: ${BUSYBOX} is missing; install busybox-static`,
          EXIT_SKIFF,
        );
      }
      throw e;
    }
    supervisor.unref();
    supervisor.status.finally(ended.resolve);
    // init's report, read to EOF: it comes at once when init executes the
    // command or dies, however long it took to get there.
    const report = await readReport(channel);
    if (!report.exec) {
      // init is gone, and its keeper with it: the supervisor ends now.
      await supervisor.status;
      // What the keeper's tools printed went to the log: the first error line says why.
      const said = parseLog(exists(`${dir}/log`) ? Deno.readTextFileSync(`${dir}/log`) : "")
        .find((l) => l.stream === "stderr")?.text;
      if (!report.failure && said) throw new StartError(`Cannot start the container: ${said}`, EXIT_SKIFF);
      checkStarted(report);
    }
    // init's parent is the keeper (the supervisor writes its pid to
    // `keeper` too, for whoever reads the runtime dir).
    const keeperPid = report.started!.keeper;
    const handover = supervisor;
    await updateContainer(store, record.id, {
      status: "running",
      startedAt: new Date().toISOString(),
      owner: { pid: handover.pid, startTime: processStartTime(handover.pid) ?? -1 },
      pid: keeperPid,
      pidStartTime: processStartTime(keeperPid) ?? undefined,
    });
  } catch (e) {
    // Not handed over: the container must not outlive this failure. The
    // supervisor's death takes the keeper, and so the container, with it.
    if (supervisor !== undefined) {
      try {
        supervisor.kill("SIGKILL");
      } catch { /* already gone */ }
      await supervisor.status;
    }
    await removeCgroup(cgroup);
    throw e;
  } finally {
    channel?.close();
  }
}

/** Where init lives: beside this module, whether that is a file or a URL. */
function initModule(): string {
  const url = new URL("./init.ts", import.meta.url);
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href;
}
