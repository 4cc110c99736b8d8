/**
 * Resource limits and accounting with cgroups, v1 (one hierarchy per
 * controller under /sys/fs/cgroup/<controller>, as on this project's
 * machines) or v2 (the unified hierarchy, controllers delegated through
 * cgroup.subtree_control, as on systemd hosts).
 *
 * {@link planCgroup} decides which directories and files a container's
 * limits mean, as data; {@link createCgroup} writes them. The container's
 * init joins the cgroup (writes 0 to each cgroup.procs) before it execs the
 * command, so nothing the command forks escapes it. Every function takes
 * the cgroupfs root, so tests use a fake tree.
 *
 * @module
 */

import { UsageError } from "../../errors.ts";
import { Busy, classify } from "../../../ffi/errors.ts";
import { attachDeviceFilter } from "./device_filter.ts";

/** The cgroupfs mount point. */
export const CGROUP_ROOT = "/sys/fs/cgroup";
/** Where a hybrid host (v1 controllers, as systemd's "hybrid" mode) mounts the unified hierarchy. */
export const UNIFIED = `${CGROUP_ROOT}/unified`;

/** Limits as the user gave them, validated. */
export interface Limits {
  /** Bytes. */
  memory?: number;
  /** Memory plus swap, bytes; -1 for unlimited swap. */
  memorySwap?: number;
  /** CPUs' worth of time per period, e.g. 0.5. */
  cpus?: number;
  /** Relative weight, 2-262144 (v1 cpu.shares). */
  cpuShares?: number;
  /** CPUs to run on, e.g. "0", "0-1", "0,2". */
  cpusetCpus?: string;
  /** Maximum number of processes. */
  pidsLimit?: number;
}

/** Which cgroup version a root holds. */
export type CgroupVersion = "v1" | "v2";

/** A container's cgroup: the directories made and the values written. */
export interface CgroupPlan {
  version: CgroupVersion;
  /** Directories to make, parents first; each one skiff's. */
  dirs: string[];
  /** Files to write, in order, with their values. */
  writes: [path: string, value: string][];
  /** The cgroup.procs files init writes 0 to. */
  procs: string[];
  /** The container's own directories, removed when it is gone, children first. */
  own: string[];
  /** A cgroup v2 directory to attach the device program of `rules` to (lib/host/cgroup/device_filter.ts). */
  deviceFilter?: { dir: string; rules: readonly string[] };
}

const PERIOD_US = 100_000;
const UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** docker's smallest --memory: below it a container's init is killed before it starts. */
export const MIN_MEMORY = 6 * 1024 ** 2;

/** The kernel's PID_MAX_LIMIT on 64-bit: pids.max takes nothing above it (EINVAL). */
export const MAX_PIDS = 4 * 1024 * 1024;

/** The smallest CPU quota the kernel takes is 1 ms per period (EINVAL below it): 0.01 CPUs. */
const MIN_CPUS = 0.01;

/**
 * A size with an optional unit, b, k, m or g (any case, an optional
 * trailing "b": "512m", "1GB"), in bytes; at most 2^53 - 1, which is
 * still written to the kernel as digits.
 *
 * @throws {UsageError} naming the option and the accepted form
 */
export function parseBytes(value: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)([bkmg])?b?$/i.exec(value.trim());
  if (!match) {
    throw new UsageError(
      `Invalid ${option} "${value}": use a number with an optional unit b, k, m or g, e.g. 512m`,
    );
  }
  const bytes = Math.floor(Number(match[1]) * UNITS[(match[2] ?? "b").toLowerCase()]);
  if (bytes <= 0) throw new UsageError(`Invalid ${option} "${value}": it must be more than 0`);
  if (!Number.isSafeInteger(bytes)) {
    throw new UsageError(
      `Invalid ${option} "${value}": it must be at most ${Math.floor(Number.MAX_SAFE_INTEGER / UNITS.g)}g`,
    );
  }
  return bytes;
}

/** The user's limit options, as strings from the command line. */
export interface LimitOptions {
  /** `--memory`: bytes with an optional unit (b, k, m, g). */
  memory?: string;
  /** `--memory-swap`: memory plus swap, or -1 for unlimited swap. */
  memorySwap?: string;
  /** `--cpus`: CPU time in CPUs, e.g. 0.5. */
  cpus?: string;
  /** `--cpu-shares`: relative CPU weight. */
  cpuShares?: string;
  /** `--cpuset-cpus`: CPUs to run on, e.g. 0-1. */
  cpusetCpus?: string;
  /** `--pids-limit`: the most processes. */
  pidsLimit?: string;
}

/**
 * Checks and converts limit options.
 *
 * @param cpuCount the CPUs this machine has (for --cpus and --cpuset-cpus)
 * @throws {UsageError} for each malformed or impossible value
 */
export function parseLimits(o: LimitOptions, cpuCount: number): Limits {
  const limits: Limits = {};
  if (o.memory !== undefined) {
    limits.memory = parseBytes(o.memory, "--memory");
    if (limits.memory < MIN_MEMORY) {
      throw new UsageError(`Invalid --memory "${o.memory}": it must be at least 6m, docker's minimum`);
    }
  }
  if (o.memorySwap !== undefined) {
    limits.memorySwap = o.memorySwap.trim() === "-1" ? -1 : parseBytes(o.memorySwap, "--memory-swap");
    if (limits.memory === undefined) {
      throw new UsageError("Invalid --memory-swap: it needs --memory too (it is memory plus swap)");
    }
    if (limits.memorySwap !== -1 && limits.memorySwap < limits.memory) {
      throw new UsageError("Invalid --memory-swap: it is memory plus swap, so it must be at least --memory");
    }
  }
  if (o.cpus !== undefined) {
    const cpus = Number(o.cpus);
    if (!/^\d*\.?\d+$/.test(o.cpus) || !(cpus >= MIN_CPUS) || cpus > cpuCount) {
      throw new UsageError(
        `Invalid --cpus "${o.cpus}": use a number of at least ${MIN_CPUS} and at most ${cpuCount}, e.g. 0.5; this machine has ${cpuCount} CPU${
          cpuCount === 1 ? "" : "s"
        }`,
      );
    }
    limits.cpus = cpus;
  }
  if (o.cpuShares !== undefined) {
    const shares = Number(o.cpuShares);
    if (!/^\d+$/.test(o.cpuShares) || shares < 2 || shares > 262144) {
      throw new UsageError(`Invalid --cpu-shares "${o.cpuShares}": use a whole number from 2 to 262144`);
    }
    limits.cpuShares = shares;
  }
  if (o.cpusetCpus !== undefined) {
    const ranges = parseCpuRanges(o.cpusetCpus);
    if (ranges === null) {
      throw new UsageError(`Invalid --cpuset-cpus "${o.cpusetCpus}": use a list like 0, 0-1 or 0,2`);
    }
    // Checked as ranges, never expanded: 0-99999999 is one comparison.
    const outside = ranges.filter(([, to]) => to >= cpuCount).map(([from, to]) => {
      const first = Math.max(from, cpuCount);
      return first === to ? String(to) : `${first}-${to}`;
    });
    if (outside.length > 0) {
      throw new UsageError(
        `Invalid --cpuset-cpus "${o.cpusetCpus}": this machine has CPUs 0-${cpuCount - 1}, not ${
          outside.join(",")
        }`,
      );
    }
    limits.cpusetCpus = o.cpusetCpus;
  }
  if (o.pidsLimit !== undefined) {
    const pids = Number(o.pidsLimit);
    if (!/^\d+$/.test(o.pidsLimit) || pids < 1 || pids > MAX_PIDS) {
      throw new UsageError(
        `Invalid --pids-limit "${o.pidsLimit}": use a whole number from 1 to ${MAX_PIDS} (the kernel's most)`,
      );
    }
    limits.pidsLimit = pids;
  }
  return limits;
}

/** "0-2,5" as [[0, 2], [5, 5]], or null when malformed. */
export function parseCpuRanges(list: string): [from: number, to: number][] | null {
  const ranges: [number, number][] = [];
  for (const part of list.split(",")) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!match) return null;
    const [from, to] = [Number(match[1]), Number(match[2] ?? match[1])];
    if (to < from) return null;
    ranges.push([from, to]);
  }
  return ranges;
}

/**
 * "0-2,5" as [0, 1, 2, 5], or null when malformed.
 *
 * @param max the highest CPU number to accept: a list reaching beyond it is
 *   null before anything is expanded
 */
export function parseCpuList(list: string, max = 4095): number[] | null {
  const ranges = parseCpuRanges(list);
  if (ranges === null || ranges.some(([, to]) => to > max)) return null;
  const cpus: number[] = [];
  for (const [from, to] of ranges) for (let c = from; c <= to; c++) cpus.push(c);
  return cpus;
}

/** Which version the cgroupfs at `root` is: v2 when the root itself is the unified hierarchy. */
export function detectVersion(root = CGROUP_ROOT): CgroupVersion {
  try {
    Deno.statSync(`${root}/cgroup.controllers`);
    return "v2";
  } catch {
    return "v1";
  }
}

/**
 * The cgroup of container `id` with `limits`. Memory, CPU accounting and
 * pids are always there (for `stats` and OOM detection); cpu and cpuset
 * only when limited. The device rules go to v1's devices controller, and
 * to a device program on the unified hierarchy: the v2 cgroup itself, or
 * on a hybrid host (`unified`, v1 controllers and a v2 hierarchy beside
 * them) a cgroup of its own there, which the container joins too, as
 * runc does: the kernel asks both.
 *
 * @param devices devices.allow rules; null for none (`--privileged`)
 * @param unified a hybrid host's unified hierarchy (e.g. /sys/fs/cgroup/unified)
 */
export function planCgroup(
  version: CgroupVersion,
  root: string,
  id: string,
  limits: Limits,
  devices: readonly string[] | null = DEFAULT_DEVICE_RULES,
  unified?: string,
): CgroupPlan {
  const plan = version === "v1" ? planV1(root, id, limits, devices) : planV2(root, id, limits);
  if (devices === null) return plan;
  if (version === "v2") return { ...plan, deviceFilter: { dir: plan.own[0], rules: devices } };
  if (unified === undefined) return plan;
  const dir = `${unified}/skiff/${id}`;
  plan.dirs.push(`${unified}/skiff`, dir);
  plan.procs.push(`${dir}/cgroup.procs`);
  plan.own.push(dir);
  return { ...plan, deviceFilter: { dir, rules: devices } };
}

/** The file a process (v2, or a hybrid host's unified hierarchy) or, on v1, a thread joins a cgroup by. */
export function joinFile(version: CgroupVersion, dir: string): string {
  return `${dir}/${version === "v2" || existsFile(`${dir}/cgroup.threads`) ? "cgroup.procs" : "tasks"}`;
}

function existsFile(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The devices a container may use, as runc's and docker's defaults: mknod
 * of any character or block device (`m`; opening one is another matter),
 * and read, write and mknod of null, zero, full, random, urandom, tty,
 * console, ptmx and the pty slaves (136:*). Everything else, the host's
 * disks among them, is refused to open, whatever node an image or a
 * capability gives the container. On cgroup v2 they become a
 * BPF_PROG_TYPE_CGROUP_DEVICE program (device_filter.ts).
 */
export const DEFAULT_DEVICE_RULES: readonly string[] = [
  "c *:* m",
  "b *:* m",
  "c 1:3 rwm",
  "c 1:5 rwm",
  "c 1:7 rwm",
  "c 1:8 rwm",
  "c 1:9 rwm",
  "c 5:0 rwm",
  "c 5:1 rwm",
  "c 5:2 rwm",
  "c 136:* rwm",
];

function planV1(root: string, id: string, l: Limits, devices: readonly string[] | null): CgroupPlan {
  const plan: CgroupPlan = { version: "v1", dirs: [], writes: [], procs: [], own: [] };
  const use = (controller: string, files: [string, string][]) => {
    const parent = `${root}/${controller}/skiff`;
    const dir = `${parent}/${id}`;
    plan.dirs.push(parent, dir);
    if (controller === "cpuset") {
      // A cpuset cgroup takes no task until its cpus and mems are set; the
      // parent copies them from the root.
      for (const f of ["cpuset.cpus", "cpuset.mems"]) {
        plan.writes.push([`${parent}/${f}`, `@${root}/cpuset/${f}`]);
      }
      if (!files.some(([f]) => f === "cpuset.cpus")) files.push(["cpuset.cpus", `@${parent}/cpuset.cpus`]);
      files.push(["cpuset.mems", `@${parent}/cpuset.mems`]);
    }
    for (const [file, value] of files) plan.writes.push([`${dir}/${file}`, value]);
    plan.procs.push(`${dir}/cgroup.procs`);
    plan.own.push(dir);
  };
  const memory: [string, string][] = [];
  if (l.memory !== undefined) memory.push(["memory.limit_in_bytes", String(l.memory)]);
  if (l.memorySwap !== undefined) memory.push(["memory.memsw.limit_in_bytes", String(l.memorySwap)]);
  use("memory", memory);
  use("cpuacct", []);
  use("pids", l.pidsLimit === undefined ? [] : [["pids.max", String(l.pidsLimit)]]);
  const cpu: [string, string][] = [];
  if (l.cpus !== undefined) {
    cpu.push(["cpu.cfs_period_us", String(PERIOD_US)], [
      "cpu.cfs_quota_us",
      String(Math.round(l.cpus * PERIOD_US)),
    ]);
  }
  if (l.cpuShares !== undefined) cpu.push(["cpu.shares", String(l.cpuShares)]);
  if (cpu.length > 0) use("cpu", cpu);
  if (l.cpusetCpus !== undefined) use("cpuset", [["cpuset.cpus", l.cpusetCpus]]);
  // Deny everything, then allow the list: one rule a write, as the kernel takes them.
  if (devices !== null) {
    use("devices", [
      ["devices.deny", "a"],
      ...devices.map((rule): [string, string] => ["devices.allow", rule]),
    ]);
  }
  return plan;
}

function planV2(root: string, id: string, l: Limits): CgroupPlan {
  const parent = `${root}/skiff`;
  const dir = `${parent}/${id}`;
  const controllers = ["+memory", "+pids", "+cpu", ...(l.cpusetCpus !== undefined ? ["+cpuset"] : [])].join(
    " ",
  );
  const writes: [string, string][] = [
    // delegate the controllers down to the container's cgroup
    [`${root}/cgroup.subtree_control`, controllers],
    [`${parent}/cgroup.subtree_control`, controllers],
  ];
  if (l.memory !== undefined) writes.push([`${dir}/memory.max`, String(l.memory)]);
  if (l.memorySwap !== undefined && l.memory !== undefined) {
    writes.push([`${dir}/memory.swap.max`, l.memorySwap === -1 ? "max" : String(l.memorySwap - l.memory)]);
  }
  if (l.cpus !== undefined) writes.push([`${dir}/cpu.max`, `${Math.round(l.cpus * PERIOD_US)} ${PERIOD_US}`]);
  // cpu.shares 2-262144 onto cpu.weight 1-10000, as runc maps them
  if (l.cpuShares !== undefined) {
    writes.push([`${dir}/cpu.weight`, String(1 + Math.floor(((l.cpuShares - 2) * 9999) / 262142))]);
  }
  if (l.cpusetCpus !== undefined) writes.push([`${dir}/cpuset.cpus`, l.cpusetCpus]);
  if (l.pidsLimit !== undefined) writes.push([`${dir}/pids.max`, String(l.pidsLimit)]);
  return { version: "v2", dirs: [parent, dir], writes, procs: [`${dir}/cgroup.procs`], own: [dir] };
}

/**
 * Makes the planned directories and writes the planned values. A value
 * `@PATH` is copied from that file; then the device program is attached
 * (`attach`: a test's fake). On failure, what was made is removed.
 *
 * @throws {Error} naming the file the kernel refused and why
 */
export function createCgroup(plan: CgroupPlan, attach = attachDeviceFilter): void {
  try {
    for (const dir of plan.dirs) Deno.mkdirSync(dir, { recursive: true });
    for (const [path, value] of plan.writes) {
      const text = value.startsWith("@") ? Deno.readTextFileSync(value.slice(1)).trim() : value;
      try {
        Deno.writeTextFileSync(path, text);
      } catch (e) {
        throw new Error(`Cannot set the container's cgroup: writing "${text}" to "${path}" failed`, {
          cause: e,
        });
      }
    }
    if (plan.deviceFilter) attach(plan.deviceFilter.dir, plan.deviceFilter.rules);
  } catch (e) {
    removeUnused(plan);
    throw e;
  }
}

/**
 * Removes the container's own cgroup directories (a cgroup goes with
 * rmdir). The container's last processes may still be exiting when its
 * keeper is gone, and rmdir says EBUSY until they have: it is retried for
 * up to two seconds.
 */
export async function removeCgroup(plan: Pick<CgroupPlan, "own">): Promise<void> {
  for (const dir of plan.own) {
    for (let attempt = 0;; attempt++) {
      try {
        Deno.removeSync(dir);
        break;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) break;
        // Deno has no class for EBUSY (its Busy is another thing): classify sorts it by its code.
        if (!(classify(e) instanceof Busy) || attempt === 200) throw e;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }
}

/** Removes cgroup directories that no process has joined yet. */
function removeUnused(plan: Pick<CgroupPlan, "own">): void {
  for (const dir of plan.own) {
    try {
      Deno.removeSync(dir);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
}

/** A container's usage, read from its cgroup. */
export interface CgroupStats {
  /** CPU time used, nanoseconds. */
  cpuNs: number;
  memoryBytes: number;
  /** The memory limit, or null when unlimited. */
  memoryLimit: number | null;
  pids: number;
  oomKilled: boolean;
}

const readNumber = (path: string) => Number(Deno.readTextFileSync(path).trim());

function readKeyed(path: string): Record<string, number> {
  try {
    return Object.fromEntries(
      Deno.readTextFileSync(path).trim().split("\n").map((l) => l.split(" ")).map(([k, v]) => [k, Number(v)]),
    );
  } catch {
    return {};
  }
}

/** Whether the kernel's OOM killer killed a process of the cgroup (one file read). */
export function wasOomKilled(plan: Pick<CgroupPlan, "version" | "own">): boolean {
  const memory = plan.version === "v2" ? plan.own[0] : plan.own.find((d) => d.includes("/memory/skiff/"));
  if (memory === undefined) return false;
  const file = plan.version === "v2" ? `${memory}/memory.events` : `${memory}/memory.oom_control`;
  return (readKeyed(file).oom_kill ?? 0) > 0;
}

/** Reads a container's cgroup accounting. */
export function readStats(plan: CgroupPlan): CgroupStats {
  if (plan.version === "v2") {
    const dir = plan.own[0];
    const max = Deno.readTextFileSync(`${dir}/memory.max`).trim();
    return {
      cpuNs: (readKeyed(`${dir}/cpu.stat`).usage_usec ?? 0) * 1000,
      memoryBytes: readNumber(`${dir}/memory.current`),
      memoryLimit: max === "max" ? null : Number(max),
      pids: readNumber(`${dir}/pids.current`),
      oomKilled: wasOomKilled(plan),
    };
  }
  const dir = (controller: string) => plan.own.find((d) => d.includes(`/${controller}/skiff/`))!;
  const memory = dir("memory");
  const limit = readNumber(`${memory}/memory.limit_in_bytes`);
  // docker's usage: all charged memory but the inactive file cache
  const stat = readKeyed(`${memory}/memory.stat`);
  return {
    cpuNs: readNumber(`${dir("cpuacct")}/cpuacct.usage`),
    memoryBytes: readNumber(`${memory}/memory.usage_in_bytes`) - (stat.total_inactive_file ?? 0),
    // v1 writes "unlimited" as the largest page-aligned number
    memoryLimit: limit >= 2 ** 62 ? null : limit,
    pids: readNumber(`${dir("pids")}/pids.current`),
    oomKilled: wasOomKilled(plan),
  };
}
