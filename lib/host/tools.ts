/**
 * Where skiff expects the host tools it runs by path rather than finding
 * them on $PATH.
 *
 * @module
 */

/**
 * The host's static busybox (Debian's busybox-static): the busybox image is
 * built from it, a detached container's supervisor and `exec`'s shell in
 * the container run it. Static, so it runs in any container's root.
 */
export const BUSYBOX = "/bin/busybox";
