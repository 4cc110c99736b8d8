/**
 * `--sysctl KEY=VALUE` for the sysctls a container's own namespaces hold,
 * as docker allows them: `net.*` (its network namespace), the System V
 * IPC ones (`kernel.shm*`, `kernel.msg*`, `kernel.sem`) and `fs.mqueue.*`
 * (its IPC namespace). Any other would change the host for everyone, and
 * is refused. init writes them through /proc/sys from the thread that is
 * in those namespaces, before the container's root is mounted.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** The IPC sysctls docker allows by name. */
const IPC = new Set([
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
]);
const PREFIXES = ["net.", "fs.mqueue."];
const KEY = /^[a-z0-9_]+([./][a-z0-9_+-]+)+$/i;

/**
 * Parses `--sysctl` values into key and value, checking that each is
 * namespaced; a key given twice keeps the last.
 *
 * @throws {UsageError} naming the bad value
 */
export function parseSysctls(values: string[]): Record<string, string> {
  const sysctls: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf("=");
    // Either separator, as the kernel's sysctl(8) takes: net/ipv4/ip_forward.
    const key = value.slice(0, eq).replaceAll("/", ".");
    const val = value.slice(eq + 1);
    if (eq === -1 || !KEY.test(key) || /[\0\n]/.test(val)) {
      throw new UsageError(`Invalid --sysctl "${value}": use KEY=VALUE, e.g. net.ipv4.ip_forward=1`);
    }
    if (!IPC.has(key) && !PREFIXES.some((p) => key.startsWith(p))) {
      throw new UsageError(
        `Invalid --sysctl "${value}": ${key} is not namespaced, the host's own would change (allowed: net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)`,
      );
    }
    sysctls[key] = val;
  }
  return sysctls;
}

/** The /proc/sys file of a key: dots are directories. */
export function sysctlPath(key: string): string {
  return `/proc/sys/${key.replaceAll(".", "/")}`;
}

/**
 * `--oom-score-adj`: -1000 to 1000, as docker.
 *
 * @throws {UsageError} naming the bad value
 */
export function parseOomScoreAdj(value: string): number {
  const n = Number(value);
  if (!/^-?[0-9]+$/.test(value) || n < -1000 || n > 1000) {
    throw new UsageError(`Invalid --oom-score-adj "${value}": use a whole number from -1000 to 1000`);
  }
  return n;
}
