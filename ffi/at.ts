/**
 * The *at(2) calls `cp` copies a tree with: every entry named by one part
 * relative to a directory descriptor held open, never by a path walked
 * again, so a directory swapped for a symlink meanwhile changes nothing.
 * The descriptors come from openat2 (lib/host/in_root.ts). Opened
 * separately from `libc.ts` so the container's init binds none of them.
 *
 * @module
 */

import { cstr, ERRNO_SYMBOL, lazyLibc } from "./_c.ts";
import { classify, SyscallError } from "./errors.ts";

const AARCH64 = Deno.build.arch === "aarch64";
// open(2) flags; O_NOFOLLOW differs on arm64 (asm/fcntl.h).
export const O_WRONLY = 0o1;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOFOLLOW = AARCH64 ? 0o100000 : 0o400000;
// *at(2) flags (linux/fcntl.h).
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_EMPTY_PATH = 0x1000;
/** statx(2): every basic field. */
const STATX_BASIC_STATS = 0x7ff;
const STATX_BUF = 256;

/** S_IFMT and the file types, from sys/stat.h. */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

const SYMBOLS = {
  // int dirfd, const char *path, int flags, mode_t mode (variadic in C; fixed here)
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  // int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  // int dirfd, const char *path, char *buf, size_t size
  readlinkat: { parameters: ["i32", "buffer", "buffer", "usize"], result: "isize" },
  // int dirfd, const char *path, mode_t mode
  mkdirat: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  // int dirfd, const char *path, int flags
  unlinkat: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  // const char *target, int newdirfd, const char *linkpath
  symlinkat: { parameters: ["buffer", "i32", "buffer"], result: "i32" },
  // int dirfd, const char *path, mode_t mode, dev_t dev
  mknodat: { parameters: ["i32", "buffer", "u32", "u64"], result: "i32" },
  // int dirfd, const char *path, uid_t owner, gid_t group, int flags
  fchownat: { parameters: ["i32", "buffer", "u32", "u32", "i32"], result: "i32" },
  // int dirfd, const char *path, const struct timespec times[2], int flags
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  // int fd, struct statfs *buf
  fstatfs: { parameters: ["i32", "buffer"], result: "i32" },
  // int fd
  close: { parameters: ["i32"], result: "i32" },
  ...ERRNO_SYMBOL,
} as const satisfies Deno.ForeignLibraryInterface;

const libc = lazyLibc(SYMBOLS);
const errno = libc.errno;

function check(result: number | bigint, syscall: string, path: string): void {
  if (Number(result) === -1) throw classify(new SyscallError(syscall, errno(), path));
}

/** What statx(2) says of an entry. */
export interface Stat {
  /** Type and permission bits (S_IFMT...). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Modification time: seconds and nanoseconds. */
  mtime: { sec: number; nsec: number };
  /** A device's numbers. */
  rdev: { major: number; minor: number };
}

/** openat(2): a descriptor on `name` in the directory `dirFd`. */
export function openAt(dirFd: number, name: string, flags: number, mode = 0): number {
  const fd = libc().openat(dirFd, cstr(name), flags, mode);
  check(fd, "openat", name);
  return fd;
}

/** statx(2) of a descriptor itself (AT_EMPTY_PATH: an O_PATH one on a symlink is the symlink). */
export function statFd(fd: number, path = ""): Stat {
  const buf = new Uint8Array(STATX_BUF);
  check(libc().statx(fd, cstr(""), AT_EMPTY_PATH, STATX_BASIC_STATS, buf), "statx", path);
  // struct statx (linux/stat.h): the same layout on every arch
  const v = new DataView(buf.buffer);
  return {
    uid: v.getUint32(20, true),
    gid: v.getUint32(24, true),
    mode: v.getUint16(28, true),
    size: Number(v.getBigUint64(40, true)),
    mtime: { sec: Number(v.getBigInt64(112, true)), nsec: v.getUint32(120, true) },
    rdev: { major: v.getUint32(128, true), minor: v.getUint32(132, true) },
  };
}

/** readlinkat(2) of an O_PATH descriptor on a symlink: its target, as bytes. */
export function readLinkFd(fd: number, path = ""): Uint8Array {
  const buf = new Uint8Array(4096);
  const n = Number(libc().readlinkat(fd, cstr(""), buf, BigInt(buf.length)));
  check(n, "readlinkat", path);
  return buf.slice(0, n);
}

/** mkdirat(2). */
export function mkdirAt(dirFd: number, name: string, mode: number): void {
  check(libc().mkdirat(dirFd, cstr(name), mode), "mkdirat", name);
}

/** unlinkat(2) of a file (flags 0). */
export function unlinkAt(dirFd: number, name: string): void {
  check(libc().unlinkat(dirFd, cstr(name), 0), "unlinkat", name);
}

/** symlinkat(2): `name` in `dirFd`, pointing at `target` (bytes, as read). */
export function symlinkAt(target: Uint8Array, dirFd: number, name: string): void {
  const t = new Uint8Array(target.length + 1);
  t.set(target);
  check(libc().symlinkat(t, dirFd, cstr(name)), "symlinkat", name);
}

/** mknodat(2): a FIFO or device node. */
export function mknodAt(dirFd: number, name: string, mode: number, major: number, minor: number): void {
  const ma = BigInt(major), mi = BigInt(minor);
  // glibc's makedev(3)
  const dev = ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) |
    (mi & 0xffn);
  check(libc().mknodat(dirFd, cstr(name), mode, dev), "mknodat", name);
}

/** fchownat(2) of `name` in `dirFd`, not following a symlink. */
export function chownAt(dirFd: number, name: string, uid: number, gid: number): void {
  check(libc().fchownat(dirFd, cstr(name), uid, gid, AT_SYMLINK_NOFOLLOW), "fchownat", name);
}

/** utimensat(2) of `name` in `dirFd`, not following a symlink: access and modification time both `mtime`. */
export function setTimesAt(dirFd: number, name: string, mtime: { sec: number; nsec: number }): void {
  const times = new BigInt64Array([
    BigInt(mtime.sec),
    BigInt(mtime.nsec),
    BigInt(mtime.sec),
    BigInt(mtime.nsec),
  ]);
  check(
    libc().utimensat(dirFd, cstr(name), new Uint8Array(times.buffer), AT_SYMLINK_NOFOLLOW),
    "utimensat",
    name,
  );
}

/** fstatfs(2)'s f_type of a descriptor (an O_PATH one too): PROC_SUPER_MAGIC... */
export function fsType(fd: number, path = ""): number {
  // struct statfs is 120 bytes on 64-bit Linux; f_type, a long, comes first
  const buf = new Uint8Array(120);
  check(libc().fstatfs(fd, buf), "fstatfs", path);
  return Number(new DataView(buf.buffer).getBigInt64(0, true));
}

/** close(2). */
export function closeAt(fd: number): void {
  libc().close(fd);
}
