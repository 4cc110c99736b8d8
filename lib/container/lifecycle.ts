/**
 * What happens to a running container from outside: its logs, `stop` and
 * `kill`. Signals go to the container's PID 1 (the keeper's child); the
 * record follows from the keeper's end (see lib/containers.ts).
 *
 * @module
 */

import { type ContainerRecord, findContainer, listContainers } from "./containers.ts";
import { InvalidStateError, UsageError } from "../errors.ts";
import { childrenOf, isAlive, parseSignal } from "../host/proc.ts";
import type { Store } from "../store/store.ts";
import { type LogLine, parseLog } from "./supervise.ts";

/** The container's PID 1 on the host, when it runs. */
export function pid1Of(record: ContainerRecord): number | undefined {
  return record.status === "running" && record.pid ? childrenOf(record.pid)[0] : undefined;
}

function keeperAlive(record: ContainerRecord): boolean {
  return record.pid !== undefined && isAlive(record.pid, record.pidStartTime ?? -1);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
  const pid1 = pid1Of(record);
  if (pid1 === undefined) throw new InvalidStateError(`Cannot kill container "${ref}": it is not running`);
  Deno.kill(pid1, sig);
  return record;
}

/**
 * Stops a container: SIGTERM to its PID 1, SIGKILL after `timeout` seconds,
 * returning as soon as it is gone and its record says so. A container that
 * is not running is left as it is, as docker does.
 */
export async function stopContainer(store: Store, ref: string, timeout = 10): Promise<ContainerRecord> {
  const record = findContainer(await listContainers(store), ref);
  const pid1 = pid1Of(record);
  if (pid1 === undefined) return record;
  try {
    Deno.kill(pid1, "SIGTERM");
  } catch { /* gone already */ }
  const until = Date.now() + timeout * 1000;
  while (keeperAlive(record) && Date.now() < until) await sleep(20);
  if (keeperAlive(record)) {
    try {
      Deno.kill(pid1, "SIGKILL");
    } catch { /* gone already */ }
    while (keeperAlive(record)) await sleep(20);
  }
  // The owner (supervisor or foreground skiff) records the end; wait for it.
  for (let i = 0; i < 250; i++) {
    const now = (await listContainers(store)).find((r) => r.id === record.id);
    if (now === undefined || now.status === "exited") return now ?? record;
    await sleep(20);
  }
  return record;
}

/** What `logs` prints. */
export interface LogOptions {
  /** Keep printing new lines until the container exits. */
  follow?: boolean;
  /** Only the last N lines (before following). */
  tail?: number;
}

/**
 * A detached container's log, line by line, to `write`.
 *
 * @throws {InvalidStateError} when the container has no log (it ran in the foreground)
 */
export async function containerLogs(
  store: Store,
  ref: string,
  opts: LogOptions,
  write: (line: LogLine) => void,
): Promise<void> {
  const record = findContainer(await listContainers(store), ref);
  const path = `${store.container(record.id)}/log`;
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path);
  } catch {
    throw new InvalidStateError(
      `No logs for container "${ref}": it ran in the foreground, so its output went to the terminal; run -d keeps a log`,
    );
  }
  using _ = file;
  const decoder = new TextDecoder();
  let pending = "";
  const drain = async (limit?: number) => {
    const chunk = new Uint8Array(65536);
    let text = pending;
    for (let n = await file.read(chunk); n !== null; n = await file.read(chunk)) {
      text += decoder.decode(chunk.subarray(0, n), { stream: true });
    }
    const end = text.lastIndexOf("\n") + 1;
    pending = text.slice(end);
    const lines = parseLog(text.slice(0, end));
    for (const line of limit === undefined ? lines : lines.slice(Math.max(0, lines.length - limit))) {
      write(line);
    }
  };
  await drain(opts.tail);
  if (!opts.follow) return;
  const running = async () =>
    (await listContainers(store)).find((r) => r.id === record.id)?.status === "running";
  while (await running()) {
    await sleep(100);
    await drain();
  }
  await drain();
}
