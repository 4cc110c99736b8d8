/**
 * The calling thread's credentials and resource limits: setgroups,
 * setresgid and setresuid through syscall(2), the capability sets, the
 * keep-caps flag, the ambient set and the parent-death signal; and
 * prlimit, which is the process's.
 *
 * Raw syscalls on purpose: glibc's setuid(), setgid() and setgroups()
 * change every thread of the process (they signal each one, the "setxid"
 * broadcast), and a Deno process has several. The kernel's calls change
 * the calling thread only, the one that then execve()s.
 *
 * @module
 */

import { ERRNO_SYMBOL, lazyLibc } from "./_c.ts";
import { classify, SyscallError } from "./errors.ts";

const SYS: Record<string, { setgroups: number; setresuid: number; setresgid: number }> = {
  x86_64: { setgroups: 116, setresuid: 117, setresgid: 119 },
  aarch64: { setgroups: 159, setresuid: 147, setresgid: 149 },
};
/** _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set. */
const CAPABILITY_VERSION_3 = 0x20080522;
const PR_SET_KEEPCAPS = 8;
const PR_GET_PDEATHSIG = 2;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_RAISE = 2;

const SYMBOLS = {
  // long syscall(long number, ...): fixed-arity aliases
  syscall3: { name: "syscall", parameters: ["i64", "i64", "i64", "i64"], result: "i64" },
  syscallBuffer: { name: "syscall", parameters: ["i64", "i64", "buffer"], result: "i64" },
  // cap_user_header_t header, cap_user_data_t data
  capget: { parameters: ["buffer", "buffer"], result: "i32" },
  capset: { parameters: ["buffer", "buffer"], result: "i32" },
  // int option, unsigned long arg2..arg5
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  // the same with a pointer second argument (PR_GET_PDEATHSIG's int *)
  prctlPointer: { name: "prctl", parameters: ["i32", "buffer", "u64", "u64", "u64"], result: "i32" },
  // void
  getppid: { parameters: [], result: "i32" },
  // pid_t pid, int resource, const struct rlimit *new, struct rlimit *old
  prlimit: { parameters: ["i32", "i32", "buffer", "buffer"], result: "i32" },
  ...ERRNO_SYMBOL,
} as const satisfies Deno.ForeignLibraryInterface;

const libc = lazyLibc(SYMBOLS);

function check(result: number | bigint, syscall: string, what?: string): void {
  if (Number(result) === -1) throw classify(new SyscallError(syscall, libc.errno(), what));
}

function numbers(): { setgroups: number; setresuid: number; setresgid: number } {
  const nr = SYS[Deno.build.arch];
  if (nr === undefined) throw new Error(`setresuid: unsupported architecture "${Deno.build.arch}"`);
  return nr;
}

/** setgroups(2) for this thread: its supplementary groups. */
export function setgroups(gids: number[]): void {
  const list = new Uint32Array(gids);
  check(
    libc().syscallBuffer(BigInt(numbers().setgroups), BigInt(gids.length), new Uint8Array(list.buffer)),
    "setgroups",
    gids.join(","),
  );
}

/** setresgid(2) for this thread: real, effective and saved gid. */
export function setresgid(gid: number): void {
  const g = BigInt(gid);
  check(libc().syscall3(BigInt(numbers().setresgid), g, g, g), "setresgid", String(gid));
}

/** setresuid(2) for this thread: real, effective and saved uid. */
export function setresuid(uid: number): void {
  const u = BigInt(uid);
  check(libc().syscall3(BigInt(numbers().setresuid), u, u, u), "setresuid", String(uid));
}

/** prctl(PR_SET_KEEPCAPS): whether a change to non-zero uids keeps the permitted set. */
export function setKeepCaps(keep: boolean): void {
  check(libc().prctl(PR_SET_KEEPCAPS, keep ? 1n : 0n, 0n, 0n, 0n), "prctl", "SET_KEEPCAPS");
}

/**
 * capset(2) on this thread: the effective set becomes the permitted one
 * (a uid change cleared it), the inheritable set those of `inheritable`
 * (numbers) that are permitted: the kernel refuses any other.
 *
 * @returns the inheritable set made
 */
export function restoreEffectiveCaps(inheritable: number[]): number[] {
  const header = new Uint32Array([CAPABILITY_VERSION_3, 0]);
  const data = new Uint32Array(6); // {effective, permitted, inheritable} x 2
  const h = new Uint8Array(header.buffer);
  const d = new Uint8Array(data.buffer);
  check(libc().capget(h, d), "capget");
  data[0] = data[1];
  data[3] = data[4];
  data[2] = data[5] = 0;
  const made = inheritable.filter((cap) => cap < 64 && (data[1 + 3 * (cap >> 5)] & (1 << (cap & 31))) !== 0);
  for (const cap of made) data[2 + 3 * (cap >> 5)] |= 1 << (cap & 31);
  check(libc().capset(h, d), "capset");
  return made;
}

/** prctl(PR_CAP_AMBIENT_RAISE): `cap` (permitted and inheritable) survives an unprivileged execve. */
export function raiseAmbientCap(cap: number): void {
  check(
    libc().prctl(PR_CAP_AMBIENT, BigInt(PR_CAP_AMBIENT_RAISE), BigInt(cap), 0n, 0n),
    "prctl",
    `CAP_AMBIENT_RAISE ${cap}`,
  );
}

/**
 * prctl(PR_GET_PDEATHSIG): the signal this thread gets when its parent
 * dies; 0 for none. A change of the effective or filesystem ids clears it
 * (prctl(2)), so whoever changes them puts it back.
 */
export function parentDeathSignal(): number {
  const sig = new Int32Array(1);
  check(
    libc().prctlPointer(PR_GET_PDEATHSIG, new Uint8Array(sig.buffer), 0n, 0n, 0n),
    "prctl",
    "GET_PDEATHSIG",
  );
  return sig[0];
}

/** getppid(2). */
export function parentPid(): number {
  return libc().getppid();
}

/** prlimit(2) on this process: the soft and hard limits of `resource` (RLIMIT_*); -1 is RLIM_INFINITY. */
export function setRlimit(resource: number, soft: number, hard: number): void {
  const value = (n: number) => n === -1 ? 0xffffffffffffffffn : BigInt(n);
  const limit = new BigUint64Array([value(soft), value(hard)]);
  check(libc().prlimit(0, resource, new Uint8Array(limit.buffer), null), "prlimit", String(resource));
}
