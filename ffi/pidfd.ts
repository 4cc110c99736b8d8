/**
 * Bindings for process descriptors (kernel 5.3): a pidfd names one
 * process for good, so a signal sent through it cannot reach another
 * process that was given the same pid after the first one died.
 *
 * @module
 */

import { ERRNO_SYMBOL, lazyLibc } from "./_c.ts";
import { classify, SyscallError } from "./errors.ts";

/** Both came after the syscall tables were unified: the same number everywhere. */
const SYS_PIDFD_SEND_SIGNAL = 424;
const SYS_PIDFD_OPEN = 434;

const SYMBOLS = {
  // long syscall(long number, ...): pidfd_open(pid_t pid, unsigned int flags) and
  // pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags)
  syscall4: { name: "syscall", parameters: ["i64", "i64", "i64", "pointer", "i64"], result: "i64" },
  // int fd
  close: { parameters: ["i32"], result: "i32" },
  ...ERRNO_SYMBOL,
} as const satisfies Deno.ForeignLibraryInterface;

const libc = lazyLibc(SYMBOLS);

/**
 * pidfd_open(2).
 *
 * @throws {SyscallError} ESRCH when there is no such process
 */
export function pidfdOpen(pid: number): number {
  const fd = libc().syscall4(BigInt(SYS_PIDFD_OPEN), BigInt(pid), 0n, null, 0n);
  if (Number(fd) === -1) throw classify(new SyscallError("pidfd_open", libc.errno(), String(pid)));
  return Number(fd);
}

/**
 * pidfd_send_signal(2): signal `signal` (a number) to the process `fd` names.
 *
 * @throws {SyscallError} ESRCH when that process has exited
 */
export function pidfdSendSignal(fd: number, signal: number): void {
  const r = libc().syscall4(BigInt(SYS_PIDFD_SEND_SIGNAL), BigInt(fd), BigInt(signal), null, 0n);
  if (Number(r) === -1) throw classify(new SyscallError("pidfd_send_signal", libc.errno()));
}

/** close(2) of a pidfd. */
export function pidfdClose(fd: number): void {
  libc().close(fd);
}
