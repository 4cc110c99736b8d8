/**
 * The device rules of a container (`devices.allow` lines: `c 1:3 rwm`,
 * `b *:* m`) as a BPF_PROG_TYPE_CGROUP_DEVICE program: what cgroup v2 has
 * instead of v1's devices controller. Built as data here (pure, tested
 * as instructions); loaded and attached by {@link attachDeviceFilter}.
 *
 * The kernel runs it on every open and mknod of a device node by a
 * process of the cgroup, with a struct bpf_cgroup_dev_ctx: `access_type`
 * (the access in its upper 16 bits, BPF_DEVCG_ACC_MKNOD 1, READ 2, WRITE
 * 4; the type in its lower, BPF_DEVCG_DEV_BLOCK 1, CHAR 2), `major`,
 * `minor`. It returns 1 to allow, 0 to refuse (EPERM). Like runc's: one
 * block of tests per rule, each jumping to the next block on a mismatch;
 * refused when none matched.
 *
 * @module
 */

import { openReadOnly } from "../../../ffi/ns.ts";
import { close } from "../../../ffi/libc.ts";
import {
  BPF_CGROUP_DEVICE,
  BPF_F_ALLOW_MULTI,
  BPF_PROG_TYPE_CGROUP_DEVICE,
  bpfProgAttach,
  bpfProgLoad,
} from "../../../ffi/bpf.ts";

/** One eBPF instruction (linux/bpf.h struct bpf_insn). */
export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

// Opcodes: class | op | source (linux/bpf_common.h, linux/bpf.h).
const LDX_MEM_W = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU64_AND_K = 0x57;
const ALU64_RSH_K = 0x77;
const ALU64_MOV_K = 0xb7;
const ALU64_MOV_X = 0xbf;
const JMP_JNE_K = 0x55;
const JMP_EXIT = 0x95;

const TYPES: Record<string, number> = { b: 1, c: 2 };
const ACCESS: Record<string, number> = { m: 1, r: 2, w: 4 };

const insn = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({
  code,
  dst,
  src,
  off,
  imm,
});

/**
 * The program for `rules` (devices.allow syntax: `TYPE MAJOR:MINOR
 * ACCESS`, `*` for any; `a` for every device).
 *
 * @throws {Error} for a rule that is not of that syntax
 */
export function deviceFilter(rules: readonly string[]): Insn[] {
  const program: Insn[] = [
    insn(LDX_MEM_W, 2, 1, 0, 0), // r2 = ctx->access_type
    insn(ALU64_AND_K, 2, 0, 0, 0xffff), // r2 = type
    insn(LDX_MEM_W, 3, 1, 0, 0), // r3 = ctx->access_type
    insn(ALU64_RSH_K, 3, 0, 0, 16), // r3 = access
    insn(LDX_MEM_W, 4, 1, 4, 0), // r4 = ctx->major
    insn(LDX_MEM_W, 5, 1, 8, 0), // r5 = ctx->minor
  ];
  for (const rule of rules) {
    const m = /^([abc]) (\*|\d+):(\*|\d+) ([rwm]+)$/.exec(rule) ??
      (rule === "a" ? ["a", "a", "*", "*", "rwm"] : null);
    if (m === null) {
      throw new Error(`Invalid device rule "${rule}": use TYPE MAJOR:MINOR ACCESS, e.g. c 1:3 rwm`);
    }
    const [, type, major, minor, access] = m;
    const allowed = [...access].reduce((bits, a) => bits | ACCESS[a], 0);
    // Each test jumps past the rest of the block (patched below) on a mismatch.
    const block: Insn[] = [];
    if (type !== "a") block.push(insn(JMP_JNE_K, 2, 0, -1, TYPES[type]));
    if (allowed !== 7) {
      block.push(insn(ALU64_MOV_X, 1, 3, 0, 0), insn(ALU64_AND_K, 1, 0, 0, ~allowed & 7)); // r1 = access not allowed
      block.push(insn(JMP_JNE_K, 1, 0, -1, 0));
    }
    if (major !== "*") block.push(insn(JMP_JNE_K, 4, 0, -1, Number(major)));
    if (minor !== "*") block.push(insn(JMP_JNE_K, 5, 0, -1, Number(minor)));
    block.push(insn(ALU64_MOV_K, 0, 0, 0, 1), insn(JMP_EXIT, 0, 0, 0, 0));
    block.forEach((ins, i) => {
      if (ins.off === -1) ins.off = block.length - i - 1;
    });
    program.push(...block);
  }
  program.push(insn(ALU64_MOV_K, 0, 0, 0, 0), insn(JMP_EXIT, 0, 0, 0, 0));
  return program;
}

/** The program as the kernel takes it: 8 bytes an instruction, little-endian. */
export function encodeProgram(program: Insn[]): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(program.length * 8);
  const view = new DataView(bytes.buffer);
  program.forEach((ins, i) => {
    view.setUint8(i * 8, ins.code);
    view.setUint8(i * 8 + 1, (ins.src << 4) | ins.dst);
    view.setInt16(i * 8 + 2, ins.off, true);
    view.setInt32(i * 8 + 4, ins.imm, true);
  });
  return bytes;
}

/**
 * Loads the program of `rules` and attaches it to the cgroup v2
 * directory `dir`. The cgroup holds it from then on: the descriptors are
 * closed, and it goes with the directory.
 *
 * @throws {Error} naming the directory, with bpf's error as the cause
 */
export function attachDeviceFilter(dir: string, rules: readonly string[]): void {
  try {
    const prog = bpfProgLoad(
      BPF_PROG_TYPE_CGROUP_DEVICE,
      encodeProgram(deviceFilter(rules)),
      BPF_CGROUP_DEVICE,
    );
    try {
      const cgroup = openReadOnly(dir);
      try {
        bpfProgAttach(cgroup, prog, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI);
      } finally {
        close(cgroup);
      }
    } finally {
      close(prog);
    }
  } catch (e) {
    throw new Error(`Cannot attach the device program to the cgroup "${dir}"`, { cause: e });
  }
}
