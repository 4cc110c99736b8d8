/**
 * Bindings for moving one thread into a running container and handing it
 * to execve(2): unshare(CLONE_FS), setns, fchdir, chroot, the thread's
 * capability sets and its signal dispositions and mask.
 *
 * All of these act on the calling thread only (a Deno process has
 * several): setns into a mount namespace needs a thread whose filesystem
 * context is its own, hence {@link unshareFs} first (setns(2): EINVAL
 * "the caller's fs is shared"). execve from that thread then starts the
 * new program with that thread's namespaces, root and credentials.
 *
 * @module
 */

import { cstr, ERRNO_SYMBOL, lazyLibc } from "./_c.ts";
import { classify, SyscallError } from "./errors.ts";

/** unshare(2) flag: a copy of the filesystem context (root, cwd, umask) for this thread. */
const CLONE_FS = 0x200;
const CLONE_NEWNET = 0x40000000;
const AT_FDCWD = -100;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
/** _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set. */
const CAPABILITY_VERSION_3 = 0x20080522;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;
/** rt_sigaction and rt_sigprocmask have arch-specific numbers (glibc's wrappers refuse its own two signals). */
const SYS_RT_SIGACTION: Record<string, number> = { x86_64: 13, aarch64: 134 };
const SYS_RT_SIGPROCMASK: Record<string, number> = { x86_64: 14, aarch64: 135 };
const SIG_SETMASK = 2;
/** The kernel's sigset_t: 64 signals. */
const SIGSET_SIZE = 8;
/** struct sigaction as the kernel takes it: handler, flags, restorer, mask; all zero is SIG_DFL. */
const KERNEL_SIGACTION_SIZE = 32;

const SYMBOLS = {
  // int flags
  unshare: { parameters: ["i32"], result: "i32" },
  // int fd, int nstype
  setns: { parameters: ["i32", "i32"], result: "i32" },
  // int fd
  fchdir: { parameters: ["i32"], result: "i32" },
  // const char *path
  chroot: { parameters: ["buffer"], result: "i32" },
  // int dirfd, const char *path, int flags, mode_t mode (variadic in C; fixed here)
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  // cap_user_header_t header, cap_user_data_t data
  capget: { parameters: ["buffer", "buffer"], result: "i32" },
  capset: { parameters: ["buffer", "buffer"], result: "i32" },
  // int option, unsigned long arg2..arg5
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  // long syscall(long number, ...): a fixed-arity alias for rt_sigaction and rt_sigprocmask
  syscall4: { name: "syscall", parameters: ["i64", "i64", "buffer", "buffer", "i64"], result: "i64" },
  ...ERRNO_SYMBOL,
} as const satisfies Deno.ForeignLibraryInterface;

const libc = lazyLibc(SYMBOLS);

function check(result: number | bigint, syscall: string, path?: string): void {
  if (Number(result) === -1) throw classify(new SyscallError(syscall, libc.errno(), path));
}

/** Opens `path` read-only (close-on-exec), as setns and fchdir want their descriptors. */
export function openReadOnly(path: string): number {
  const fd = libc().openat(AT_FDCWD, cstr(path), O_RDONLY | O_CLOEXEC, 0);
  check(fd, "open", path);
  return fd;
}

/** unshare(CLONE_FS): this thread gets its own root and working directory. */
export function unshareFs(): void {
  check(libc().unshare(CLONE_FS), "unshare", "CLONE_FS");
}

/**
 * unshare(CLONE_NEWNET) on this thread: it (and what it execs or starts)
 * gets a network namespace of its own, with only a loopback interface, down.
 */
export function unshareNet(): void {
  check(libc().unshare(CLONE_NEWNET), "unshare", "CLONE_NEWNET");
}

/** setns(2) into the namespace `fd` refers to; `what` names it in errors. */
export function setns(fd: number, what: string): void {
  check(libc().setns(fd, 0), "setns", what);
}

/** fchdir(fd) then chroot("."): the directory `fd` becomes this thread's `/`, as `nsenter --root` does. */
export function chrootTo(fd: number, what: string): void {
  check(libc().fchdir(fd), "fchdir", what);
  check(libc().chroot(cstr(".")), "chroot", what);
}

/**
 * Empties this thread's inheritable and ambient capability sets, keeping
 * its permitted and effective ones: what a root process carries through
 * execve then depends on the bounding set alone (capabilities(7)).
 */
export function clearInheritableCaps(): void {
  const header = new Uint32Array([CAPABILITY_VERSION_3, 0]);
  const data = new Uint32Array(6); // {effective, permitted, inheritable} x 2
  const h = new Uint8Array(header.buffer);
  const d = new Uint8Array(data.buffer);
  check(libc().capget(h, d), "capget");
  data[2] = 0;
  data[5] = 0;
  check(libc().capset(h, d), "capset");
  check(libc().prctl(PR_CAP_AMBIENT, BigInt(PR_CAP_AMBIENT_CLEAR_ALL), 0n, 0n, 0n), "prctl", "CAP_AMBIENT");
}

/**
 * Sets every signal to its default action and unblocks them all, on this
 * thread. execve keeps ignored signals ignored and the mask as it is, and
 * a Deno process ignores SIGPIPE (Rust's runtime does): its program would
 * inherit that.
 */
export function resetSignals(): void {
  const action = SYS_RT_SIGACTION[Deno.build.arch];
  const mask = SYS_RT_SIGPROCMASK[Deno.build.arch];
  if (action === undefined || mask === undefined) {
    throw new Error(`rt_sigaction: unsupported architecture "${Deno.build.arch}"`);
  }
  const dfl = new Uint8Array(KERNEL_SIGACTION_SIZE);
  for (let sig = 1; sig <= 64; sig++) {
    if (sig === 9 || sig === 19) continue; // SIGKILL and SIGSTOP cannot be changed
    check(libc().syscall4(BigInt(action), BigInt(sig), dfl, null, BigInt(SIGSET_SIZE)), "rt_sigaction");
  }
  const empty = new Uint8Array(SIGSET_SIZE);
  check(
    libc().syscall4(BigInt(mask), BigInt(SIG_SETMASK), empty, null, BigInt(SIGSET_SIZE)),
    "rt_sigprocmask",
  );
}
