/**
 * `--ulimit NAME=SOFT[:HARD]`, as docker takes it: docker's names, a
 * number or -1 (unlimited) each, the hard limit the soft one when absent.
 * Set with prlimit(2) by init right before it drops capabilities (a hard
 * limit above the current one wants CAP_SYS_RESOURCE), for `exec` too.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** docker's ulimit names and their RLIMIT_* numbers (asm-generic/resource.h, the same on x86_64 and aarch64). */
export const RLIMITS: Record<string, number> = {
  cpu: 0,
  fsize: 1,
  data: 2,
  stack: 3,
  core: 4,
  rss: 5,
  nproc: 6,
  nofile: 7,
  memlock: 8,
  as: 9,
  locks: 10,
  sigpending: 11,
  msgqueue: 12,
  nice: 13,
  rtprio: 14,
  rttime: 15,
};

/** One limit, as docker's `HostConfig.Ulimits` has it: -1 is unlimited. */
export interface Ulimit {
  /** docker's name: `nofile`, `nproc`... */
  Name: string;
  /** The soft limit; -1 is unlimited. */
  Soft: number;
  /** The hard limit; -1 is unlimited. */
  Hard: number;
}

const LIMIT = /^(-1|[0-9]+)$/;

/**
 * Parses `--ulimit` values; a name given twice keeps the last, as docker.
 *
 * @throws {UsageError} naming the bad value
 */
export function parseUlimits(values: string[]): Ulimit[] {
  const byName = new Map<string, Ulimit>();
  for (const value of values) {
    const eq = value.indexOf("=");
    const name = value.slice(0, eq);
    const [soft, hard = soft, ...rest] = value.slice(eq + 1).split(":");
    if (eq === -1 || !(name in RLIMITS)) {
      throw new UsageError(
        `Invalid --ulimit "${value}": use NAME=SOFT[:HARD], NAME one of ${Object.keys(RLIMITS).join(", ")}`,
      );
    }
    if (rest.length > 0 || !LIMIT.test(soft) || !LIMIT.test(hard) || !Number.isSafeInteger(Number(soft))) {
      throw new UsageError(`Invalid --ulimit "${value}": SOFT and HARD are numbers, -1 for unlimited`);
    }
    const [s, h] = [Number(soft), Number(hard)];
    if (h !== -1 && (s === -1 || s > h)) {
      throw new UsageError(`Invalid --ulimit "${value}": the soft limit must not exceed the hard limit`);
    }
    byName.set(name, { Name: name, Soft: s, Hard: h });
  }
  return [...byName.values()];
}

/** What init sets: RLIMIT_* number, soft and hard (-1: RLIM_INFINITY). */
export type Rlimit = [resource: number, soft: number, hard: number];

/** The prlimit calls for the limits. */
export function rlimitsOf(ulimits: Ulimit[]): Rlimit[] {
  return ulimits.map((u) => [RLIMITS[u.Name], u.Soft, u.Hard]);
}
