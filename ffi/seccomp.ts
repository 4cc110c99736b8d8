/**
 * Thin bindings to libseccomp (Debian's `libseccomp2`, as runc and crun use
 * it): a filter context, its attributes, one rule per call, the BPF program
 * it compiles to, release. The program is installed with seccomp(2)
 * (ffi/libc.ts), as seccomp_load would, so that it can be cached.
 * Which rules, in which order, is the callers' business
 * (lib/container/seccomp/).
 *
 * libseccomp returns a negative errno instead of setting errno: each
 * wrapper turns it into a {@link SyscallError} naming the call and what it
 * was about. The library is opened on first use, so importing this module
 * needs no `--allow-ffi`, and a container run with `seccomp=unconfined`
 * never opens it. Constants keep their C names (seccomp.h).
 *
 * @module
 */

import { cstr, ERRNO_SYMBOL, lazyLibc } from "./_c.ts";
import { classify, SyscallError } from "./errors.ts";

// Filter actions (seccomp.h). SCMP_ACT_ERRNO and SCMP_ACT_TRACE carry a
// 16-bit value: use {@link scmpActErrno} and {@link scmpActTrace}.
export const SCMP_ACT_KILL_PROCESS = 0x80000000;
export const SCMP_ACT_KILL_THREAD = 0x00000000;
export const SCMP_ACT_TRAP = 0x00030000;
export const SCMP_ACT_LOG = 0x7ffc0000;
export const SCMP_ACT_ALLOW = 0x7fff0000;

/** SCMP_ACT_ERRNO(x): the call fails with errno `x`. */
export function scmpActErrno(errno: number): number {
  return 0x00050000 | (errno & 0xffff);
}

/** SCMP_ACT_TRACE(x): a ptrace tracer is told, with `x`. */
export function scmpActTrace(msg: number): number {
  return 0x7ff00000 | (msg & 0xffff);
}

// enum scmp_compare
export const SCMP_CMP_NE = 1;
export const SCMP_CMP_LT = 2;
export const SCMP_CMP_LE = 3;
export const SCMP_CMP_EQ = 4;
export const SCMP_CMP_GE = 5;
export const SCMP_CMP_GT = 6;
export const SCMP_CMP_MASKED_EQ = 7;

// enum scmp_filter_attr
export const SCMP_FLTATR_ACT_BADARCH = 2;

// AUDIT_ARCH_* (linux/audit.h): EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
export const SCMP_ARCH_X86_64 = 0xc000003e;
export const SCMP_ARCH_AARCH64 = 0xc00000b7;

/** One argument comparison, as `struct scmp_arg_cmp`: (arg OP a), or ((arg & a) == b) for MASKED_EQ. */
export interface ArgCompare {
  /** The argument's index, 0 to 5. */
  arg: number;
  /** An SCMP_CMP_* value. */
  op: number;
  a: number;
  b: number;
}

/** sizeof(struct scmp_arg_cmp): unsigned int arg, enum op, two u64 datums. */
const ARG_CMP_SIZE = 24;

const SYMBOLS = {
  // scmp_filter_ctx seccomp_init(uint32_t def_action)
  seccomp_init: { parameters: ["u32"], result: "pointer" },
  // void seccomp_release(scmp_filter_ctx ctx)
  seccomp_release: { parameters: ["pointer"], result: "void" },
  // int seccomp_attr_set(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value)
  seccomp_attr_set: { parameters: ["pointer", "i32", "u32"], result: "i32" },
  // int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
  //                            unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array)
  seccomp_rule_add_array: { parameters: ["pointer", "u32", "i32", "u32", "buffer"], result: "i32" },
  // int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd)
  seccomp_export_bpf: { parameters: ["pointer", "i32"], result: "i32" },
  // uint32_t seccomp_arch_native(void)
  seccomp_arch_native: { parameters: [], result: "u32" },
} as const satisfies Deno.ForeignLibraryInterface;

let lib: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | undefined;

function seccomp(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  if (lib === undefined) {
    try {
      lib = Deno.dlopen("libseccomp.so.2", SYMBOLS).symbols;
    } catch (e) {
      throw new Error(
        "Cannot load libseccomp.so.2: install libseccomp2, or run with --security-opt seccomp=unconfined",
        { cause: e },
      );
    }
  }
  return lib;
}

/** A libseccomp result: negative errno on failure. */
function check(rc: number, call: string, about?: string): void {
  if (rc < 0) throw classify(new SyscallError(call, -rc, about));
}

/** A filter context (scmp_filter_ctx), for the native architecture only. */
export type FilterContext = Deno.PointerObject;

/** seccomp_init(3): a new filter whose unmatched calls get `defaultAction`. */
export function seccompInit(defaultAction: number): FilterContext {
  const ctx = seccomp().seccomp_init(defaultAction);
  if (ctx === null) throw new SyscallError("seccomp_init", 22, `action 0x${defaultAction.toString(16)}`);
  return ctx;
}

/** seccomp_release(3). */
export function seccompRelease(ctx: FilterContext): void {
  seccomp().seccomp_release(ctx);
}

/** seccomp_attr_set(3). */
export function seccompAttrSet(ctx: FilterContext, attr: number, value: number): void {
  check(seccomp().seccomp_attr_set(ctx, attr, value), "seccomp_attr_set", `attribute ${attr}`);
}

/**
 * seccomp_rule_add_array(3) for the syscall numbered `nr` on the native
 * architecture; `name` is for the error.
 */
export function seccompRuleAdd(
  ctx: FilterContext,
  action: number,
  nr: number,
  args: ArgCompare[],
  name: string,
): void {
  const buf = new Uint8Array(Math.max(1, args.length) * ARG_CMP_SIZE);
  const view = new DataView(buf.buffer);
  // Both architectures skiff runs on are little-endian.
  args.forEach((c, i) => {
    const at = i * ARG_CMP_SIZE;
    view.setUint32(at, c.arg, true);
    view.setUint32(at + 4, c.op, true);
    view.setBigUint64(at + 8, BigInt(c.a), true);
    view.setBigUint64(at + 16, BigInt(c.b), true);
  });
  check(seccomp().seccomp_rule_add_array(ctx, action, nr, args.length, buf), "seccomp_rule_add", name);
}

/** What exporting needs of libc: a memory file to write the program into, and reading it back. */
const libc = lazyLibc({
  // int memfd_create(const char *name, unsigned int flags)
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  // off_t lseek(int fd, off_t offset, int whence)
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  // ssize_t pread(int fd, void *buf, size_t count, off_t offset)
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  // int close(int fd)
  close: { parameters: ["i32"], result: "i32" },
  ...ERRNO_SYMBOL,
});
const MFD_CLOEXEC = 1;
const SEEK_END = 2;

/**
 * seccomp_export_bpf(3): the filter as the classic BPF program
 * seccomp(2) takes (an array of struct sock_filter), which libseccomp's
 * seccomp_load would install; written into a memfd and read back.
 */
export function seccompExportBpf(ctx: FilterContext): Uint8Array<ArrayBuffer> {
  const fd = libc().memfd_create(cstr("skiff-seccomp"), MFD_CLOEXEC);
  if (fd < 0) throw classify(new SyscallError("memfd_create", libc.errno()));
  try {
    check(seccomp().seccomp_export_bpf(ctx, fd), "seccomp_export_bpf");
    const size = Number(libc().lseek(fd, 0n, SEEK_END));
    if (size < 0) throw classify(new SyscallError("lseek", libc.errno()));
    const program = new Uint8Array(size);
    const read = Number(libc().pread(fd, program, BigInt(size), 0n));
    if (read !== size) throw classify(new SyscallError("pread", read < 0 ? libc.errno() : 5));
    return program;
  } finally {
    libc().close(fd);
  }
}

/** seccomp_arch_native(3): the AUDIT_ARCH_* token of this process. */
export function seccompArchNative(): number {
  return seccomp().seccomp_arch_native();
}
