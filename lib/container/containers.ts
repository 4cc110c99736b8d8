/**
 * Container records: one `config.json` per container, written atomically
 * under the store lock, and checked against /proc whenever they are read,
 * so a container whose process is gone (skiff was SIGKILLed, say) shows as
 * exited at the next command instead of running forever.
 *
 * @module
 */

import { InvalidStateError, NotFoundError, UsageError } from "../errors.ts";
import { sweepFreezers, thawIfOrphaned, thawPaused } from "../host/cgroup/freezer.ts";
import { isAlive, processStartTime } from "../host/proc.ts";
import { selfPid } from "../../ffi/libc.ts";
import { hasImage } from "../store/gc.ts";
import { DamagedFileError, exists, readJson, type Store, writeAtomic } from "../store/store.ts";
import type { Mount } from "./volumes.ts";
import type { SecurityOptions } from "./security.ts";
import type { NetworkRequest, NetworkSettings } from "./network.ts";
import { type CgroupVersion, type Limits, removeCgroup } from "../host/cgroup/cgroups.ts";

/**
 * A container's life: created (being set up), running, paused (running,
 * its processes frozen by `pause`), exited.
 */
export type Status = "created" | "running" | "paused" | "exited";

/** Whether its processes exist, frozen or not: docker's `State.Running`, true when paused too. */
export function isRunning(record: Pick<ContainerRecord, "status">): boolean {
  return record.status === "running" || record.status === "paused";
}

/** What skiff keeps about a container. */
export interface ContainerRecord {
  /** 64 hex characters from a cryptographic random source. */
  id: string;
  /** Its name: given with `--name`, else a generated `adjective_noun_N`. */
  name: string;
  /** The image as the user named it, and its id. */
  image: string;
  /** The image's id (sha256 of its config, hex), pinned for the container's life. */
  imageId: string;
  /** The command's argv. */
  command: string[];
  /** The environment as `KEY=VALUE` entries: the image's, then `-e`. */
  env: string[];
  /** The working directory inside the container. */
  workdir: string;
  /** The container's hostname (default: the short id). */
  hostname: string;
  /** Remove the container when it exits (`run --rm`). */
  autoRemove: boolean;
  /** Volumes bound in. */
  mounts: Mount[];
  /** Resource limits (`-m`, `--cpus`...). */
  limits: Limits;
  /** Seccomp, no_new_privs, capabilities, `--privileged`: the defaults when absent. */
  security?: SecurityOptions;
  /** What `stop` sends first (`--stop-signal` or the image's STOPSIGNAL), as Deno names it; SIGTERM when absent. */
  stopSignal?: string;
  /** `--stop-timeout`: `stop`'s wait before SIGKILL unless it is given one; 10 s when absent. */
  stopTimeout?: number;
  /** `--label`s. */
  labels?: Record<string, string>;
  /** `--read-only`: the root is mounted read-only. */
  readOnly?: boolean;
  /** `--tmpfs` values, as given. */
  tmpfs?: string[];
  /** `--network`, `-p`, `--dns`, `--add-host`: what it asked of the network (none when absent). */
  network?: NetworkRequest;
  /** Its addresses and published ports, from its last start (live while it runs). */
  networkSettings?: NetworkSettings;
  /** The container's cgroup while it runs: its version and directories. */
  cgroup?: { version: CgroupVersion; own: string[] };
  /** Whether the kernel's OOM killer ended it. */
  oomKilled?: boolean;
  /** ISO 8601 times. */
  created: string;
  /** When it last started, ISO 8601. */
  startedAt?: string;
  /** When it last exited, ISO 8601. */
  finishedAt?: string;
  /** Where it is in its life: created, running or exited. */
  status: Status;
  /**
   * The skiff process that keeps this record up to date (the one that ran
   * it), with its start time: a pid alone could be reused. While it lives,
   * nobody else touches the record; once it is gone, the next command does
   * its bookkeeping.
   */
  owner?: ProcessRef;
  /**
   * Its runtime dir as made (see Store.runtime): removal clears this one
   * too, whatever --runroot the remover was given.
   */
  runtime?: string;
  /** The container's keeper process (see lib/spawn.ts) while it runs. */
  pid?: number;
  /** The keeper's start time (clock ticks since boot), so a reused pid is not taken for it. */
  pidStartTime?: number;
  /** Its exit code once exited: the command's, or 128+N for signal N. */
  exitCode?: number;
  /** Made by `create`, mounts and all: kept, `created`, until a start (which may fail, leaving it exited). */
  ready?: boolean;
  /** `--restart`: `no`, `on-failure[:N]`, `always` or `unless-stopped`, carried out by a detached container's supervisor. */
  restart?: string;
  /** How many times its supervisor restarted it since it was last started by hand. */
  restartCount?: number;
}

/** Whether `start` may claim it: exited, or made by `create` and never claimed. */
export function canStart(record: Pick<ContainerRecord, "status" | "owner">): boolean {
  return record.status === "exited" || (record.status === "created" && record.owner === undefined);
}

/** One process for good: its pid and its start time. */
export interface ProcessRef {
  /** The process id. */
  pid: number;
  /** Its start time in clock ticks since boot (/proc/PID/stat field 22). */
  startTime: number;
}

/** This process, as an owner: its pid as the mounted /proc counts it (see selfPid). */
function self(): ProcessRef {
  return { pid: selfPid(), startTime: processStartTime(selfPid()) ?? -1 };
}

/** The fields a caller chooses when creating a container. */
export type NewContainer =
  & Omit<
    ContainerRecord,
    "id" | "created" | "status" | "pid" | "pidStartTime" | "name"
  >
  & { id?: string; name?: string };

/** Exit code recorded when a container's process vanished unobserved. */
const EXIT_KILLED = 137;

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** A new container id: 32 random bytes as hex. */
export function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const ADJECTIVES = [
  "brave",
  "calm",
  "eager",
  "fond",
  "gentle",
  "happy",
  "jolly",
  "keen",
  "lucid",
  "merry",
  "nimble",
  "proud",
  "quiet",
  "swift",
  "tender",
  "witty",
];
const NOUNS = [
  "albatross",
  "bream",
  "cormorant",
  "dolphin",
  "eider",
  "finch",
  "gannet",
  "heron",
  "ibis",
  "jay",
  "kittiwake",
  "loon",
  "marlin",
  "narwhal",
  "osprey",
  "puffin",
  "skua",
  "tern",
];

function randomName(): string {
  const [a, b, c] = crypto.getRandomValues(new Uint32Array(3));
  return `${ADJECTIVES[a % ADJECTIVES.length]}_${NOUNS[b % NOUNS.length]}_${c % 1000}`;
}

/**
 * Throws a UsageError unless `name` is a valid container name. A name of
 * 64 hex digits is refused, whether or not a container has that id: it
 * would read as an id, to the user and to {@link findContainer}.
 */
export function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new UsageError(
      `Invalid container name "${name}": use letters, digits, "_", "." and "-", starting with a letter or digit`,
    );
  }
  if (/^[0-9a-f]{64}$/.test(name)) {
    throw new UsageError(
      `Invalid container name "${name}": 64 hex digits read as a container id; choose another name`,
    );
  }
}

function recordPath(store: Store, id: string): string {
  return store.record(id);
}

/** A container whose record cannot be parsed: only its id and the file are known. */
export interface DamagedRecord {
  id: string;
  /** The record's path. */
  file: string;
  /** Why it cannot be read, e.g. `Unterminated string in JSON at position 120`. */
  reason: string;
}

/**
 * Creates a container's record and directories (upper, work, merged).
 * Its status is `created`, and this process is its owner. The record
 * names its image before the lock is released: from then on, rmi and the
 * collector see the image as in use.
 *
 * @throws {UsageError} when the name is invalid or taken
 * @throws {NotFoundError} when the image was removed since it was resolved
 */
export async function createContainer(
  store: Store,
  fields: NewContainer,
): Promise<ContainerRecord> {
  if (fields.name !== undefined) checkName(fields.name);
  return await store.locked(async () => {
    if (!(await hasImage(store, fields.imageId))) {
      throw new NotFoundError(
        `Cannot create the container: image "${fields.image}" was removed meanwhile; try again`,
      );
    }
    const existing = await readAll(store);
    const taken = new Set(existing.map((r) => r.name));
    if (fields.name !== undefined) refuseTaken(existing, fields.name);
    let name = fields.name;
    while (name === undefined || taken.has(name)) name = randomName();
    const record: ContainerRecord = {
      ...fields,
      id: fields.id ?? newId(),
      name,
      created: new Date().toISOString(),
      status: "created",
      owner: fields.owner ?? self(),
    };
    record.runtime = store.runtime(record.id);
    const dir = store.container(record.id);
    Deno.mkdirSync(dir, { mode: 0o700 });
    try {
      for (const sub of ["upper", "work", "merged"]) Deno.mkdirSync(`${dir}/${sub}`);
      await writeAtomic(recordPath(store, record.id), JSON.stringify(record, null, 2));
    } catch (e) {
      store.discard(dir);
      throw e;
    }
    return record;
  });
}

/** Throws docker's conflict, in skiff's words, when a container already has `name`. */
function refuseTaken(records: ContainerRecord[], name: string): void {
  const owner = records.find((r) => r.name === name);
  if (owner === undefined) return;
  throw new UsageError(
    `The container name "${name}" is already in use by container ${
      owner.id.slice(0, 12)
    }; remove it or choose another name`,
  );
}

/**
 * Renames a container, as `docker rename` does: running or not, under the
 * store lock, so two renames cannot take one name. Its hostname stays (as
 * docker's does).
 *
 * @throws {UsageError} when the new name is invalid, the same, or taken
 * @throws {NotFoundError} when no container answers to `ref`
 */
export async function renameContainer(store: Store, ref: string, name: string): Promise<ContainerRecord> {
  checkName(name);
  return await changeContainer(store, ref, (record, records) => {
    if (record.name === name) {
      throw new UsageError(`Renaming a container with the same name as its current name: "${name}"`);
    }
    refuseTaken(records, name);
    return Promise.resolve({ ...record, name });
  });
}

/**
 * Changes a container's record under the store lock: `change` gets it
 * (found as {@link findContainer} finds it) and every record, and returns
 * the record to write, or throws to change nothing. For a decision and
 * its record kept together (rename, pause).
 *
 * @throws {NotFoundError} when no container answers to `ref`
 */
export async function changeContainer(
  store: Store,
  ref: string,
  change: (record: ContainerRecord, records: ContainerRecord[]) => Promise<ContainerRecord>,
): Promise<ContainerRecord> {
  return await store.locked(async () => {
    const records = await readAll(store);
    const changed = await change(findContainer(records, ref), records);
    await writeAtomic(recordPath(store, changed.id), JSON.stringify(changed, null, 2));
    return changed;
  });
}

/**
 * Claims an exited container for a new start: under the store lock it
 * becomes `created`, owned by `owner` (this process, or the supervisor
 * that will record its end), so a concurrent start, stop or
 * rm sees that and not a stale state.
 *
 * @throws {InvalidStateError} when it is not exited
 */
export async function claimForStart(
  store: Store,
  ref: string,
  owner: ProcessRef = self(),
  restart = false,
): Promise<ContainerRecord> {
  return await store.locked(async () => {
    const record = findContainer(await readAll(store), ref);
    // a restart: the supervisor that owns it claims it again once its end is in DIR/exit
    const again = restart && record.owner?.pid === owner.pid && record.owner.startTime === owner.startTime &&
      readExitFile(`${store.container(record.id)}/exit`) !== null;
    // a stop between the supervisor's last look and this claim ends the loop here
    if (again && exists(`${store.container(record.id)}/norestart`)) {
      throw new InvalidStateError(`Not restarting container "${ref}": it was stopped`);
    }
    if (!canStart(record) && !again) {
      throw new InvalidStateError(`Cannot start container "${ref}": it is ${record.status}`);
    }
    const claimed: ContainerRecord = {
      ...record,
      status: "created",
      owner,
      restartCount: again ? (record.restartCount ?? 0) + 1 : undefined,
      // the last run's keeper: gone, and not to be taken for this run's
      pid: undefined,
      pidStartTime: undefined,
      exitCode: undefined,
      finishedAt: undefined,
      oomKilled: undefined,
    };
    // The last run's end, so a start that dies is not taken for it; and
    // a start by hand undoes a stop's end of the restart policy.
    for (const file of again ? ["exit"] : ["exit", "norestart"]) {
      try {
        Deno.removeSync(`${store.container(record.id)}/${file}`);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    await writeAtomic(recordPath(store, record.id), JSON.stringify(claimed, null, 2));
    return claimed;
  });
}

/** Changes fields of a container's record. */
export async function updateContainer(
  store: Store,
  id: string,
  fields: Partial<Omit<ContainerRecord, "id">>,
): Promise<void> {
  await update(store, id, (r) => ({ ...r, ...fields }));
}

/** Records that the container's process `pid` has started. */
export async function markRunning(store: Store, id: string, pid: number): Promise<void> {
  await update(store, id, (r) => ({
    ...r,
    status: "running",
    pid,
    pidStartTime: processStartTime(pid) ?? undefined,
    startedAt: new Date().toISOString(),
  }));
}

/** Records that the container exited with `exitCode`. */
export async function markExited(
  store: Store,
  id: string,
  exitCode: number,
  oomKilled = false,
): Promise<void> {
  await update(store, id, async (r) => {
    await leaveNetworks(store, r);
    return { ...exited(r, exitCode), oomKilled };
  });
}

/**
 * Whether a container's network settings hold something on the host that
 * must be let go of when it ends: names on a user network, or port rules.
 * (On the default bridge without ports there is nothing: its veth goes
 * with its namespace, its address with its record's status.)
 */
export function holdsHostState(settings: NetworkSettings): boolean {
  return settings.ports.length > 0 || settings.attachments.some((a) => a.network !== "bridge");
}

/** The script that writes the containers' /etc/hosts and removes a container's port rules. */
export const NETWORK_SCRIPT = new URL("./network.sh", import.meta.url).pathname;

/**
 * Lets go of what a container held on the host's network (its port rules,
 * its names in its peers' /etc/hosts): network.sh `leave`, which the
 * supervisor runs itself when the container exits; idempotent. Its veth
 * went with its network namespace. The caller holds the store lock.
 */
async function leaveNetworks(store: Store, record: ContainerRecord): Promise<void> {
  if (record.networkSettings === undefined || !holdsHostState(record.networkSettings)) return;
  const out = await new Deno.Command("sh", {
    args: [NETWORK_SCRIPT, "leave", store.root, record.id],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const said = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
    console.warn(`skiff: warning: container ${record.id.slice(0, 12)}'s network rules: ${said}`);
  }
}

function exited(r: ContainerRecord, exitCode: number): ContainerRecord {
  return {
    ...r,
    status: "exited",
    exitCode,
    owner: undefined,
    pid: undefined,
    pidStartTime: undefined,
    cgroup: undefined,
    finishedAt: new Date().toISOString(),
  };
}

async function update(
  store: Store,
  id: string,
  change: (r: ContainerRecord) => ContainerRecord | Promise<ContainerRecord>,
): Promise<void> {
  await store.locked(async () => {
    const record = await readJson<ContainerRecord>(recordPath(store, id));
    if (record === null) throw new NotFoundError(`No such container: ${id}`);
    await writeAtomic(recordPath(store, id), JSON.stringify(await change(record), null, 2));
  });
}

/**
 * Every container, with dead owners' records reconciled first (and any
 * container a killed commit left frozen thawed).
 */
export async function listContainers(store: Store): Promise<ContainerRecord[]> {
  await sweepFreezers();
  const records = await store.locked(() => readAll(store));
  for (const r of records) {
    if (r.status === "running" && r.cgroup?.version === "v2" && r.cgroup.own.length > 0) {
      await thawIfOrphaned(r.cgroup.own[0], `${store.runtime(r.id)}/frozen`);
    }
  }
  return records;
}

/**
 * Reads every record and brings each up to date with /proc: when a
 * container's owner died (skiff was SIGKILLed, say), a `running` one
 * becomes exited (or is removed, with --rm; the kernel already killed its
 * processes and mounts), and a `created` one is removed, since it never
 * started. A record that cannot be parsed is skipped with a warning naming
 * it (once per process), and added to `damaged` when given. The caller
 * holds the store lock.
 */
async function readAll(store: Store, damaged: DamagedRecord[] = []): Promise<ContainerRecord[]> {
  const records: ContainerRecord[] = [];
  for (const entry of Deno.readDirSync(store.containersDir)) {
    let record: ContainerRecord | null;
    try {
      record = await readJson<ContainerRecord>(recordPath(store, entry.name));
    } catch (e) {
      if (!(e instanceof DamagedFileError)) throw e;
      const reason = e.cause instanceof Error ? e.cause.message : String(e.cause);
      damaged.push({ id: entry.name, file: e.path, reason });
      if (!warned.has(e.path)) {
        warned.add(e.path);
        console.warn(
          `skiff: warning: skipping container ${
            entry.name.slice(0, 12)
          }: "${e.path}" is damaged: ${reason}; remove it with rm -f`,
        );
      }
      continue;
    }
    if (record === null) {
      // Creation writes the record under the lock we hold: a directory
      // without one was left by a skiff killed halfway through creating it.
      await removeDir(store, entry.name);
      continue;
    }
    const current = await reconcile(store, record);
    if (current !== null) records.push(current);
  }
  // newest first; ISO times compare as strings (localeCompare would load
  // ICU's collator, ~9 ms of every run here)
  return records.sort((a, b) => a.created < b.created ? 1 : a.created > b.created ? -1 : 0);
}

/**
 * Every container's record, brought up to date as {@link listContainers}
 * does, for a caller that decides something under the store lock it holds
 * (volume removal, say).
 */
export function readRecords(store: Store): Promise<ContainerRecord[]> {
  return readAll(store);
}

/** Damaged records already warned about by this process. */
const warned = new Set<string>();

/**
 * The containers whose record cannot be parsed (`ps -a` shows them as
 * damaged; `rm -f` removes them).
 */
export async function listDamaged(store: Store): Promise<DamagedRecord[]> {
  const damaged: DamagedRecord[] = [];
  await store.locked(() => readAll(store, damaged));
  return damaged;
}

async function reconcile(
  store: Store,
  record: ContainerRecord,
): Promise<ContainerRecord | null> {
  const { owner } = record;
  if (record.status === "exited" || owner === undefined) return record;
  if (isAlive(owner.pid, owner.startTime)) return record;
  // Its processes had SIGKILL with their owner, which a frozen one only
  // takes once thawed.
  if (record.status === "paused") await thawPaused(record.id);
  if (record.cgroup) await removeCgroup(record.cgroup);
  // Never started (a new one whose maker died) is half-made; one claimed
  // by `start` (it has run before) is kept, and ends as exited below.
  if ((record.status === "created" && record.startedAt === undefined && !record.ready) || record.autoRemove) {
    await removeDir(store, record.id, record);
    return null;
  }
  await leaveNetworks(store, record);
  // A detached container's supervisor leaves "CODE TIME OOMKILLS" in exit;
  // without it, the owner died first and took the container with it.
  const report = readExitFile(`${store.container(record.id)}/exit`);
  const done = report
    ? { ...exited(record, report.code), finishedAt: report.finishedAt, oomKilled: report.oomKilled }
    : exited(record, EXIT_KILLED);
  await writeAtomic(recordPath(store, record.id), JSON.stringify(done, null, 2));
  return done;
}

function readExitFile(path: string): { code: number; finishedAt: string; oomKilled: boolean } | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return null;
  }
  const [code, time, oom] = text.trim().split(" ").map(Number);
  if (!Number.isInteger(code)) return null;
  return { code, finishedAt: new Date(time * 1000).toISOString(), oomKilled: oom > 0 };
}

/**
 * Finds a container as docker does: by full id, else by name, else by a
 * unique id prefix. In that order, so a name never hides an id and an id
 * prefix never hides a name.
 *
 * @throws {NotFoundError} when nothing matches
 * @throws {UsageError} when a prefix matches several containers, listing them
 */
export function findContainer(
  records: ContainerRecord[],
  ref: string,
): ContainerRecord {
  const exact = records.find((r) => r.id === ref) ?? records.find((r) => r.name === ref);
  if (exact) return exact;
  const matches = /^[0-9a-f]+$/.test(ref) ? records.filter((r) => r.id.startsWith(ref)) : [];
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) {
    const candidates = matches.map((r) => `${r.id.slice(0, 12)} (${r.name})`).join(", ");
    throw new UsageError(
      `Container id prefix "${ref}" is ambiguous: it matches ${matches.length} containers, ${candidates}; give more characters`,
    );
  }
  throw new NotFoundError(`No such container: ${ref}`);
}

/**
 * Removes a container's record and directories. The directories are
 * renamed out of the way under the store lock and deleted after it (so a
 * big container does not hold up other commands). A container whose record
 * is damaged goes only with `force`: whether it runs is unknown.
 *
 * @param force stop a running container first (SIGKILL), as `rm -f` does
 * @returns the removed record (for a damaged one, what is known: its id)
 * @throws {InvalidStateError} when it is running (or damaged) and `force` is false
 */
export async function removeContainer(
  store: Store,
  ref: string,
  force = false,
): Promise<ContainerRecord> {
  const target = await store.locked(async () => {
    const damaged: DamagedRecord[] = [];
    const records = await readAll(store, damaged);
    try {
      return findContainer(records, ref);
    } catch (e) {
      const hit = e instanceof NotFoundError ? findDamaged(damaged, ref) : undefined;
      if (hit === undefined) throw e;
      if (!force) {
        throw new InvalidStateError(
          `Cannot remove container "${ref}": its record "${hit.file}" is damaged; use rm -f to remove it anyway`,
        );
      }
      await removeDir(store, hit.id);
      return hit;
    }
  });
  if (!("status" in target)) return { id: target.id } as ContainerRecord; // damaged: nothing else is known
  // Another skiff is starting it (it owns a `created` record): removing it
  // now would orphan the container it is about to start.
  const starting = target.status === "created" && target.owner !== undefined &&
    target.owner.pid !== selfPid();
  if (starting) throw new InvalidStateError(`Cannot remove container "${ref}": it is starting; try again`);
  if (!canStart(target)) {
    if (!force) {
      throw new InvalidStateError(
        `Cannot remove container "${ref}": it is ${target.status}; stop it first or use rm -f`,
      );
    }
    // frozen, its PID 1 would take SIGKILL only once thawed
    if (target.status === "paused") await thawPaused(target.id);
    endRestarts(store, target);
    await killAndWait(target);
    if (target.cgroup) await removeCgroup(target.cgroup);
  }
  // Between the look above and now, a start may have claimed it (the lock
  // was let go while PID 1 died): its starter is setting it up, and
  // removing its directories would leave that starter waiting on relays
  // that are gone. Look again, under the lock that removes it.
  await store.locked(async () => {
    const now = (await readAll(store)).find((r) => r.id === target.id);
    if (now === undefined) return; // another rm got there first
    const same = canStart(now) || (!canStart(target) && now.pid === target.pid);
    if (!same) {
      throw new InvalidStateError(`Cannot remove container "${ref}": it is starting; try again`);
    }
    await removeDir(store, target.id, now);
  });
  return target;
}

/**
 * Ends a restart policy's loop (`stop`, `rm -f`): DIR/norestart tells the
 * supervisor not to start it again, and a supervisor waiting out a
 * restart's delay is woken (SIGUSR1) to see it.
 *
 * @returns whether a supervisor was woken: the container is between two runs
 */
export function endRestarts(store: Store, record: ContainerRecord): boolean {
  if (!record.restart) return false;
  Deno.writeTextFileSync(`${store.container(record.id)}/norestart`, "");
  const { owner } = record;
  if (
    owner === undefined || !isAlive(owner.pid, owner.startTime) ||
    readExitFile(`${store.container(record.id)}/exit`) === null
  ) {
    return false;
  }
  try {
    Deno.kill(owner.pid, "SIGUSR1");
    return true;
  } catch {
    return false;
  }
}

/** A damaged record by full id or unique id prefix. */
function findDamaged(damaged: DamagedRecord[], ref: string): DamagedRecord | undefined {
  const matches = damaged.filter((d) => d.id === ref || (/^[0-9a-f]+$/.test(ref) && d.id.startsWith(ref)));
  return matches.length === 1 ? matches[0] : undefined;
}

/**
 * SIGKILLs a container's keeper and waits until it is gone; its child, the
 * container's PID 1, dies with it (parent-death signal).
 */
async function killAndWait(record: ContainerRecord): Promise<void> {
  const { pid, pidStartTime } = record;
  if (pid === undefined || !isAlive(pid, pidStartTime ?? -1)) return;
  try {
    Deno.kill(pid, "SIGKILL");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  while (isAlive(pid, pidStartTime ?? -1)) await new Promise((r) => setTimeout(r, 10));
}

/**
 * Removes a container's directory: renamed into the store's trash under
 * the lock, so a container is either whole or gone, even if this is
 * interrupted, and deleted once the lock is released (Store.discard). Its
 * runtime state (a few small files) goes first: the store's runtime dir
 * and the one its record names, when they differ. Nothing else removes
 * runtime dirs, as a --runroot may be shared by several stores. The caller
 * holds the store lock.
 */
async function removeDir(store: Store, id: string, record?: ContainerRecord): Promise<void> {
  if (record) await leaveNetworks(store, record);
  const runtimes = new Set([store.runtime(id)]);
  // Only a path that is a runtime dir of this id, whatever the record says.
  if (record?.runtime?.endsWith(`/containers/${id}`)) runtimes.add(record.runtime);
  for (const dir of runtimes) {
    await Deno.remove(dir, { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
  store.discard(store.container(id));
}
