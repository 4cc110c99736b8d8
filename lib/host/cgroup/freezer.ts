/**
 * Pausing a running container, so that a commit reads an upper dir nobody
 * is writing to.
 *
 * - cgroup v1 ({@link withFrozen}): every process of the container's pid
 *   namespace moves into a freezer cgroup of its own, named after the
 *   skiff that froze it; afterwards they move back and the cgroup goes. If
 *   that skiff dies in between, {@link sweepFreezers} (run by the next
 *   command that lists containers) thaws the container and removes the
 *   cgroup.
 * - cgroup v2 ({@link withFrozenCgroup}): the container's own cgroup is
 *   frozen through `cgroup.freeze` (Linux 5.2), with a marker file naming
 *   the freezing skiff; {@link thawIfOrphaned} thaws it if that skiff died.
 *
 * @module
 */

import { inUserNamespace, isAlive, processesInPidNamespace, processStartTime } from "../proc.ts";

/** Where the v1 freezer hierarchy is mounted (no systemd here: DESIGN.md). */
export const FREEZER = "/sys/fs/cgroup/freezer";
const PREFIX = "skiff-freeze-";
const PAUSE_PREFIX = "skiff-pause-";

/** Whether this machine has a v1 freezer hierarchy skiff can use (root's only). */
export function hasFreezer(root = FREEZER): boolean {
  if (inUserNamespace()) return false;
  try {
    return Deno.statSync(`${root}/cgroup.procs`).isFile;
  } catch {
    return false;
  }
}

function procsOf(cgroup: string): number[] {
  return Deno.readTextFileSync(`${cgroup}/cgroup.procs`).split("\n").filter((l) => l !== "").map(Number);
}

function moveTo(cgroup: string, pid: number): void {
  try {
    Deno.writeTextFileSync(`${cgroup}/cgroup.procs`, `${pid}\n`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound) && !/ESRCH|No such process/.test(String(e))) throw e;
  }
}

async function setState(cgroup: string, state: "FROZEN" | "THAWED"): Promise<void> {
  Deno.writeTextFileSync(`${cgroup}/freezer.state`, state);
  // FREEZING until every task has stopped at a freezable point.
  for (let i = 0; i < 500 && Deno.readTextFileSync(`${cgroup}/freezer.state`).trim() !== state; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const now = Deno.readTextFileSync(`${cgroup}/freezer.state`).trim();
  if (now !== state) throw new Error(`Cannot set the freezer of "${cgroup}" to ${state}: it stays ${now}`);
}

/**
 * Moves a freeze cgroup's processes back to the root and removes it. They
 * move while still frozen, so none can fork into the cgroup meanwhile; the
 * move into the (never frozen) root thaws each.
 */
async function release(cgroup: string, root: string): Promise<void> {
  for (let round = 0; procsOf(cgroup).length > 0; round++) {
    if (round === 20) throw new Error(`Cannot empty the freeze cgroup "${cgroup}"`);
    for (const pid of procsOf(cgroup)) moveTo(root, pid);
  }
  await setState(cgroup, "THAWED");
  Deno.removeSync(cgroup);
}

/**
 * Runs `fn` with every process of the container whose PID 1 is `pid1`
 * frozen (see freezeInto).
 *
 * @throws {Error} when there is no freezer hierarchy, saying so
 */
export async function withFrozen<T>(pid1: number, fn: () => Promise<T>, root = FREEZER): Promise<T> {
  if (inUserNamespace()) {
    throw new Error(
      "Cannot pause the container: rootless skiff cannot use the cgroup freezer (it is root's here); stop the container first, or run with sudo",
    );
  }
  if (!hasFreezer(root)) {
    throw new Error(
      `Cannot pause the container: no cgroup v1 freezer at "${root}"; stop the container first`,
    );
  }
  const cgroup = `${root}/${PREFIX}${Deno.pid}-${processStartTime(Deno.pid)}-${pid1}`;
  Deno.mkdirSync(cgroup);
  try {
    await freezeInto(cgroup, pid1);
    return await fn();
  } finally {
    await release(cgroup, root);
  }
}

/**
 * Moves every process of `pid1`'s pid namespace into the freezer cgroup
 * `cgroup` and freezes it. Processes forked while they are being moved are
 * caught by the next round: it freezes, looks again, and moves and
 * refreezes until none is left outside.
 */
async function freezeInto(cgroup: string, pid1: number): Promise<void> {
  for (let round = 0;; round++) {
    const inside = new Set(procsOf(cgroup));
    const outside = processesInPidNamespace(pid1).filter((p) => !inside.has(p));
    if (outside.length === 0 && round > 0) return;
    if (round > 0) await setState(cgroup, "THAWED");
    for (const pid of outside) moveTo(cgroup, pid);
    await setState(cgroup, "FROZEN");
    if (round === 20) throw new Error("Cannot pause the container: its processes keep forking");
  }
}

/**
 * The freezer cgroup of a container paused with `pause`: named after the
 * container, not after a skiff, so {@link sweepFreezers} (which thaws what
 * a dead commit left frozen) never matches it and the pause outlives the
 * skiff that made it.
 */
export function pauseCgroup(id: string, root = FREEZER): string {
  return `${root}/${PAUSE_PREFIX}${id}`;
}

/**
 * Pauses (freezes) every process of `pid1`'s pid namespace until
 * {@link thawPaused}, in the cgroup v1 freezer cgroup of container `id`.
 * On failure nothing stays frozen.
 *
 * @throws {Error} when there is no freezer hierarchy, or the processes keep forking
 */
export async function freezePaused(id: string, pid1: number, root = FREEZER): Promise<void> {
  if (!hasFreezer(root)) throw new Error(`Cannot pause the container: no cgroup v1 freezer at "${root}"`);
  const cgroup = pauseCgroup(id, root);
  Deno.mkdirSync(cgroup);
  try {
    await freezeInto(cgroup, pid1);
  } catch (e) {
    await release(cgroup, root);
    throw e;
  }
}

/** Thaws a container {@link freezePaused} froze, and removes its cgroup; nothing when there is none. */
export async function thawPaused(id: string, root = FREEZER): Promise<void> {
  const cgroup = pauseCgroup(id, root);
  try {
    Deno.statSync(cgroup);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  await release(cgroup, root);
}

/** Thaws and removes freeze cgroups whose skiff died before it could. */
export async function sweepFreezers(root = FREEZER): Promise<void> {
  if (!hasFreezer(root)) return;
  for (const entry of Deno.readDirSync(root)) {
    const match = new RegExp(`^${PREFIX}(\\d+)-(\\d+)-\\d+$`).exec(entry.name);
    if (match && !isAlive(Number(match[1]), Number(match[2]))) await release(`${root}/${entry.name}`, root);
  }
}

/**
 * Runs `fn` with the cgroup v2 `cgroup` frozen, everything in it stopped.
 * `marker` names this skiff meanwhile (see {@link thawIfOrphaned}).
 */
export async function withFrozenCgroup<T>(cgroup: string, marker: string, fn: () => Promise<T>): Promise<T> {
  Deno.writeTextFileSync(marker, `${Deno.pid} ${processStartTime(Deno.pid)}`);
  try {
    await setFrozen(cgroup, true);
    return await fn();
  } finally {
    await setFrozen(cgroup, false);
    Deno.removeSync(marker);
  }
}

/** Thaws a cgroup v2 whose marker names a skiff that died while it was frozen. */
export async function thawIfOrphaned(cgroup: string, marker: string): Promise<void> {
  let text: string;
  try {
    text = Deno.readTextFileSync(marker);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  const [pid, startTime] = text.split(" ").map(Number);
  if (isAlive(pid, startTime)) return;
  await setFrozen(cgroup, false);
  Deno.removeSync(marker);
}

/** Writes cgroup.freeze and waits until cgroup.events says it took. */
export async function setFrozen(cgroup: string, frozen: boolean): Promise<void> {
  const want = `frozen ${frozen ? 1 : 0}`;
  Deno.writeTextFileSync(`${cgroup}/cgroup.freeze`, frozen ? "1" : "0");
  for (let i = 0; i < 500; i++) {
    if (Deno.readTextFileSync(`${cgroup}/cgroup.events`).split("\n").includes(want)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`Cannot ${frozen ? "freeze" : "thaw"} the cgroup "${cgroup}": it does not report ${want}`);
}
