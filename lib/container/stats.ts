/**
 * `stats`: CPU, memory and process use of running containers, from their
 * cgroups, as docker stats computes them.
 *
 * @module
 */

import { readStats } from "../host/cgroup/cgroups.ts";
import type { ContainerRecord } from "./containers.ts";
import { UsageError } from "../errors.ts";
import { inUserNamespace } from "../host/proc.ts";

/** One container's use over a sampling interval. */
export interface Sample {
  /** The container sampled. */
  record: ContainerRecord;
  /** CPU time over wall time, in percent of one CPU (above 100 with several). */
  cpuPercent: number;
  /** Memory in use, less inactive file cache, as docker shows it. */
  memoryBytes: number;
  /** The limit, or the machine's memory when there is none. */
  memoryLimit: number;
  /** How many processes the container has. */
  pids: number;
}

/**
 * Reads every container's cgroup twice, `ms` apart.
 *
 * @throws {UsageError} rootless: its containers have no cgroup
 */
export async function sampleStats(records: ContainerRecord[], ms: number): Promise<Sample[]> {
  if (inUserNamespace()) {
    throw new UsageError(
      "stats reads containers' cgroups, and rootless containers have none here (the cgroup v1 hierarchies are root's): run with sudo",
    );
  }
  const plan = (r: ContainerRecord) => ({ ...r.cgroup!, dirs: [], writes: [], procs: [] });
  const read = () => records.map((r) => ({ at: performance.now(), stats: readStats(plan(r)) }));
  const before = read();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = read();
  const total = Deno.systemMemoryInfo().total;
  return records.map((record, i) => {
    const wallNs = (after[i].at - before[i].at) * 1e6;
    const { cpuNs, memoryBytes, memoryLimit, pids } = after[i].stats;
    return {
      record,
      cpuPercent: wallNs > 0 ? ((cpuNs - before[i].stats.cpuNs) / wallNs) * 100 : 0,
      memoryBytes,
      memoryLimit: memoryLimit ?? total,
      pids,
    };
  });
}
