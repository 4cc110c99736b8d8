/**
 * The error every failed libc call becomes: the syscall, the path it was
 * about and the errno code, as crun prints them:
 * `pivot_root "/var/lib/skiff/x": EINVAL (Invalid argument)`.
 *
 * @module
 */

/** errno numbers shared by x86_64 and aarch64 (asm-generic/errno*.h). */
const ERRNO: Record<number, [code: string, text: string]> = {
  1: ["EPERM", "Operation not permitted"],
  2: ["ENOENT", "No such file or directory"],
  3: ["ESRCH", "No such process"],
  4: ["EINTR", "Interrupted system call"],
  5: ["EIO", "Input/output error"],
  6: ["ENXIO", "No such device or address"],
  7: ["E2BIG", "Argument list too long"],
  8: ["ENOEXEC", "Exec format error"],
  9: ["EBADF", "Bad file descriptor"],
  11: ["EAGAIN", "Resource temporarily unavailable"],
  12: ["ENOMEM", "Cannot allocate memory"],
  13: ["EACCES", "Permission denied"],
  14: ["EFAULT", "Bad address"],
  15: ["ENOTBLK", "Block device required"],
  16: ["EBUSY", "Device or resource busy"],
  17: ["EEXIST", "File exists"],
  18: ["EXDEV", "Invalid cross-device link"],
  19: ["ENODEV", "No such device"],
  20: ["ENOTDIR", "Not a directory"],
  21: ["EISDIR", "Is a directory"],
  22: ["EINVAL", "Invalid argument"],
  24: ["EMFILE", "Too many open files"],
  25: ["ENOTTY", "Inappropriate ioctl for device"],
  26: ["ETXTBSY", "Text file busy"],
  28: ["ENOSPC", "No space left on device"],
  30: ["EROFS", "Read-only file system"],
  36: ["ENAMETOOLONG", "File name too long"],
  38: ["ENOSYS", "Function not implemented"],
  39: ["ENOTEMPTY", "Directory not empty"],
  40: ["ELOOP", "Too many levels of symbolic links"],
  61: ["ENODATA", "No data available"],
  95: ["EOPNOTSUPP", "Operation not supported"],
};

/** The symbolic name of an errno value, `E<n>` when it is not in the table. */
export function errnoCode(errno: number): string {
  return ERRNO[errno]?.[0] ?? `E${errno}`;
}

/** A libc call that returned an error. */
export class SyscallError extends Error {
  /** The call that failed, e.g. `mount`. */
  readonly syscall: string;
  /** The path the call was about, when there is one. */
  readonly path: string | undefined;
  /** The raw errno value. */
  readonly errno: number;
  /** The errno's symbolic name, e.g. `EBUSY`. */
  readonly code: string;

  /**
   * @param syscall the libc function that failed
   * @param errno the errno value read right after the call
   * @param path the path the call was about, if any
   */
  constructor(syscall: string, errno: number, path?: string) {
    const [code, text] = ERRNO[errno] ?? [`E${errno}`, "Unknown error"];
    const subject = path === undefined ? "" : ` "${path}"`;
    super(`${syscall}${subject}: ${code} (${text})`);
    this.name = "SyscallError";
    this.syscall = syscall;
    this.path = path;
    this.errno = errno;
    this.code = code;
  }
}
