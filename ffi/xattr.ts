/**
 * mknod, lchown, lgetxattr and lsetxattr: what making and reading layers needs
 * (what overlay's whiteouts and opaque directories are is lib/image's
 * business). Opened separately from `libc.ts` so the container's init
 * binds none of them.
 *
 * @module
 */

import { cstr, ERRNO_SYMBOL, lazyLibc } from "./_c.ts";
import { classify, SyscallError } from "./errors.ts";

/** S_IFCHR from sys/stat.h: mknod's file type for a character device. */
export const S_IFCHR = 0o020000;
/** S_IFBLK: a block device. */
export const S_IFBLK = 0o060000;
/** errno for "no such attribute". */
const ENODATA = 61;

const SYMBOLS = {
  // const char *path, mode_t mode, dev_t dev
  mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
  // const char *path, uid_t owner, gid_t group
  lchown: { parameters: ["buffer", "u32", "u32"], result: "i32" },
  // const char *path, const char *name, void *value, size_t size
  lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
  // const char *path, const char *name, const void *value, size_t size, int flags
  lsetxattr: { parameters: ["buffer", "buffer", "buffer", "usize", "i32"], result: "i32" },
  ...ERRNO_SYMBOL,
} as const satisfies Deno.ForeignLibraryInterface;

const libc = lazyLibc(SYMBOLS);
const errno = libc.errno;
const encoder = new TextEncoder();

/** mknod(2): a special file of type and permissions `mode` (S_IFCHR | 0o644, say), device `dev`. */
export function mknod(path: string, mode: number, dev: bigint): void {
  if (libc().mknod(cstr(path), mode, dev) === -1) throw classify(new SyscallError("mknod", errno(), path));
}

/** lchown(2): the owner of `path` itself, a symlink not followed (Deno.chown follows it). */
export function lchown(path: string, uid: number, gid: number): void {
  if (libc().lchown(cstr(path), uid, gid) === -1) throw classify(new SyscallError("lchown", errno(), path));
}

/** An extended attribute of `path` (not following a symlink), or null when unset. */
export function lgetxattr(path: string, name: string): string | null {
  const buf = new Uint8Array(256);
  const n = Number(libc().lgetxattr(cstr(path), cstr(name), buf, BigInt(buf.length)));
  if (n === -1) {
    const e = errno();
    if (e === ENODATA) return null;
    throw classify(new SyscallError("lgetxattr", e, path));
  }
  return new TextDecoder().decode(buf.subarray(0, n));
}

/** Sets an extended attribute of `path` (not following a symlink). */
export function lsetxattr(path: string, name: string, value: string): void {
  const bytes = encoder.encode(value);
  if (libc().lsetxattr(cstr(path), cstr(name), bytes, BigInt(bytes.length), 0) === -1) {
    throw classify(new SyscallError("lsetxattr", errno(), path));
  }
}
