/**
 * bpf(2), for the one use skiff has: loading a cgroup device program
 * (BPF_PROG_LOAD) and attaching it to a cgroup v2 directory
 * (BPF_PROG_ATTACH), as runc and crun do. The program itself is built as
 * data by lib/host/cgroup/device_filter.ts.
 *
 * @module
 */

import { cstr, ERRNO_SYMBOL, lazyLibc } from "./_c.ts";
import { classify, SyscallError } from "./errors.ts";

const SYS_BPF: Record<string, number> = { x86_64: 321, aarch64: 280 };
const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
/** enum bpf_prog_type */
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
/** enum bpf_attach_type */
export const BPF_CGROUP_DEVICE = 6;
/** Other programs may be attached to the same cgroup, and below it. */
export const BPF_F_ALLOW_MULTI = 2;
/** union bpf_attr: larger than any command's part skiff uses; the kernel wants the rest zero. */
const ATTR_SIZE = 128;
const LOG_SIZE = 1 << 16;

const SYMBOLS = {
  // long syscall(long number, int cmd, union bpf_attr *attr, unsigned int size)
  syscallBpf: { name: "syscall", parameters: ["i64", "i64", "buffer", "i64"], result: "i64" },
  ...ERRNO_SYMBOL,
} as const satisfies Deno.ForeignLibraryInterface;

const libc = lazyLibc(SYMBOLS);

function bpf(cmd: number, attr: Uint8Array<ArrayBuffer>, what: string): number {
  const nr = SYS_BPF[Deno.build.arch];
  if (nr === undefined) throw new Error(`bpf: unsupported architecture "${Deno.build.arch}"`);
  const result = Number(libc().syscallBpf(BigInt(nr), BigInt(cmd), attr, BigInt(ATTR_SIZE)));
  if (result === -1) throw classify(new SyscallError("bpf", libc.errno(), what));
  return result;
}

const pointer = (buf: Uint8Array) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));

/**
 * BPF_PROG_LOAD: loads `program` (struct bpf_insn[], 8 bytes each) of
 * `type`; a descriptor of the loaded program. The verifier's log, when it
 * refuses, ends the error's message.
 */
export function bpfProgLoad(type: number, program: Uint8Array<ArrayBuffer>, expectedAttach: number): number {
  try {
    return progLoad(type, program, expectedAttach, null);
  } catch {
    // Again with the verifier's log, which costs a millisecond more when on.
    return progLoad(type, program, expectedAttach, new Uint8Array(LOG_SIZE));
  }
}

function progLoad(
  type: number,
  program: Uint8Array<ArrayBuffer>,
  expectedAttach: number,
  log: Uint8Array | null,
): number {
  const license = cstr("Apache-2.0");
  const attr = new Uint8Array(ATTR_SIZE);
  const view = new DataView(attr.buffer);
  view.setUint32(0, type, true); // prog_type
  view.setUint32(4, program.length / 8, true); // insn_cnt
  view.setBigUint64(8, pointer(program), true); // insns
  view.setBigUint64(16, pointer(license), true); // license
  if (log !== null) {
    view.setUint32(24, 1, true); // log_level
    view.setUint32(28, log.length, true); // log_size
    view.setBigUint64(32, pointer(log), true); // log_buf
  }
  view.setUint32(68, expectedAttach, true); // expected_attach_type
  try {
    return bpf(BPF_PROG_LOAD, attr, "PROG_LOAD");
  } catch (e) {
    if (log === null) throw e;
    const text = new TextDecoder().decode(log.subarray(0, log.indexOf(0))).trim();
    if (text === "") throw e;
    throw new Error(
      `bpf PROG_LOAD: the verifier refused the program: ${text.split("\n").slice(-3).join("; ")}`,
      {
        cause: e,
      },
    );
  }
}

/** BPF_PROG_ATTACH: attaches the program `progFd` to the cgroup directory `cgroupFd`. */
export function bpfProgAttach(cgroupFd: number, progFd: number, attachType: number, flags: number): void {
  const attr = new Uint8Array(ATTR_SIZE);
  const view = new DataView(attr.buffer);
  view.setUint32(0, cgroupFd, true); // target_fd
  view.setUint32(4, progFd, true); // attach_bpf_fd
  view.setUint32(8, attachType, true); // attach_type
  view.setUint32(12, flags, true); // attach_flags
  bpf(BPF_PROG_ATTACH, attr, "PROG_ATTACH");
}
