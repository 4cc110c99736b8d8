/**
 * Installs a compiled seccomp filter: the plan is data (made by
 * lib/container/seccomp/profile.ts, in the CLI), carried out here through a
 * {@link SeccompSys}, libseccomp's calls in ffi/seccomp.ts or a recording
 * fake in the tests. Small on purpose: the container's init imports it,
 * while the profile compiler loads only where a plan is made.
 *
 * @module
 */

import {
  type ArgCompare,
  type FilterContext,
  SCMP_FLTATR_ACT_BADARCH,
  SCMP_FLTATR_CTL_LOG,
  SCMP_FLTATR_CTL_NNP,
  SCMP_FLTATR_CTL_SSB,
  seccompArchNative,
  seccompAttrSet,
  seccompInit,
  seccompLoad,
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
  /** Set no_new_privs even while the thread keeps CAP_SYS_ADMIN (`--security-opt no-new-privileges`). */
  noNewPrivileges: boolean;
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
  load(ctx: FilterContext): void;
  release(ctx: FilterContext): void;
}

/** libseccomp's {@link SeccompSys}. */
export const realSeccompSys: SeccompSys = {
  archNative: seccompArchNative,
  init: seccompInit,
  attrSet: seccompAttrSet,
  ruleAdd: seccompRuleAdd,
  load: seccompLoad,
  release: seccompRelease,
};

/** A filter built in libseccomp's memory, not installed yet. */
export interface PreparedFilter {
  /**
   * Installs it on the calling thread, which must be the one that
   * execve()s the command: a filter is per thread (libseccomp loads it
   * without TSYNC), so skiff's other threads never get it. Releases it.
   *
   * The kernel installs a filter only with no_new_privs or CAP_SYS_ADMIN in
   * the thread's effective set: libseccomp sets no_new_privs first when the
   * plan asks for it or the thread has no CAP_SYS_ADMIN (as runc: docker's
   * containers run without no_new_privs unless asked).
   *
   * @param hasSysAdmin whether the calling thread's effective set holds CAP_SYS_ADMIN
   */
  load(hasSysAdmin: boolean): void;
  /** Frees it without installing it. */
  release(): void;
}

/**
 * Builds `plan`'s filter: before the pivot, since libseccomp is a host
 * library the container's root does not have (dlopen happens here), and so
 * that only seccomp_load is left for the moment before execve.
 *
 * @throws {SyscallError} naming the libseccomp call and the syscall it was about
 */
export function prepareSeccomp(plan: SeccompPlan, sys: SeccompSys): PreparedFilter {
  const native = sys.archNative();
  if (native !== plan.archToken) {
    throw new Error(
      `Cannot install a seccomp filter made for ${plan.arch} (0x${plan.archToken.toString(16)}) on 0x${
        native.toString(16)
      }`,
    );
  }
  const ctx = sys.init(plan.defaultAction);
  try {
    sys.attrSet(ctx, SCMP_FLTATR_ACT_BADARCH, plan.badArchAction);
    if (plan.log) sys.attrSet(ctx, SCMP_FLTATR_CTL_LOG, 1);
    if (plan.specAllow) sys.attrSet(ctx, SCMP_FLTATR_CTL_SSB, 1);
    for (const rule of plan.rules) sys.ruleAdd(ctx, rule.action, rule.nr, rule.args, rule.syscall);
  } catch (e) {
    sys.release(ctx);
    throw e;
  }
  return {
    load(hasSysAdmin) {
      try {
        sys.attrSet(ctx, SCMP_FLTATR_CTL_NNP, plan.noNewPrivileges || !hasSysAdmin ? 1 : 0);
        sys.load(ctx);
      } finally {
        sys.release(ctx);
      }
    },
    release: () => sys.release(ctx),
  };
}
