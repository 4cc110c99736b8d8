/**
 * Capabilities: the set a container keeps, podman's default unless
 * `--cap-add`, `--cap-drop` or `--privileged` change it. Everything else
 * is dropped from the bounding set before execve, which for a root process
 * also bounds what it gets after execve (capabilities(7)). Notably gone by
 * default: CAP_SYS_ADMIN (mount, and undoing skiff's read-only and masked
 * mounts), CAP_MKNOD (making a device node for the host's disk),
 * CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_NET_ADMIN.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** Every capability of linux/capability.h, by number (40 is the last in Linux 6.18). */
export const CAPABILITIES: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
};

/** podman's default set: docker's without MKNOD, NET_RAW and AUDIT_WRITE. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_SETFCAP",
];

/** The numbers of the default set, by name. */
export const KEPT_CAPABILITIES: Record<string, number> = Object.fromEntries(
  DEFAULT_CAPABILITIES.map((name) => [name, CAPABILITIES[name]]),
);

/**
 * Highest capability number to try. The kernel's own (cap_last_cap) is in
 * /proc/sys, which Deno lets only --allow-all read, so init tries up to
 * this and takes EINVAL as "no such capability on this kernel".
 */
const MAX_CAP = 63;

/**
 * The capabilities to drop from the bounding set: all but `kept`.
 *
 * @param kept capability names (default: podman's set)
 */
export function capabilitiesToDrop(
  kept: readonly string[] = DEFAULT_CAPABILITIES,
  last = kernelLastCap(),
): number[] {
  const numbers = new Set(kept.map((name) => CAPABILITIES[name]));
  return Array.from({ length: Math.min(MAX_CAP, last) + 1 }, (_, i) => i).filter((c) => !numbers.has(c));
}

/**
 * The running kernel's highest capability (/proc/sys/kernel/cap_last_cap;
 * MAX_CAP when it can't be read). The ones past it are not there to drop,
 * and are not tried: prctl's EINVAL for them was seen read back as ENOENT
 * under load, failing the start.
 */
export function kernelLastCap(): number {
  try {
    const n = Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim());
    return Number.isInteger(n) && n >= 0 ? n : MAX_CAP;
  } catch {
    return MAX_CAP;
  }
}

/**
 * A capability as docker spells it on the command line: with or without
 * `CAP_`, any case; `ALL` stays `ALL`.
 *
 * @throws {UsageError} naming an unknown capability
 */
export function capabilityName(value: string, option: string): string {
  const upper = value.toUpperCase();
  if (upper === "ALL") return upper;
  const name = upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
  if (!(name in CAPABILITIES)) {
    throw new UsageError(
      `Unknown capability "${value}" for ${option}: use a name of capabilities(7), e.g. NET_ADMIN, or ALL`,
    );
  }
  return name;
}

/**
 * The set a container keeps, as docker computes it: `--cap-add ALL` starts
 * from every capability, `--cap-drop ALL` from none, otherwise from the
 * default set; then the named drops go and the named adds come.
 *
 * @param add names from {@link capabilityName}
 * @param drop names from {@link capabilityName}
 */
export function keptCapabilities(add: readonly string[], drop: readonly string[]): string[] {
  const base = add.includes("ALL")
    ? Object.keys(CAPABILITIES)
    : drop.includes("ALL")
    ? []
    : DEFAULT_CAPABILITIES;
  const kept = new Set(base.filter((c) => !drop.includes(c)));
  for (const c of add) if (c !== "ALL") kept.add(c);
  return Object.keys(CAPABILITIES).filter((c) => kept.has(c));
}
