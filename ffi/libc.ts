/**
 * Thin bindings to the libc calls skiff's init needs: mount, umount2,
 * pivot_root, openat2, sethostname, prctl, the interface-flags ioctls and
 * execve; and those of a container's terminal: a pseudo-terminal, its
 * window size, and pidfd_getfd to take its master from init. Which flags,
 * in which order, is the callers' business (lib/).
 *
 * Each wrapper makes one synchronous call and reads errno right after it on
 * the same thread: a `nonblocking` call would run on another thread, whose
 * errno is not ours. libc is opened on first use, so importing this module
 * needs no `--allow-ffi`.
 *
 * @module
 */

import { cstr, ERRNO_SYMBOL, lazyLibc } from "./_c.ts";
import { classify, SyscallError } from "./errors.ts";

// mount(2) flags, with their C names (linux/mount.h).
export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
/** umount2(2) flag: detach now, clean up when no longer busy. */
export const MNT_DETACH = 0x2;

/** pivot_root has no libc wrapper; its syscall number depends on the arch. */
const SYS_PIVOT_ROOT: Record<string, number> = { x86_64: 155, aarch64: 41 };
/** seccomp(2) is older than the unified table. */
const SYS_SECCOMP: Record<string, number> = { x86_64: 317, aarch64: 277 };
const SECCOMP_SET_MODE_FILTER = 1;
// seccomp(2) filter flags (linux/seccomp.h)
export const SECCOMP_FILTER_FLAG_LOG = 2;
export const SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4;
/** sizeof(struct sock_filter): one BPF instruction. */
const SOCK_FILTER_SIZE = 8;
/** openat2 came after the syscall tables were unified: 437 everywhere. */
const SYS_OPENAT2 = 437;
// open(2) flags with the same value on x86_64 and aarch64 (O_NOFOLLOW and
// O_DIRECTORY differ, so they are not used).
const O_WRONLY = 0o1;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;
// openat2 resolve flags (linux/openat2.h).
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_IN_ROOT = 0x10;
/** Offset of f_flag in glibc's struct statvfs on 64-bit Linux. */
const STATVFS_F_FLAG = 72;
const STATVFS_SIZE = 128;
const PR_SET_PDEATHSIG = 1;
const PR_CAPBSET_DROP = 24;
const PR_SET_NO_NEW_PRIVS = 38;
/** close_range(2) flag: mark close-on-exec rather than close now. */
const CLOSE_RANGE_CLOEXEC = 1 << 2;
// socket(2) arguments (bits/socket.h).
export const AF_INET = 2;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const AF_NETLINK = 16;
export const NETLINK_ROUTE = 0;
export const SOCK_CLOEXEC = 0x80000;
const O_RDWR = 0o2;
const O_NONBLOCK = 0o4000;
const O_NOCTTY = 0o400;
// tty ioctls, the same on x86_64 and aarch64 (asm-generic/ioctls.h)
const TIOCSCTTY = 0x540e;
const TIOCSWINSZ = 0x5414;
const TIOCSPTLCK = 0x40045431;
const TIOCGPTPEER = 0x5441;
/** pidfd_open and pidfd_getfd: after the unified syscall table, so the same everywhere. */
const SYS_PIDFD_OPEN = 434;
const SYS_PIDFD_GETFD = 438;
const SIOCGIFFLAGS = 0x8913;
const SIOCGIFINDEX = 0x8933;
const SIOCSIFFLAGS = 0x8914;
const SIOCSIFADDR = 0x8916;
const SIOCSIFNETMASK = 0x891c;
const SIOCADDRT = 0x890b;
/** struct rtentry on LP64 (x86_64, aarch64): rt_dst at 8, rt_gateway at 24, rt_genmask at 40, rt_flags at 56. */
const RTENTRY_SIZE = 120;
const RTF_UP = 0x1;
const RTF_GATEWAY = 0x2;
/** Interface flag (net/if.h): the interface is up. */
export const IFF_UP = 0x1;
/** sizeof(struct ifreq) on 64-bit Linux; ifr_flags sits right after the name. */
const IFREQ_SIZE = 40;
const IFNAMSIZ = 16;

const SYMBOLS = {
  mount: {
    // const char *source, const char *target, const char *fstype,
    // unsigned long flags, const void *data
    parameters: ["buffer", "buffer", "buffer", "u64", "buffer"],
    result: "i32",
  },
  // const char *target, int flags
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  // const char *name, size_t len
  sethostname: { parameters: ["buffer", "usize"], result: "i32" },
  // int option, unsigned long arg2..arg5
  prctl: {
    parameters: ["i32", "u64", "u64", "u64", "u64"],
    result: "i32",
  },
  // int domain, int type, int protocol
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  // int fd, unsigned long request, void *argp (variadic in C; fixed here)
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  // the same with an integer argument: int fd, unsigned long request, unsigned long arg
  ioctl_int: { name: "ioctl", parameters: ["i32", "u64", "u64"], result: "i32" },
  // const char *path
  chdir: { parameters: ["buffer"], result: "i32" },
  // void
  setsid: { parameters: [], result: "i32" },
  // void
  getpgrp: { parameters: [], result: "i32" },
  // int fd
  tcgetpgrp: { parameters: ["i32"], result: "i32" },
  // int oldfd, int newfd
  dup2: { parameters: ["i32", "i32"], result: "i32" },
  // int fd, int cmd, int arg (variadic in C; one int here, as F_DUPFD_CLOEXEC takes)
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  // const char *path, mode_t mode
  mkfifo: { parameters: ["buffer", "u32"], result: "i32" },
  // read(2) and write(2) on a worker thread, for relaying a terminal:
  // they block until there is data or room (errno is not ours to read)
  read_blocking: { name: "read", parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
  write_blocking: {
    name: "write",
    parameters: ["i32", "buffer", "usize"],
    result: "isize",
    nonblocking: true,
  },
  // int fd
  close: { parameters: ["i32"], result: "i32" },
  // unsigned int first, unsigned int last, int flags (glibc 2.34 and later)
  close_range: { parameters: ["u32", "u32", "i32"], result: "i32" },
  // int fd, const void *buf, size_t count
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // int fd, void *buf, size_t count
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // const char *path, char *const argv[], char *const envp[]
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  // long syscall(long number, ...): a fixed-arity alias for pivot_root
  syscall2: {
    name: "syscall",
    parameters: ["i64", "buffer", "buffer"],
    result: "i64",
  },
  // the same for pidfd_open(pid_t pid, unsigned int flags) and
  // pidfd_getfd(int pidfd, int targetfd, unsigned int flags), with a 0 last argument
  syscall3: { name: "syscall", parameters: ["i64", "i64", "i64", "i64"], result: "i64" },
  // the same for seccomp(unsigned int op, unsigned int flags, void *args)
  syscallSeccomp: { name: "syscall", parameters: ["i64", "i64", "i64", "buffer"], result: "i64" },
  // the same for openat2(int dirfd, const char *path, struct open_how *how, size_t size)
  syscall4: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "buffer", "i64"],
    result: "i64",
  },
  // int dirfd, const char *path, int flags, mode_t mode (variadic in C; fixed here)
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  // int dirfd, const char *path, mode_t mode
  mkdirat: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  // const char *path, struct statvfs *buf
  statvfs: { parameters: ["buffer", "buffer"], result: "i32" },
  ...ERRNO_SYMBOL,
} as const satisfies Deno.ForeignLibraryInterface;

const libc = lazyLibc(SYMBOLS);
const errno = libc.errno;
const encoder = new TextEncoder();

/** Throws a SyscallError, sorted into its errno class, when a libc call returned -1. */
function check(
  result: number | bigint,
  syscall: string,
  path?: string,
): void {
  if (Number(result) === -1) throw classify(new SyscallError(syscall, errno(), path));
}

/** mount(2). `data` is the filesystem's option string, e.g. overlay's dirs. */
export function mount(
  source: string,
  target: string,
  fstype: string,
  flags: number,
  data = "",
): void {
  check(
    libc().mount(cstr(source), cstr(target), cstr(fstype), BigInt(flags), cstr(data)),
    "mount",
    target,
  );
}

/** umount2(2). */
export function umount2(target: string, flags: number): void {
  check(libc().umount2(cstr(target), flags), "umount2", target);
}

/** pivot_root(2), through the raw syscall. */
export function pivotRoot(newRoot: string, putOld: string): void {
  const nr = SYS_PIVOT_ROOT[Deno.build.arch];
  if (nr === undefined) {
    throw new Error(`pivot_root: unsupported architecture "${Deno.build.arch}"`);
  }
  check(
    libc().syscall2(BigInt(nr), cstr(newRoot), cstr(putOld)),
    "pivot_root",
    newRoot,
  );
}

/** sethostname(2) in the current UTS namespace. */
export function sethostname(name: string): void {
  const bytes = encoder.encode(name);
  check(libc().sethostname(bytes, BigInt(bytes.length)), "sethostname", name);
}

/** prctl(PR_CAPBSET_DROP): removes one capability from the bounding set. */
export function capbsetDrop(cap: number): void {
  check(libc().prctl(PR_CAPBSET_DROP, BigInt(cap), 0n, 0n, 0n), "prctl", `CAPBSET_DROP ${cap}`);
}

/**
 * prctl(PR_SET_PDEATHSIG): `signal` (a number) comes when the parent dies.
 * A parent that died before the call sends none: check it after.
 */
export function setParentDeathSignal(signal: number): void {
  check(libc().prctl(PR_SET_PDEATHSIG, BigInt(signal), 0n, 0n, 0n), "prctl", `PDEATHSIG ${signal}`);
}

/**
 * prctl(PR_SET_NO_NEW_PRIVS): from now on, for this thread and what it
 * executes, execve never raises privileges (setuid, file capabilities).
 */
export function setNoNewPrivs(): void {
  check(libc().prctl(PR_SET_NO_NEW_PRIVS, 1n, 0n, 0n, 0n), "prctl", "SET_NO_NEW_PRIVS");
}

/**
 * seccomp(SECCOMP_SET_MODE_FILTER): installs a classic BPF program (an
 * array of struct sock_filter) as a filter of the calling thread only:
 * `flags` never holds SECCOMP_FILTER_FLAG_TSYNC. The kernel wants
 * no_new_privs or CAP_SYS_ADMIN in the thread's effective set.
 */
export function seccompSetModeFilter(program: Uint8Array<ArrayBuffer>, flags: number): void {
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
  const fprog = new Uint8Array(16);
  const view = new DataView(fprog.buffer);
  view.setUint16(0, program.length / SOCK_FILTER_SIZE, true);
  view.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(program))), true);
  const nr = SYS_SECCOMP[Deno.build.arch];
  check(
    libc().syscallSeccomp(BigInt(nr), BigInt(SECCOMP_SET_MODE_FILTER), BigInt(flags), fprog),
    "seccomp",
    "SET_MODE_FILTER",
  );
}

/** socket(2): a descriptor, for the interface ioctls below. */
export function socket(domain: number, type: number, protocol: number): number {
  const fd = libc().socket(domain, type, protocol);
  check(fd, "socket");
  return fd;
}

/** An ifreq (struct ifreq) naming the interface, its flags field after the name. */
function ifreqFor(name: string): Uint8Array<ArrayBuffer> {
  const ifreq = new Uint8Array(IFREQ_SIZE);
  ifreq.set(encoder.encode(name).subarray(0, IFNAMSIZ - 1));
  return ifreq;
}

/** ioctl(SIOCGIFFLAGS): a network interface's flags (IFF_*), through a socket `fd`. */
export function interfaceFlags(fd: number, name: string): number {
  const ifreq = ifreqFor(name);
  check(libc().ioctl(fd, BigInt(SIOCGIFFLAGS), ifreq), "ioctl SIOCGIFFLAGS", name);
  return new DataView(ifreq.buffer).getUint16(IFNAMSIZ, true);
}

/** ioctl(SIOCGIFINDEX): a network interface's index in the namespace of the socket `fd`. */
export function interfaceIndex(fd: number, name: string): number {
  const ifreq = ifreqFor(name);
  check(libc().ioctl(fd, BigInt(SIOCGIFINDEX), ifreq), "ioctl SIOCGIFINDEX", name);
  return new DataView(ifreq.buffer).getInt32(IFNAMSIZ, true);
}

/** ioctl(SIOCSIFFLAGS): sets a network interface's flags (IFF_*), through a socket `fd`. */
export function setInterfaceFlags(fd: number, name: string, flags: number): void {
  const ifreq = ifreqFor(name);
  new DataView(ifreq.buffer).setUint16(IFNAMSIZ, flags, true);
  check(libc().ioctl(fd, BigInt(SIOCSIFFLAGS), ifreq), "ioctl SIOCSIFFLAGS", name);
}

/** A struct sockaddr_in for an IPv4 address (a number), written into `buf` at `at`. */
function putSockaddrIn(buf: Uint8Array<ArrayBuffer>, at: number, address: number): void {
  const view = new DataView(buf.buffer);
  view.setUint16(at, AF_INET, true);
  view.setUint32(at + 4, address, false); // network byte order
}

/**
 * ioctl(SIOCSIFADDR) then ioctl(SIOCSIFNETMASK): an interface's IPv4
 * address and mask (a number each), as `ifconfig NAME A netmask M` sets them.
 */
export function setInterfaceAddress(fd: number, name: string, address: number, mask: number): void {
  for (
    const [request, value, what] of [[SIOCSIFADDR, address, "SIOCSIFADDR"], [
      SIOCSIFNETMASK,
      mask,
      "SIOCSIFNETMASK",
    ]] as const
  ) {
    const ifreq = ifreqFor(name);
    putSockaddrIn(ifreq, IFNAMSIZ, value);
    check(libc().ioctl(fd, BigInt(request), ifreq), `ioctl ${what}`, name);
  }
}

/** ioctl(SIOCADDRT): a default route through `gateway` (an IPv4 address, a number). */
export function addDefaultRoute(fd: number, gateway: number): void {
  const rt = new Uint8Array(RTENTRY_SIZE);
  putSockaddrIn(rt, 8, 0); // rt_dst 0.0.0.0
  putSockaddrIn(rt, 24, gateway);
  putSockaddrIn(rt, 40, 0); // rt_genmask 0.0.0.0
  new DataView(rt.buffer).setUint16(56, RTF_UP | RTF_GATEWAY, true);
  check(libc().ioctl(fd, BigInt(SIOCADDRT), rt), "ioctl SIOCADDRT", "default");
}

/** Opens `path` as an O_PATH descriptor: a handle on the entry, not its data. */
export function openPath(path: string): number {
  const fd = libc().openat(AT_FDCWD, cstr(path), O_PATH | O_CLOEXEC, 0);
  check(fd, "open", path);
  return fd;
}

/**
 * Opens `path` for reading or writing, close-on-exec, on this thread (a
 * FIFO's open waits here for its other end), and returns the descriptor.
 */
export function openFd(path: string, mode: "read" | "write"): number {
  const fd = libc().openat(AT_FDCWD, cstr(path), (mode === "read" ? 0 : O_WRONLY) | O_NOCTTY | O_CLOEXEC, 0);
  check(fd, "open", path);
  return fd;
}

/** The *at(2) calls' "relative to the working directory". */
export const AT_FDCWD = -100;

/**
 * openat2(2) (kernel 5.6 and later): opens `path` relative to the
 * directory `dirFd` with open flags `flags` (O_*) and path resolution
 * restricted by `resolve` (RESOLVE_*).
 */
export function openat2(dirFd: number, path: string, flags: number, resolve: number): number {
  // struct open_how { u64 flags; u64 mode; u64 resolve; }
  const how = new BigUint64Array([BigInt(flags), 0n, BigInt(resolve)]);
  const fd = libc().syscall4(
    BigInt(SYS_OPENAT2),
    BigInt(dirFd),
    cstr(path),
    new Uint8Array(how.buffer),
    BigInt(how.byteLength),
  );
  check(fd, "openat2", path);
  return Number(fd);
}

/** mkdirat(2): one directory in the directory `dirFd`. */
export function mkdirAt(dirFd: number, name: string, mode: number): void {
  check(libc().mkdirat(dirFd, cstr(name), mode), "mkdirat", name);
}

/** Creates an empty file `name` in the directory `dirFd`; fails if it exists. */
export function createFileAt(dirFd: number, name: string, mode: number): void {
  const fd = libc().openat(dirFd, cstr(name), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);
  check(fd, "openat", name);
  libc().close(fd);
}

/**
 * Writes `text` to an existing file in one write(2), as a kernel interface
 * file (cgroup.procs, say) wants it.
 */
export function writeFile(path: string, text: string): void {
  const fd = libc().openat(AT_FDCWD, cstr(path), O_WRONLY | O_CLOEXEC, 0);
  check(fd, "open", path);
  try {
    const bytes = encoder.encode(text);
    check(libc().write(fd, bytes, BigInt(bytes.length)), "write", path);
  } finally {
    libc().close(fd);
  }
}

/** Reads a small kernel interface file (up to 4 KiB) in one read(2). */
export function readFile(path: string): string {
  const fd = libc().openat(AT_FDCWD, cstr(path), O_CLOEXEC, 0);
  check(fd, "open", path);
  try {
    const buf = new Uint8Array(4096);
    const n = libc().read(fd, buf, BigInt(buf.length));
    check(n, "read", path);
    return new TextDecoder().decode(buf.subarray(0, Number(n)));
  } finally {
    libc().close(fd);
  }
}

let hostPid: number | undefined;

/**
 * This process's pid as the mounted /proc counts it. Started as PID 1 of a
 * container's new pid namespace (lib/container/launcher.sh), skiff still
 * sees the host's /proc until it pivots, and this is its pid there, while
 * `Deno.pid` says 1: records, temporary names and liveness checks need this one.
 */
export function selfPid(): number {
  // Read only when needed: elsewhere a library caller may not allow FFI.
  if (Deno.pid !== 1) return Deno.pid;
  return hostPid ??= Number(readFile("/proc/self/stat").split(" ", 1)[0]);
}

/** close(2). */
export function close(fd: number): void {
  check(libc().close(fd), "close");
}

/** statvfs(2)'s f_flag: the mount flags (ST_* share MS_*'s values) of the filesystem at `path`. */
export function mountFlags(path: string): number {
  const buf = new Uint8Array(STATVFS_SIZE);
  check(libc().statvfs(cstr(path), buf), "statvfs", path);
  return Number(new DataView(buf.buffer).getBigUint64(STATVFS_F_FLAG, true));
}

/** A NULL-terminated array of C string pointers; keeps the strings alive. */
function cstrArray(items: string[]): { ptrs: Uint8Array<ArrayBuffer>; keep: Uint8Array[] } {
  const keep = items.map(cstr);
  const ptrs = new BigUint64Array(items.length + 1);
  keep.forEach((s, i) => {
    ptrs[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s)));
  });
  return { ptrs: new Uint8Array(ptrs.buffer), keep };
}

/**
 * Marks every descriptor from `first` on close-on-exec (close_range(2)
 * with CLOSE_RANGE_CLOEXEC, kernel 5.11): whatever skiff inherited from
 * its own parent must not reach a container's command.
 */
export function closeOnExecFrom(first: number): void {
  check(libc().close_range(first, 0xffffffff, CLOSE_RANGE_CLOEXEC), "close_range");
}

/**
 * execve(2): replaces this process (every thread of it) with `path`.
 * Returns only by throwing.
 */
export function execve(path: string, argv: string[], env: string[]): never {
  const file = cstr(path);
  const args = cstrArray(argv);
  const envp = cstrArray(env);
  // The call is synchronous: no JS (and so no GC) runs on this thread until
  // it returns, and it returns only on failure.
  libc().execve(file, args.ptrs, envp.ptrs);
  throw classify(new SyscallError("execve", errno(), path));
}

/** chdir(2). */
export function chdir(path: string): void {
  check(libc().chdir(cstr(path)), "chdir", path);
}

/** setsid(2): a new session, without a controlling terminal. */
export function setsid(): void {
  check(libc().setsid(), "setsid");
}

/** dup2(2). */
export function dup2(from: number, to: number): void {
  check(libc().dup2(from, to), "dup2");
}

/** A close-on-exec copy of `fd`, numbered 10 or above (fcntl F_DUPFD_CLOEXEC). */
export function dupCloexec(fd: number): number {
  const copy = libc().fcntl(fd, 1030, 10);
  check(copy, "fcntl", "F_DUPFD_CLOEXEC");
  return copy;
}

/** mkfifo(3). */
export function mkfifo(path: string, mode: number): void {
  check(libc().mkfifo(cstr(path), mode), "mkfifo", path);
}

/** Reads up to `max` bytes from `fd` in one read(2) on this thread: empty at EOF. */
export function readFd(fd: number, max: number): Uint8Array {
  const buf = new Uint8Array(max);
  const n = libc().read(fd, buf, BigInt(max));
  check(n, "read");
  return buf.subarray(0, Number(n));
}

/**
 * A new pseudo-terminal from the devpts of `ptmx` (a path to its ptmx
 * node), unlocked, with its slave opened through the master
 * (TIOCGPTPEER, kernel 4.13), so no path lookup can pick another.
 * Both descriptors are close-on-exec and neither becomes our controlling
 * terminal.
 */
export function openPty(ptmx: string): { master: number; slave: number } {
  const sym = libc();
  const master = sym.openat(AT_FDCWD, cstr(ptmx), O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
  check(master, "open", ptmx);
  try {
    check(sym.ioctl(master, BigInt(TIOCSPTLCK), new Uint8Array(4)), "ioctl TIOCSPTLCK", ptmx);
    const slave = sym.ioctl_int(master, BigInt(TIOCGPTPEER), BigInt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    check(slave, "ioctl TIOCGPTPEER", ptmx);
    return { master, slave };
  } catch (e) {
    sym.close(master);
    throw e;
  }
}

/** Makes the terminal `fd` the controlling terminal of this session's leader (TIOCSCTTY). */
export function setControllingTerminal(fd: number): void {
  check(libc().ioctl_int(fd, BigInt(TIOCSCTTY), 0n), "ioctl TIOCSCTTY");
}

/** Sets a terminal's window size (TIOCSWINSZ); its foreground group gets SIGWINCH. */
export function setWindowSize(fd: number, rows: number, columns: number): void {
  const winsize = new Uint16Array([rows, columns, 0, 0]);
  check(libc().ioctl(fd, BigInt(TIOCSWINSZ), new Uint8Array(winsize.buffer)), "ioctl TIOCSWINSZ");
}

/**
 * A copy, in this process, of descriptor `fd` of process `pid`
 * (pidfd_open + pidfd_getfd, kernel 5.6; it needs ptrace rights over
 * `pid`). The copy is close-on-exec.
 */
export function takeFd(pid: number, fd: number): number {
  const sym = libc();
  const pidfd = sym.syscall3(BigInt(SYS_PIDFD_OPEN), BigInt(pid), 0n, 0n);
  check(pidfd, "pidfd_open", String(pid));
  try {
    const copy = sym.syscall3(BigInt(SYS_PIDFD_GETFD), pidfd, BigInt(fd), 0n);
    check(copy, "pidfd_getfd", `${pid} ${fd}`);
    return Number(copy);
  } finally {
    sym.close(Number(pidfd));
  }
}

/**
 * read(2) on a worker thread, so a terminal that has nothing to say blocks
 * no JavaScript: resolves to the bytes read, empty at EOF or on an error
 * (EIO: every slave of a pty closed).
 */
export async function readAsync(fd: number, buf: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const n = Number(await libc().read_blocking(fd, buf, BigInt(buf.length)));
  return n > 0 ? buf.subarray(0, n) : new Uint8Array();
}

/** Writes all of `data` to `fd` from worker threads; false when the descriptor can take no more. */
export async function writeAllAsync(fd: number, data: Uint8Array<ArrayBuffer>): Promise<boolean> {
  for (let off = 0; off < data.length;) {
    const n = Number(await libc().write_blocking(fd, data.subarray(off), BigInt(data.length - off)));
    if (n <= 0) return false;
    off += n;
  }
  return true;
}

/**
 * Whether this process is in the foreground process group of the terminal
 * `fd`: one in the background that reads it is stopped by SIGTTIN.
 */
export function inForeground(fd: number): boolean {
  return libc().tcgetpgrp(fd) === libc().getpgrp();
}

/**
 * Opens the write end of a FIFO without waiting for a reader: with none
 * (the reader died), it fails at once with ENXIO instead of blocking
 * forever. Close-on-exec; writes of less than PIPE_BUF are whole.
 */
export function openFifoWriter(path: string): number {
  const fd = libc().openat(AT_FDCWD, cstr(path), O_WRONLY | O_NONBLOCK | O_CLOEXEC, 0);
  check(fd, "open", path);
  return fd;
}

/** Writes all of `data` to `fd` with write(2) on this thread. */
export function writeFd(fd: number, data: Uint8Array<ArrayBuffer>): void {
  for (let off = 0; off < data.length;) {
    const n = libc().write(fd, data.subarray(off), BigInt(data.length - off));
    check(n, "write");
    off += Number(n);
  }
}
