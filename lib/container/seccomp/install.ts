/**
 * Compiles a seccomp plan (made by lib/container/seccomp/profile.ts) into
 * the classic BPF program the kernel installs, through a
 * {@link SeccompSys}: libseccomp's calls in ffi/seccomp.ts, or a recording
 * fake in the tests. The program is what init installs, and what
 * lib/container/security.ts caches.
 *
 * @module
 */

import {
  type ArgCompare,
  type FilterContext,
  SCMP_FLTATR_ACT_BADARCH,
  seccompArchNative,
  seccompAttrSet,
  seccompExportBpf,
  seccompInit,
  seccompRelease,
  seccompRuleAdd,
} from "../../../ffi/seccomp.ts";

/** One rule of a plan: a syscall by number on the plan's architecture, an action, and ANDed comparisons. */
export interface FilterRule {
  /** The syscall's name, for errors and for reading the plan. */
  syscall: string;
  nr: number;
  /** An SCMP_ACT_* value. */
  action: number;
  args: ArgCompare[];
}

/** A filter as libseccomp calls, for one architecture: what {@link applySeccomp} installs. */
export interface SeccompPlan {
  /** The architecture the syscall numbers are for. */
  arch: "x86_64" | "aarch64";
  /** Its AUDIT_ARCH_* token: the filter refuses to load on another. */
  archToken: number;
  /** The action of every call no rule matches. */
  defaultAction: number;
  /** The action of a call from another ABI (i386's int 0x80, x32). */
  badArchAction: number;
  /** SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW (the profile's `flags`). */
  log?: boolean;
  specAllow?: boolean;
  rules: FilterRule[];
}

/** The libseccomp calls a plan is carried out with. */
export interface SeccompSys {
  archNative(): number;
  init(defaultAction: number): FilterContext;
  attrSet(ctx: FilterContext, attr: number, value: number): void;
  ruleAdd(ctx: FilterContext, action: number, nr: number, args: ArgCompare[], name: string): void;
  exportBpf(ctx: FilterContext): Uint8Array<ArrayBuffer>;
  release(ctx: FilterContext): void;
}

/** libseccomp's {@link SeccompSys}. */
export const realSeccompSys: SeccompSys = {
  archNative: seccompArchNative,
  init: seccompInit,
  attrSet: seccompAttrSet,
  ruleAdd: seccompRuleAdd,
  exportBpf: seccompExportBpf,
  release: seccompRelease,
};

/**
 * Compiles `plan` with libseccomp into a BPF program for this machine.
 * no_new_privs and the filter flags are not part of the program: init
 * applies them when it installs it.
 *
 * @throws {SyscallError} naming the libseccomp call and the syscall it was about
 */
export function compileFilter(plan: SeccompPlan, sys: SeccompSys): Uint8Array<ArrayBuffer> {
  const native = sys.archNative();
  if (native !== plan.archToken) {
    throw new Error(
      `Cannot compile a seccomp filter made for ${plan.arch} (0x${plan.archToken.toString(16)}) on 0x${
        native.toString(16)
      }`,
    );
  }
  const ctx = sys.init(plan.defaultAction);
  try {
    sys.attrSet(ctx, SCMP_FLTATR_ACT_BADARCH, plan.badArchAction);
    for (const rule of plan.rules) sys.ruleAdd(ctx, rule.action, rule.nr, rule.args, rule.syscall);
    return sys.exportBpf(ctx);
  } finally {
    sys.release(ctx);
  }
}
