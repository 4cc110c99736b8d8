/**
 * Opening a path inside a directory tree as if it were `/`: the one place
 * that decides the resolve flags skiff uses for untrusted trees (a
 * container's root, an archive being loaded).
 *
 * @module
 */

import {
  O_CLOEXEC,
  O_PATH,
  openat2,
  RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS,
  RESOLVE_NO_SYMLINKS,
} from "../../ffi/libc.ts";
import { O_NOFOLLOW } from "../../ffi/at.ts";

/**
 * Opens `path` as if `rootFd` were `/` (openat2 with RESOLVE_IN_ROOT), so
 * no symlink or `..` can lead outside it, and no magic link
 * (/proc/PID/fd/N, /proc/PID/root) either: a container's symlink to them
 * would otherwise reach the host. Returns an O_PATH descriptor.
 */
export function openInRoot(rootFd: number, path: string): number {
  return openat2(rootFd, path, O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

/**
 * {@link openInRoot}, but a symlink as the last part is opened itself, not
 * followed (O_NOFOLLOW with O_PATH): what `cp` copies unless `-L`.
 */
export function openInRootNoFollow(rootFd: number, path: string): number {
  return openat2(rootFd, path, O_PATH | O_CLOEXEC | O_NOFOLLOW, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

/**
 * The entry `name` of the directory `dirFd`, a symlink opened itself: no
 * symlink is followed at all (RESOLVE_NO_SYMLINKS), and `..` stops at
 * `dirFd`. Returns an O_PATH descriptor.
 */
export function openEntry(dirFd: number, name: string): number {
  return openat2(
    dirFd,
    name,
    O_PATH | O_CLOEXEC | O_NOFOLLOW,
    RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
  );
}
