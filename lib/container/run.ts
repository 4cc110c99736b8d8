/**
 * `run`'s plan: the options checked, and the container's record, cgroup
 * and init spec made from them as data, before anything is created. Both
 * ways of starting a container use it: from inside its namespaces
 * (lib/container/inside.ts, the launcher's) and from outside
 * (lib/container/outside.ts).
 *
 * @module
 */

import { capabilityName } from "../host/capabilities.ts";
import type { SecurityOptions, SecurityPlan } from "./security.ts";
import { type ContainerRecord, type NewContainer, newId } from "./containers.ts";
import { UsageError } from "../errors.ts";
import { parseRestart } from "./restart.ts";
import type { Image } from "../image/images.ts";
import type { PullPolicy } from "./resolve_image.ts";
import { checkEnvFlags } from "./env.ts";
import type { InitSpec } from "./init.ts";
import { type NetworkOptions, type NetworkPlan, networkRequest } from "./network.ts";
import { inUserNamespace, parseSignal } from "../host/proc.ts";
import { DEFAULT_PATH } from "../image/default_path.ts";
import { planRootfs } from "./rootfs.ts";
import { deviceRule } from "./devices.ts";
import { parseTmpfs } from "./tmpfs.ts";
import type { Store } from "../store/store.ts";
import { checkMounts, type MountRequest } from "./volumes.ts";
import {
  CGROUP_ROOT,
  type CgroupPlan,
  DEFAULT_DEVICE_RULES,
  detectVersion,
  type Limits,
  planCgroup,
  UNIFIED,
} from "../host/cgroup/cgroups.ts";

/** What the user asked `run` for. */
export interface RunOptions {
  /** An image reference, or a path to a rootfs tarball. */
  image: string;
  /** The command and its arguments; empty for the image's default. */
  command: string[];
  /** The container's name (default: a generated `adjective_noun_N`). */
  name?: string;
  /** `KEY=VALUE` pairs, applied over the image's environment. */
  env?: string[];
  /** The working directory inside the container, created when missing (`-w`). */
  workdir?: string;
  /** The hostname (default: the short container id). */
  hostname?: string;
  /** Keep stdin open (`-i`). */
  interactive?: boolean;
  /** Give the container the terminal (`-t`). */
  tty?: boolean;
  /** Remove the container when it exits (`--rm`). */
  remove?: boolean;
  /** Volumes to bind in (the CLI parses `-v` and `--mount` into these). */
  mounts?: MountRequest[];
  /** Resource limits, in bytes, CPUs and counts. */
  limits?: Limits;
  /** When to pull the image from a registry (`--pull`; see resolve_image.ts). */
  pull?: PullPolicy;
  /** Seccomp, no_new_privs, capabilities, `--privileged` (lib/container/security.ts). */
  security?: SecurityOptions;
  /** `--entrypoint`: the image's entrypoint replaced ("" removes it), and its CMD dropped. */
  entrypoint?: string;
  /** `--stop-signal`: what `stop` sends first (default: the image's STOPSIGNAL, else SIGTERM). */
  stopSignal?: string;
  /** `--stop-timeout`: seconds `stop` waits before SIGKILL unless its -t says (default 10). */
  stopTimeout?: number;
  /** `--label KEY=VALUE`s, kept in the record. */
  labels?: Record<string, string>;
  /** The new container's id, when the caller chose it (`--cidfile` writes it first); a new one otherwise. */
  id?: string;
  /** `--restart`: the policy a detached container's supervisor carries out (lib/container/restart.ts). */
  restart?: string;
  /** `--read-only`: the root read-only. */
  readOnly?: boolean;
  /** `--tmpfs PATH[:OPTIONS]` values (lib/container/tmpfs.ts). */
  tmpfs?: string[];
  /** `--network`, `-p`, `-P`, `--ip`, `--dns…`, `--add-host` (lib/container/network.ts); the default bridge when absent, as root. */
  network?: NetworkOptions;
}

/** The start failed: nothing of the container is left. */
export class StartError extends Error {
  /** The class name, as errors show it. */
  override name = "StartError";
  /**
   * A failed start, and the exit code it means.
   *
   * @param message what went wrong
   * @param exitCode what `run` exits with: 125 for skiff's failure, 126 or 127 for the command's
   */
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

const HOSTNAME =
  /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/**
 * Checks `-e` values and the other free-form options before anything is
 * created.
 *
 * @throws {UsageError} naming the bad value
 */
export function validateRunOptions(opts: RunOptions, detach = false): void {
  if (opts.hostname !== undefined && (opts.hostname.length > 64 || !HOSTNAME.test(opts.hostname))) {
    throw new UsageError(
      `Invalid hostname "${opts.hostname}": use letters, digits, "-" and ".", at most 64 characters`,
    );
  }
  checkMounts(opts.mounts ?? []);
  if (detach && (opts.tty || opts.interactive)) {
    throw new UsageError("Detached containers take no terminal or stdin yet: drop -i and -t, or -d");
  }
  checkCommandOptions(opts);
  if (opts.workdir !== undefined) checkWorkdir(opts.workdir);
  for (const t of opts.tmpfs ?? []) parseTmpfs(t);
  if (opts.stopSignal !== undefined && parseSignal(opts.stopSignal) === null) {
    throw new UsageError(
      `Invalid --stop-signal "${opts.stopSignal}": use a signal's name or number, e.g. SIGINT`,
    );
  }
  if (opts.stopTimeout !== undefined && !(opts.stopTimeout >= 0)) {
    throw new UsageError(`Invalid --stop-timeout "${opts.stopTimeout}": use a number of seconds`);
  }
  const { mode } = networkRequest(opts.network ?? {}, inUserNamespace());
  const net = Object.keys(opts.security?.sysctls ?? {}).find((k) => k.startsWith("net."));
  if (net !== undefined && (mode === "host" || mode === "container")) {
    throw new UsageError(
      `Invalid --sysctl "${net}": the network namespace is not the container's own with --network ${opts.network?.network}; drop it or the --network`,
    );
  }
  if (opts.restart !== undefined) checkRestart(opts, detach);
  for (const cap of opts.security?.capAdd ?? []) capabilityName(cap, "--cap-add");
  for (const cap of opts.security?.capDrop ?? []) capabilityName(cap, "--cap-drop");
}

/**
 * `--restart`: a policy docker knows, not with `--rm` (docker's conflict),
 * and only detached: a foreground run ends with its command.
 */
function checkRestart(opts: RunOptions, detach: boolean): void {
  const { name } = parseRestart(opts.restart!);
  if (name === "no") return;
  if (opts.remove) throw new UsageError("Conflicting options: --restart and --rm");
  if (!detach) {
    throw new UsageError(
      `--restart ${opts.restart} needs -d: a detached container's supervisor restarts it, and a foreground run ends with its command`,
    );
  }
}

/**
 * Checks what `run` and `exec` share: `-e` values, `-w`, and `-t` only
 * from a terminal.
 *
 * @throws {UsageError} naming the bad value
 */
export function checkCommandOptions(opts: { env?: string[]; workdir?: string; tty?: boolean }): void {
  checkEnvFlags(opts.env ?? [], "use -e KEY=VALUE");
  if (opts.workdir !== undefined && !opts.workdir.startsWith("/")) {
    throw new UsageError(`Invalid working directory "${opts.workdir}": it must be an absolute path`);
  }
  if (opts.tty && !Deno.stdin.isTerminal()) {
    throw new UsageError("The input device is not a TTY: drop -t, or run from a terminal");
  }
}

/**
 * Refuses a `run -w` under /proc or /sys, lexically normalised: the
 * container's kernel filesystems, where init cannot make a directory (and
 * Deno refuses to try without --allow-all).
 */
function checkWorkdir(workdir: string): void {
  const parts: string[] = [];
  for (const part of workdir.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== "" && part !== ".") parts.push(part);
  }
  if (parts[0] === "proc" || parts[0] === "sys") {
    throw new UsageError(
      `Invalid working directory "${workdir}": it is under /${
        parts[0]
      }, the container's kernel filesystem; choose another directory`,
    );
  }
}

/** The argv a container runs: entrypoint, then the command or the image's Cmd. */
export function commandFor(image: Image, command: string[], entrypoint?: string): string[] {
  const { Entrypoint = [], Cmd = [] } = image.config.config;
  // --entrypoint replaces the image's and drops its CMD, as docker does
  const argv = entrypoint !== undefined
    ? [...(entrypoint === "" ? [] : [entrypoint]), ...command]
    : [...Entrypoint, ...(command.length > 0 ? command : Cmd)];
  return argv.length > 0 ? argv : ["/bin/sh"];
}

/**
 * The container's environment: PATH, HOSTNAME, HOME and TERM defaults,
 * the image's Env over them, the user's `-e` over those; last one wins.
 */
export function environmentFor(image: Image, hostname: string, opts: RunOptions): string[] {
  return mergeEnvironment([
    `PATH=${DEFAULT_PATH}`,
    `HOSTNAME=${hostname}`,
    // A user's HOME comes from its passwd entry, at start (lib/container/user.ts).
    ...(userOf(image, opts) === undefined ? ["HOME=/root"] : []),
    ...(opts.tty ? ["TERM=xterm"] : []),
    ...(image.config.config.Env ?? []),
    ...(opts.env ?? []),
  ]);
}

/** The container's user: `--user`, else the image's USER; undefined for root by default. */
export function userOf(image: Image, opts: RunOptions): string | undefined {
  return opts.security?.user ?? (image.config.config.User || undefined);
}

/**
 * `KEY=VALUE` pairs with one per key: the last one wins, in the place of
 * the first. An entry without "=" (an old record's) is its own key.
 */
export function mergeEnvironment(env: string[]): string[] {
  const byKey = new Map(env.map((e) => [e.includes("=") ? e.slice(0, e.indexOf("=")) : e, e]));
  return [...byKey.values()];
}

/**
 * The init spec for a container: the mount plan, what to execute, and the
 * capabilities and filter `security` (from planSecurity) gives it.
 */
export function initSpecFor(
  store: Store,
  record: ContainerRecord,
  lowerdirs: string[],
  security: SecurityPlan,
  tty = false,
  cgroupProcs: string[] = [],
  net: NetworkPlan = { init: { kind: "none" }, files: [], leave: false },
): InitSpec {
  const dir = store.container(record.id);
  return {
    root: `${dir}/merged`,
    steps: planRootfs({
      root: `${dir}/merged`,
      lowerdirs,
      upperdir: `${dir}/upper`,
      workdir: `${dir}/work`,
      userxattr: inUserNamespace(),
      bindDevices: inUserNamespace(),
      privileged: record.security?.privileged,
      readOnly: record.readOnly,
      tmpfs: (record.tmpfs ?? []).map(parseTmpfs),
      devices: (record.security?.devices ?? []).map((d) => ({
        host: d.PathOnHost,
        path: d.PathInContainer,
        block: d.type === "b",
        major: d.major,
        minor: d.minor,
        mode: d.mode,
      })),
      // /etc/hosts and the like first: a volume over one of them wins
      binds: [
        ...net.files.map((f) => ({
          source: f.source,
          target: f.target,
          kind: "file" as const,
          readonly: false,
        })),
        ...record.mounts.map((m) => ({
          source: m.source,
          target: m.destination,
          kind: m.kind,
          readonly: m.readOnly,
        })),
      ],
    }),
    net: net.init,
    hostname: record.hostname,
    cwd: record.workdir,
    argv: record.command,
    env: record.env,
    dropCaps: security.dropCaps,
    ...(security.seccomp ? { seccomp: security.seccomp } : {}),
    ...(security.noNewPrivileges ? { noNewPrivileges: true } : {}),
    ...(security.user ? { user: security.user } : {}),
    ...(security.rlimits ? { rlimits: security.rlimits } : {}),
    ...(security.sysctls ? { sysctls: security.sysctls } : {}),
    ...(security.oomScoreAdj !== undefined ? { oomScoreAdj: security.oomScoreAdj } : {}),
    cgroupProcs,
    syncFifo: `${store.runtime(record.id)}/init.sync`,
    tty,
  };
}

/**
 * A new container's record fields and its cgroup, planned before anything
 * is made (the record names the cgroup from the start; it is made at start).
 */
export function planContainer(image: Image, opts: RunOptions): { fields: NewContainer; cgroup: CgroupPlan } {
  const id = opts.id ?? newId();
  const hostname = opts.hostname ?? id.slice(0, 12);
  const cgroup = cgroupFor(id, opts.limits ?? {}, opts.security);
  const user = userOf(image, opts);
  const security = user === undefined ? opts.security : { ...opts.security, user };
  const fields: NewContainer = {
    id,
    name: opts.name,
    image: opts.image,
    imageId: image.id,
    command: commandFor(image, opts.command, opts.entrypoint),
    env: environmentFor(image, hostname, opts),
    workdir: opts.workdir ?? image.config.config.WorkingDir ?? "/",
    hostname,
    autoRemove: opts.remove ?? false,
    mounts: [],
    limits: opts.limits ?? {},
    cgroup: { version: cgroup.version, own: cgroup.own },
    ...(security && Object.keys(security).length > 0 ? { security } : {}),
    ...(opts.readOnly ? { readOnly: true } : {}),
    ...(opts.labels && Object.keys(opts.labels).length > 0 ? { labels: opts.labels } : {}),
    ...stopFields(image, opts),
    ...(opts.restart !== undefined && parseRestart(opts.restart).name !== "no"
      ? { restart: opts.restart }
      : {}),
    ...(opts.tmpfs?.length ? { tmpfs: opts.tmpfs } : {}),
    network: networkRequest(opts.network ?? {}, inUserNamespace()),
  };
  return { fields, cgroup };
}

/** What `stop` sends and how long it waits: the options', else the image's STOPSIGNAL. */
function stopFields(image: Image, opts: RunOptions): { stopSignal?: string; stopTimeout?: number } {
  const given = opts.stopSignal ?? image.config.config.StopSignal;
  const signal = given === undefined ? null : parseSignal(given);
  return {
    ...(signal !== null ? { stopSignal: signal } : {}),
    ...(opts.stopTimeout !== undefined ? { stopTimeout: opts.stopTimeout } : {}),
  };
}

/**
 * The container's cgroup, with the device rules (docker's and `--device`'s) unless `--privileged`.
 * Rootless, there is none: the v1 hierarchies are root's, so limits are
 * refused rather than silently dropped.
 *
 * @throws {UsageError} for limits without cgroups
 */
export function cgroupFor(id: string, limits: Limits, security: SecurityOptions = {}): CgroupPlan {
  if (!inUserNamespace()) {
    // --privileged: no device restriction, as docker
    const devices = security.privileged
      ? null
      : [...DEFAULT_DEVICE_RULES, ...(security.devices ?? []).map(deviceRule)];
    const version = detectVersion();
    // A hybrid host's unified hierarchy takes the device program (planCgroup).
    const unified = version === "v1" && detectVersion(UNIFIED) === "v2" ? UNIFIED : undefined;
    return planCgroup(version, CGROUP_ROOT, id, limits, devices, unified);
  }
  const partial = security.privileged
    ? undefined
    : security.devices?.find((d) => d.CgroupPermissions !== "rwm");
  if (partial !== undefined) {
    throw new UsageError(
      `Device permissions need a device cgroup, and rootless skiff has none (the hierarchies are root's): drop ":${partial.CgroupPermissions}" from --device "${partial.PathOnHost}" (the host's permissions on the node decide), or run with sudo`,
    );
  }
  if (Object.keys(limits).length > 0) {
    throw new UsageError(
      "Resource limits need cgroups, and rootless skiff has none here (the cgroup v1 hierarchies are root's; a cgroup v2 hierarchy delegated to you, as systemd gives, would do): drop the limit options, or run with sudo",
    );
  }
  return { version: detectVersion(), dirs: [], writes: [], procs: [], own: [] };
}

/** How a container ended. */
/**
 * Containers need root: the CLI runs an ordinary user's skiff as root of a
 * user namespace (lib/rootless.ts) before it gets here.
 *
 * @param uid the caller's uid
 * @throws {UsageError} saying how to run it instead
 */
export function checkPrivileges(uid: number | null = Deno.uid()): void {
  if (uid === 0) return;
  throw new UsageError(
    "Containers need root: run skiff with sudo, or rootless through its CLI (deno task run ...), which enters a user namespace",
  );
}
