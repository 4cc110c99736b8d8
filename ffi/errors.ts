/**
 * The error every failed libc call becomes: the syscall, the path it was
 * about and the errno code, as crun prints them:
 * `pivot_root "/var/lib/skiff/x": EINVAL (Invalid argument)`.
 *
 * Callers branch on a few classes, not on errno codes: {@link NotFound},
 * {@link AlreadyExists}, {@link PermissionDenied}, {@link Busy},
 * {@link InvalidArgument}, as Deno's std sorts `EEXIST` into
 * `AlreadyExists`. {@link classify} is the one place that sorts them; the
 * original error stays as the `cause`.
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
   * The error of one failed call.
   *
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

/** An error with an errno code: a {@link SyscallError}, or one of Deno's (`EBUSY` has no Deno class). */
export type CodedError = Error & { code: string };

/**
 * An errno sorted into the class callers branch on. The message is the
 * original's; the original (with its exact code) is the `cause`.
 */
export class ErrnoError extends Error {
  /** The error as the call or Deno threw it, with its exact code. */
  declare readonly cause: CodedError;
  /** The errno's symbolic name, e.g. `EBUSY`. */
  readonly code: string;

  /**
   * Sorts `cause` (see {@link classify}, which picks the class).
   *
   * @param cause the error as the call or Deno threw it
   */
  constructor(cause: CodedError) {
    super(cause.message, { cause });
    this.name = new.target.name;
    this.code = cause.code;
  }
}

/** ENOENT: no such file, directory or process entry. */
export class NotFound extends ErrnoError {}
/** EEXIST: something is already there. */
export class AlreadyExists extends ErrnoError {}
/** EPERM or EACCES: not allowed, by capabilities or by file modes. */
export class PermissionDenied extends ErrnoError {}
/** EBUSY: a mount point, cgroup or device still in use. */
export class Busy extends ErrnoError {}
/** EINVAL: the kernel refused an argument (an unknown capability, a bad flag). */
export class InvalidArgument extends ErrnoError {}

/** Which class each errno code is sorted into; codes not listed stay as they are. */
const CLASSES: Record<string, new (cause: CodedError) => ErrnoError> = {
  ENOENT: NotFound,
  EEXIST: AlreadyExists,
  EPERM: PermissionDenied,
  EACCES: PermissionDenied,
  EBUSY: Busy,
  EINVAL: InvalidArgument,
};

/**
 * Sorts an error into its errno class: a SyscallError, or an error of
 * Deno's that carries an errno `code`.
 *
 * @param e what was caught
 * @returns an {@link ErrnoError} subclass with `e` as its cause, or `e`
 *   itself when it has no errno code with a class (or is already sorted)
 * @example
 * ```ts
 * try {
 *   Deno.removeSync(dir);
 * } catch (e) {
 *   if (!(classify(e) instanceof Busy)) throw e;
 * }
 * ```
 */
export function classify(e: unknown): unknown {
  if (e instanceof ErrnoError || !(e instanceof Error)) return e;
  const code = (e as Partial<CodedError>).code;
  const Class = typeof code === "string" ? CLASSES[code] : undefined;
  return Class === undefined ? e : new Class(e as CodedError);
}
