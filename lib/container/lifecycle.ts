/**
 * What happens to a running container from outside: its logs, `stop`,
 * `kill`, `wait`, `pause` and `unpause`. Signals go to the container's
 * PID 1 (the keeper's child); the record follows from the keeper's end (see
 * lib/containers.ts).
 *
 * A pause freezes the container's processes with the cgroup freezer, as
 * docker does, until unpaused. It is kept in the record (status `paused`)
 * and in a freezer cgroup named after the container (v1; v2 freezes the
 * container's own cgroup), so it outlives the skiff that paused it; the
 * sweep that thaws what a dead commit left frozen leaves it alone.
 *
 * @module
 */

import {
  changeContainer,
  type ContainerRecord,
  endRestarts,
  findContainer,
  isRunning,
  listContainers,
} from "./containers.ts";
import { freezePaused, setFrozen, thawPaused } from "../host/cgroup/freezer.ts";
import { InvalidStateError, NotFoundError, UsageError } from "../errors.ts";
import { SyscallError } from "../../ffi/errors.ts";
import { pidfdClose, pidfdOpen, pidfdSendSignal } from "../../ffi/pidfd.ts";
import { childrenOf, inUserNamespace, isAlive, parseSignal, SIGNAL_NUMBERS } from "../host/proc.ts";
import type { Store } from "../store/store.ts";
import { type LogLine, parseLog } from "./supervise.ts";

/**
 * The container's PID 1 on the host, when it runs: the child of its
 * keeper, once the keeper is known to be the recorded process (its pid
 * with its start time: a pid alone may have been given to another
 * process since).
 */
export function pid1Of(record: ContainerRecord): number | undefined {
  return isRunning(record) && keeperAlive(record) ? childrenOf(record.pid!)[0] : undefined;
}

function keeperAlive(record: ContainerRecord): boolean {
  return record.pid !== undefined && isAlive(record.pid, record.pidStartTime ?? -1);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Signals the container's PID 1 through a pidfd, which names that process
 * for good: opened first, then PID 1 checked to be still the keeper's
 * child (the keeper forks once), so the signal cannot reach a process
 * that took the pid after PID 1 died.
 *
 * @returns false when the container is not running (or stopped meanwhile)
 */
function signalPid1(record: ContainerRecord, signal: Deno.Signal): boolean {
  const pid1 = pid1Of(record);
  if (pid1 === undefined) return false;
  let fd: number;
  try {
    fd = pidfdOpen(pid1);
  } catch (e) {
    if (e instanceof SyscallError && e.code === "ESRCH") return false;
    throw e;
  }
  try {
    if (!keeperAlive(record) || !childrenOf(record.pid!).includes(pid1)) return false;
    pidfdSendSignal(fd, SIGNAL_NUMBERS[signal]);
    return true;
  } catch (e) {
    if (e instanceof SyscallError && e.code === "ESRCH") return false;
    throw e;
  } finally {
    pidfdClose(fd);
  }
}

/**
 * Sends a signal to a running container's PID 1 (a PID 1 ignores those it
 * has no handler for, SIGKILL aside).
 *
 * @param signal `KILL`, `SIGTERM`, `15`...
 * @throws {InvalidStateError} when the container is not running
 */
export async function killContainer(store: Store, ref: string, signal = "KILL"): Promise<ContainerRecord> {
  const sig = parseSignal(signal);
  if (sig === null) {
    throw new UsageError(`Unknown signal "${signal}": use a name like TERM or KILL, or a number`);
  }
  const record = findContainer(await listContainers(store), ref);
  let sent: boolean;
  try {
    sent = signalPid1(record, sig);
  } catch (e) {
    throw new Error(`Cannot kill container "${ref}"`, { cause: e });
  }
  if (!sent) throw new InvalidStateError(`Cannot kill container "${ref}": it is not running`);
  // As docker: a paused container is thawed for SIGKILL, which it could not
  // take frozen; another signal stays pending until it is unpaused.
  if (sig === "SIGKILL") await unpauseIfPaused(store, record);
  return record;
}

/**
 * Stops a container: its stop signal (SIGTERM unless `--stop-signal` or the
 * image said) to its PID 1, SIGKILL after `timeout` seconds (else its
 * `--stop-timeout`, else 10), returning as soon as it is gone and its
 * record says so. A container that
 * is not running is left as it is, as docker does.
 *
 * @throws {Error} naming the container when a signal cannot be sent
 */
export async function stopContainer(store: Store, ref: string, timeout?: number): Promise<ContainerRecord> {
  const record = findContainer(await listContainers(store), ref);
  const wait = timeout ?? record.stopTimeout ?? 10;
  let current = record;
  const signal = (sig: Deno.Signal) => {
    try {
      return signalPid1(current, sig);
    } catch (e) {
      throw new Error(`Cannot stop container "${ref}"`, { cause: e });
    }
  };
  await unpauseIfPaused(store, record);
  const first = (record.stopSignal as Deno.Signal | undefined) ?? "SIGTERM";
  // A restart policy ends with stop, as docker's. Between two runs, or
  // while its supervisor starts it again, it has no PID 1 to signal yet:
  // wait until it has one, or its supervisor gave up.
  endRestarts(store, record);
  while (!signal(first)) {
    if (!record.restart) return record;
    const now = (await listContainers(store)).find((r) => r.id === record.id);
    if (now === undefined || now.status === "exited") return now ?? record;
    current = now;
    await sleep(20);
  }
  const until = Date.now() + wait * 1000;
  while (keeperAlive(current) && Date.now() < until) await sleep(20);
  if (keeperAlive(current)) {
    signal("SIGKILL");
    while (keeperAlive(current)) await sleep(20);
  }
  // The owner (supervisor or foreground skiff) records the end; wait for it.
  for (let i = 0; i < 250; i++) {
    const now = (await listContainers(store)).find((r) => r.id === record.id);
    if (now === undefined || now.status === "exited") return now ?? record;
    await sleep(20);
  }
  return record;
}

/**
 * Waits until a container has exited and returns its exit code, as
 * `docker wait` does; at once for one that already has. Between looks at
 * the record only /proc is read (is its keeper alive?), so a long wait
 * costs no store lock.
 *
 * @throws {NotFoundError} when no container answers to `ref`, or it is
 *   removed (`--rm`, `rm -f`) before its exit code could be read
 */
export async function waitContainer(store: Store, ref: string): Promise<number> {
  let record = findContainer(await listContainers(store), ref);
  while (record.status !== "exited") {
    await sleep(keeperAlive(record) ? 50 : 20);
    if (keeperAlive(record)) continue;
    const now = (await listContainers(store)).find((r) => r.id === record.id);
    if (now === undefined) {
      throw new NotFoundError(`Container "${ref}" was removed before its exit code could be read`);
    }
    record = now;
  }
  return record.exitCode ?? 0;
}

/** What `logs` prints. */
export interface LogOptions {
  /** Keep printing new lines until the container exits. */
  follow?: boolean;
  /** Only the last N lines (before following). */
  tail?: number;
  /** Only lines from this time on (seconds since the epoch). */
  since?: number;
  /** Only lines before this time (seconds since the epoch); following ends there. */
  until?: number;
}

/**
 * A detached container's log, line by line, to `write`.
 *
 * @throws {InvalidStateError} when the container has no log (it ran in the foreground)
 * @throws {Error} naming the container and the cause when the log cannot be read or a line of it is damaged
 */
export async function containerLogs(
  store: Store,
  ref: string,
  opts: LogOptions,
  write: (line: LogLine) => void,
): Promise<void> {
  const record = findContainer(await listContainers(store), ref);
  const path = `${store.container(record.id)}/log`;
  const cannot = (cause: unknown) => new Error(`Cannot read the logs of container "${ref}"`, { cause });
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw cannot(e);
    throw new InvalidStateError(
      `No logs for container "${ref}": it ran in the foreground, so its output went to the terminal; run -d keeps a log`,
    );
  }
  using _ = file;
  const decoder = new TextDecoder();
  let pending = "";
  let lineNumber = 0;
  const drain = async (limit?: number) => {
    const chunk = new Uint8Array(65536);
    let text = pending;
    try {
      for (let n = await file.read(chunk); n !== null; n = await file.read(chunk)) {
        text += decoder.decode(chunk.subarray(0, n), { stream: true });
      }
    } catch (e) {
      throw cannot(e);
    }
    const end = text.lastIndexOf("\n") + 1;
    pending = text.slice(end);
    const lines = parseLog(text.slice(0, end));
    // The supervisor writes whole lines; only the last may be cut short
    // (it stays pending). Any other line that does not parse is damage.
    const whole = text.slice(0, end).split("\n").slice(0, -1);
    if (lines.length !== whole.length) {
      const bad = whole.findIndex((line) => parseLog(line).length === 0);
      throw cannot(
        new Error(`line ${lineNumber + bad + 1} of ${path} is damaged: it is not "TIME STREAM TEXT"`),
      );
    }
    lineNumber += whole.length;
    const { since = -Infinity, until = Infinity } = opts;
    const timely = lines.filter((l) => l.time >= since && l.time < until);
    for (const line of limit === undefined ? timely : timely.slice(Math.max(0, timely.length - limit))) {
      write(line);
    }
  };
  await drain(opts.tail);
  if (!opts.follow) return;
  const running = async () =>
    isRunning((await listContainers(store)).find((r) => r.id === record.id) ?? { status: "exited" });
  const before = () => opts.until === undefined || Date.now() / 1000 < opts.until;
  while (before() && await running()) {
    await sleep(100);
    await drain();
  }
  await drain();
}

/** The container's own cgroup v2, when it has one: frozen through cgroup.freeze. */
function ownV2(record: ContainerRecord): string | undefined {
  return record.cgroup?.version === "v2" ? record.cgroup.own[0] : undefined;
}

/**
 * Refuses `pause` or `unpause` rootless, where the freezer is root's.
 *
 * @throws {UsageError} saying so, in a user namespace
 */
export function refuseRootless(verb: "pause" | "unpause"): void {
  if (inUserNamespace()) {
    throw new UsageError(
      `${verb} uses the cgroup freezer, and rootless containers have none here (the cgroup v1 hierarchies are root's): run with sudo`,
    );
  }
}

/**
 * Freezes every process of a running container, as `docker pause` does.
 *
 * @throws {InvalidStateError} when it is not running, or already paused
 * @throws {UsageError} rootless, where there is no freezer to use
 */
export async function pauseContainer(store: Store, ref: string): Promise<ContainerRecord> {
  refuseRootless("pause");
  return await changeContainer(store, ref, async (record) => {
    if (record.status === "paused") throw new InvalidStateError(`Container "${ref}" is already paused`);
    const pid1 = pid1Of(record);
    if (pid1 === undefined) throw new InvalidStateError(`Container "${ref}" is not running`);
    const v2 = ownV2(record);
    if (v2 !== undefined) await setFrozen(v2, true);
    else await freezePaused(record.id, pid1);
    return { ...record, status: "paused" };
  });
}

/**
 * Thaws a paused container, as `docker unpause` does.
 *
 * @throws {InvalidStateError} when it is not paused
 * @throws {UsageError} rootless, where there is no freezer to use
 */
export async function unpauseContainer(store: Store, ref: string): Promise<ContainerRecord> {
  refuseRootless("unpause");
  return await changeContainer(store, ref, async (record) => {
    if (record.status !== "paused") throw new InvalidStateError(`Container "${ref}" is not paused`);
    await thaw(record);
    return { ...record, status: "running" };
  });
}

/** Thaws a paused container's processes (the record is the caller's). */
async function thaw(record: ContainerRecord): Promise<void> {
  const v2 = ownV2(record);
  if (v2 !== undefined) await setFrozen(v2, false);
  else await thawPaused(record.id);
}

/**
 * Unpauses a container if it is paused, for `stop` and `kill`, whose
 * signals a frozen process would only take once thawed.
 */
export async function unpauseIfPaused(store: Store, record: ContainerRecord): Promise<void> {
  if (record.status !== "paused") return;
  await changeContainer(store, record.id, async (now) => {
    if (now.status === "paused") await thaw(now);
    return now.status === "paused" ? { ...now, status: "running" } : now;
  });
}
