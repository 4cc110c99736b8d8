/**
 * The capabilities a container keeps: podman's default set. Everything else
 * is dropped from the bounding set before execve, which for a root process
 * also bounds what it gets after execve (capabilities(7)). Notably gone:
 * CAP_SYS_ADMIN (mount, and undoing skiff's read-only and masked mounts),
 * CAP_MKNOD (making a device node for the host's disk), CAP_SYS_MODULE,
 * CAP_SYS_PTRACE, CAP_NET_ADMIN.
 *
 * @module
 */

/** Capability numbers from linux/capability.h. */
export const KEPT_CAPABILITIES: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_NET_BIND_SERVICE: 10,
  CAP_SYS_CHROOT: 18,
  CAP_SETFCAP: 31,
};

/**
 * Highest capability number to try. The kernel's own (cap_last_cap) is in
 * /proc/sys, which Deno lets only --allow-all read, so init tries up to
 * this and takes EINVAL as "no such capability on this kernel".
 */
const MAX_CAP = 63;

/** The capabilities to drop: all but {@link KEPT_CAPABILITIES}. */
export function capabilitiesToDrop(): number[] {
  const kept = new Set(Object.values(KEPT_CAPABILITIES));
  return Array.from({ length: MAX_CAP + 1 }, (_, i) => i).filter((c) => !kept.has(c));
}
