/**
 * Opening a file below a directory without following any symlink, and
 * asking what it is before reading it: openat2(2) with RESOLVE_IN_ROOT and
 * RESOLVE_NO_SYMLINKS for an O_PATH descriptor (no open of the file itself,
 * so a FIFO cannot block and a device's open has no effect), then statx(2)
 * on that descriptor. Used when layer files are read back (`save`).
 * Opened separately from `libc.ts` so the container's init binds none of
 * them.
 *
 * @module
 */

import { cstr, ERRNO_SYMBOL, lazyLibc } from "./_c.ts";
import { SyscallError } from "./errors.ts";

/** openat2 came after the syscall tables were unified: 437 everywhere. */
const SYS_OPENAT2 = 437;
// open(2) flags with the same value on x86_64 and aarch64.
const O_CLOEXEC = 0o2000000;
const O_PATH = 0o10000000;
/** openat2 resolve flags (linux/openat2.h). */
const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_NO_SYMLINKS = 0x04;
const RESOLVE_IN_ROOT = 0x10;
const AT_EMPTY_PATH = 0x1000;
const AT_FDCWD = -100;
/** statx mask bits (linux/stat.h). */
const STATX_TYPE = 0x1;
const STATX_MODE = 0x2;
const STATX_SIZE = 0x200;
/** struct statx: the same layout on every arch; stx_mode at 28, stx_size at 40. */
const STATX_BUF = 256;
const STX_MODE = 28;
const STX_SIZE = 40;

/** S_IFMT and its file types, from sys/stat.h. */
export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;

const SYMBOLS = {
  // long syscall(long number, ...): fixed arity for
  // openat2(int dirfd, const char *path, struct open_how *how, size_t size)
  syscall4: { name: "syscall", parameters: ["i64", "i64", "buffer", "buffer", "i64"], result: "i64" },
  // int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  // int flags, mode_t mode (variadic in C; fixed here)
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  // int fd
  close: { parameters: ["i32"], result: "i32" },
  ...ERRNO_SYMBOL,
} as const satisfies Deno.ForeignLibraryInterface;

const libc = lazyLibc(SYMBOLS);
const errno = libc.errno;

/** An O_PATH descriptor on a directory, the root for {@link openBeneath}. */
export function openDirPath(path: string): number {
  const fd = libc().openat(AT_FDCWD, cstr(path), O_PATH | O_CLOEXEC, 0);
  if (fd === -1) throw new SyscallError("open", errno(), path);
  return fd;
}

/**
 * openat2(2): an O_PATH descriptor on `path` resolved inside `rootFd` (a
 * `..` stops at it) with no symlink anywhere along the way, the last part
 * included (ELOOP then). Kernel 5.6 and later.
 */
export function openBeneath(rootFd: number, path: string): number {
  const how = new BigUint64Array([
    BigInt(O_PATH | O_CLOEXEC),
    0n,
    BigInt(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS),
  ]);
  const fd = libc().syscall4(
    BigInt(SYS_OPENAT2),
    BigInt(rootFd),
    cstr(path),
    new Uint8Array(how.buffer),
    BigInt(how.byteLength),
  );
  if (fd === -1n) throw new SyscallError("openat2", errno(), path);
  return Number(fd);
}

/** statx(2) of a descriptor: its mode (type and permission bits) and size. */
export function fstatx(fd: number, path?: string): { mode: number; size: number } {
  const buf = new Uint8Array(STATX_BUF);
  if (libc().statx(fd, cstr(""), AT_EMPTY_PATH, STATX_TYPE | STATX_MODE | STATX_SIZE, buf) === -1) {
    throw new SyscallError("statx", errno(), path);
  }
  const view = new DataView(buf.buffer);
  return { mode: view.getUint16(STX_MODE, true), size: Number(view.getBigUint64(STX_SIZE, true)) };
}

/** close(2). */
export function closeFd(fd: number): void {
  libc().close(fd);
}
