/**
 * Opening a path inside a directory tree as if it were `/`: the one place
 * that decides the resolve flags skiff uses for untrusted trees (a
 * container's root, an archive being loaded).
 *
 * @module
 */

import { O_CLOEXEC, O_PATH, openat2, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS } from "../../ffi/libc.ts";

/**
 * Opens `path` as if `rootFd` were `/` (openat2 with RESOLVE_IN_ROOT), so
 * no symlink or `..` can lead outside it, and no magic link
 * (/proc/PID/fd/N, /proc/PID/root) either: a container's symlink to them
 * would otherwise reach the host. Returns an O_PATH descriptor.
 */
export function openInRoot(rootFd: number, path: string): number {
  return openat2(rootFd, path, O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}
