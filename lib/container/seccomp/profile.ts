/**
 * Seccomp profiles in docker's JSON format (`defaultAction`,
 * `defaultErrnoRet`, `architectures` or `archMap`, `syscalls` with
 * `names`, `action`, `errnoRet`, `args`, `includes`, `excludes`, `flags`):
 * {@link parseProfile} checks one, {@link compileProfile} turns it into a
 * {@link SeccompPlan} for one architecture and one capability set, which
 * lib/container/seccomp/install.ts compiles to BPF. skiff's default profile
 * is `default.json` beside this module.
 *
 * Loaded only by the process that plans a container (a dynamic import):
 * the tables here are start-up time that no other verb pays.
 *
 * @module
 */

import {
  type ArgCompare,
  SCMP_ACT_ALLOW,
  SCMP_ACT_KILL_PROCESS,
  SCMP_ACT_KILL_THREAD,
  SCMP_ACT_LOG,
  SCMP_ACT_TRAP,
  SCMP_ARCH_AARCH64,
  SCMP_ARCH_X86_64,
  SCMP_CMP_EQ,
  SCMP_CMP_GE,
  SCMP_CMP_GT,
  SCMP_CMP_LE,
  SCMP_CMP_LT,
  SCMP_CMP_MASKED_EQ,
  SCMP_CMP_NE,
  scmpActErrno,
  scmpActTrace,
} from "../../../ffi/seccomp.ts";
import { UsageError } from "../../errors.ts";
import { CAPABILITIES } from "../../host/capabilities.ts";
import type { FilterRule, SeccompPlan } from "./install.ts";
import { type Arch, syscallNumbers } from "./syscalls.ts";

/** A profile as docker writes it (the fields skiff reads). */
export interface Profile {
  /** What every call no entry matches gets: an SCMP_ACT_* name. */
  defaultAction: string;
  /** The errno of a default SCMP_ACT_ERRNO (EPERM when absent). */
  defaultErrnoRet?: number;
  /** SCMP_ARCH_* names; skiff compiles for the native one only, others' calls fail with ENOSYS. */
  architectures?: string[];
  /** docker's newer form of `architectures`: each with its sub-architectures. */
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  /** The rules, each for a list of syscalls. */
  syscalls?: SyscallEntry[];
  /** SECCOMP_FILTER_FLAG_LOG or SECCOMP_FILTER_FLAG_SPEC_ALLOW. */
  flags?: string[];
}

/** One entry of a profile's `syscalls`. */
export interface SyscallEntry {
  /** The syscalls' kernel names; one an architecture lacks is skipped there. */
  names: string[];
  /** An SCMP_ACT_* name. */
  action: string;
  /** The errno of SCMP_ACT_ERRNO (EPERM when absent), or SCMP_ACT_TRACE's message. */
  errnoRet?: number;
  /** Comparisons on the arguments: ANDed, or ORed when on the same argument. */
  args?: ProfileArg[];
  /** The entry applies only when all of these hold. */
  includes?: Condition;
  /** The entry applies only when none of these holds. */
  excludes?: Condition;
  /** Free text, ignored. */
  comment?: string;
}

/** One argument comparison. */
export interface ProfileArg {
  /** The argument, 0 to 5. */
  index: number;
  /** The value compared with; the mask for SCMP_CMP_MASKED_EQ. */
  value: number;
  /** The value the masked argument must equal, for SCMP_CMP_MASKED_EQ. */
  valueTwo?: number;
  /** An SCMP_CMP_* name. */
  op: string;
}

/** When an entry applies. */
export interface Condition {
  /** Capabilities (CAP_ names) the container keeps: every one, for `includes`; any, for `excludes`. */
  caps?: string[];
  /** Architectures (SCMP_ARCH_* or Go's names, amd64, arm64). */
  arches?: string[];
  /** The running kernel is this MAJOR.MINOR or newer. */
  minKernel?: string;
}

/** Actions as docker names them; `SCMP_ACT_KILL` is the thread's, as libseccomp's. */
const ACTIONS = [
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_LOG",
];

const OPS: Record<string, number> = {
  SCMP_CMP_NE,
  SCMP_CMP_LT,
  SCMP_CMP_LE,
  SCMP_CMP_EQ,
  SCMP_CMP_GE,
  SCMP_CMP_GT,
  SCMP_CMP_MASKED_EQ,
};

/** The architectures docker's profiles name; skiff compiles for x86_64 and aarch64 only. */
const ARCHES = [
  "SCMP_ARCH_X86",
  "SCMP_ARCH_X86_64",
  "SCMP_ARCH_X32",
  "SCMP_ARCH_ARM",
  "SCMP_ARCH_AARCH64",
  "SCMP_ARCH_MIPS",
  "SCMP_ARCH_MIPS64",
  "SCMP_ARCH_MIPS64N32",
  "SCMP_ARCH_MIPSEL",
  "SCMP_ARCH_MIPSEL64",
  "SCMP_ARCH_MIPSEL64N32",
  "SCMP_ARCH_PPC",
  "SCMP_ARCH_PPC64",
  "SCMP_ARCH_PPC64LE",
  "SCMP_ARCH_S390",
  "SCMP_ARCH_S390X",
  "SCMP_ARCH_PARISC",
  "SCMP_ARCH_PARISC64",
  "SCMP_ARCH_RISCV64",
];

/** The profile flags skiff can honour (SECCOMP_FILTER_FLAG_TSYNC would reach skiff's own threads). */
const FLAGS = ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"];

/** How docker's profiles name the architectures skiff compiles for, and their tokens. */
const ARCH: Record<Arch, { name: string; token: number }> = {
  x86_64: { name: "SCMP_ARCH_X86_64", token: SCMP_ARCH_X86_64 },
  aarch64: { name: "SCMP_ARCH_AARCH64", token: SCMP_ARCH_AARCH64 },
};

const EPERM = 1;
const ENOSYS = 38;
/** Highest errno a filter can return (SECCOMP_RET_DATA is 16 bits; the kernel's MAX_ERRNO). */
const MAX_ERRNO = 4095;

/**
 * Checks a profile's text: JSON, docker's shape, known actions, syscalls,
 * operators, capabilities and architectures.
 *
 * @param source the profile's file name, for errors
 * @throws {UsageError} one line naming the file and the bad value
 */
export function parseProfile(text: string, source: string): Profile {
  const bad = (what: string) => new UsageError(`Invalid seccomp profile "${source}": ${what}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON (${e instanceof Error ? e.message : e})`);
  }
  if (!isObject(doc)) throw bad("it must be a JSON object with a defaultAction");
  if ("listenerPath" in doc) throw bad("listenerPath: skiff has no seccomp notify agent");
  checkAction(doc.defaultAction, "defaultAction", bad);
  checkErrno(doc.defaultErrnoRet, "defaultErrnoRet", bad);
  const arches = [
    ...optionalArray(doc.architectures, "architectures", bad),
    ...optionalArray(doc.archMap, "archMap", bad).flatMap((m, i) => {
      if (!isObject(m)) throw bad(`archMap[${i}] must be an object`);
      return [m.architecture, ...optionalArray(m.subArchitectures, `archMap[${i}].subArchitectures`, bad)];
    }),
  ];
  for (const arch of arches) checkOneOf(arch, ARCHES, "architecture", bad);
  for (const flag of optionalArray(doc.flags, "flags", bad)) checkOneOf(flag, FLAGS, "flag", bad);
  const known = new Set([...syscallNumbers("x86_64").keys(), ...syscallNumbers("aarch64").keys()]);
  optionalArray(doc.syscalls, "syscalls", bad).forEach((entry, i) => {
    const at = `syscalls[${i}]`;
    if (!isObject(entry)) throw bad(`${at} must be an object`);
    // docker's older profiles name one syscall in `name`.
    if (typeof entry.name === "string" && entry.names === undefined) entry.names = [entry.name];
    const names = optionalArray(entry.names, `${at}.names`, bad);
    if (names.length === 0) throw bad(`${at}.names must list at least one syscall`);
    for (const name of names) {
      if (typeof name !== "string" || !known.has(name)) {
        throw bad(`unknown syscall ${JSON.stringify(name)} in ${at}: use the kernel's name, e.g. mkdirat`);
      }
    }
    checkAction(entry.action, `${at}.action`, bad);
    checkErrno(entry.errnoRet, `${at}.errnoRet`, bad);
    optionalArray(entry.args, `${at}.args`, bad).forEach((arg, j) => {
      const where = `${at}.args[${j}]`;
      if (!isObject(arg)) throw bad(`${where} must be an object`);
      if (!Number.isInteger(arg.index) || (arg.index as number) < 0 || (arg.index as number) > 5) {
        throw bad(`${where}.index ${JSON.stringify(arg.index)}: use 0 to 5`);
      }
      for (const key of ["value", "valueTwo"]) {
        const v = arg[key];
        if (v === undefined && key === "valueTwo") continue;
        if (!Number.isSafeInteger(v) || (v as number) < 0) {
          throw bad(`${where}.${key} ${JSON.stringify(v)}: use an integer from 0 to 2^53-1`);
        }
      }
      checkOneOf(arg.op, Object.keys(OPS), "operator", bad);
    });
    for (const key of ["includes", "excludes"]) {
      const cond = entry[key];
      if (cond === undefined) continue;
      if (!isObject(cond)) throw bad(`${at}.${key} must be an object`);
      for (const cap of optionalArray(cond.caps, `${at}.${key}.caps`, bad)) {
        checkOneOf(cap, Object.keys(CAPABILITIES), "capability", bad);
      }
      for (const arch of optionalArray(cond.arches, `${at}.${key}.arches`, bad)) {
        checkOneOf(arch, [...ARCHES, ...ARCHES.map(docker)], "architecture", bad);
      }
      if (cond.minKernel !== undefined && !/^\d+\.\d+$/.test(String(cond.minKernel))) {
        throw bad(`${at}.${key}.minKernel ${JSON.stringify(cond.minKernel)}: use MAJOR.MINOR, e.g. 4.8`);
      }
    }
  });
  return doc as unknown as Profile;
}

/** docker's `includes.arches` also takes Go's names: amd64, arm64... */
function docker(arch: string): string {
  const name = arch.slice("SCMP_ARCH_".length).toLowerCase();
  return ({ x86_64: "amd64", aarch64: "arm64", x86: "386" } as Record<string, string>)[name] ?? name;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function optionalArray(v: unknown, key: string, bad: (what: string) => Error): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw bad(`${key} must be an array`);
  return v;
}

function checkOneOf(v: unknown, allowed: string[], what: string, bad: (what: string) => Error): void {
  if (typeof v !== "string" || !allowed.includes(v)) {
    throw bad(`unknown ${what} ${JSON.stringify(v)}: use one of ${allowed.join(", ")}`);
  }
}

function checkAction(v: unknown, key: string, bad: (what: string) => Error): void {
  if (v === "SCMP_ACT_NOTIFY") throw bad(`${key} SCMP_ACT_NOTIFY: skiff has no seccomp notify agent`);
  if (typeof v !== "string" || !ACTIONS.includes(v)) {
    throw bad(`unknown action ${JSON.stringify(v)} in ${key}: use one of ${ACTIONS.join(", ")}`);
  }
}

function checkErrno(v: unknown, key: string, bad: (what: string) => Error): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > MAX_ERRNO) {
    throw bad(`${key} ${JSON.stringify(v)}: use an errno number from 0 to ${MAX_ERRNO}`);
  }
}

/** What a profile is compiled for. */
export interface Target {
  arch: Arch;
  /** The capabilities the container keeps (CAP_ names): `includes.caps` and `excludes.caps` test them. */
  caps: readonly string[];
  /** The running kernel's release (`6.18.0-...`), for `minKernel`. */
  kernel: string;
}

/**
 * Compiles a checked profile for one architecture and capability set: the
 * entries whose conditions hold, one rule per syscall the architecture
 * has (a name it lacks is skipped, as runc does), the syscall by number.
 *
 * As runc: comparisons on different arguments are ANDed in one rule, and
 * several on the same argument become one rule each (ORed, as docker's
 * profiles mean them); a rule whose action is the default is left out
 * (libseccomp refuses it). Calls of other ABIs (i386, x32 on x86_64; arm
 * on aarch64) fail with ENOSYS, as on a kernel built without them.
 */
export function compileProfile(profile: Profile, target: Target): SeccompPlan {
  const defaultAction = action(profile.defaultAction, profile.defaultErrnoRet);
  const numbers = syscallNumbers(target.arch);
  const rules: FilterRule[] = [];
  for (const entry of profile.syscalls ?? []) {
    if (!applies(entry, target)) continue;
    const act = action(entry.action, entry.errnoRet);
    if (act === defaultAction) continue;
    const args = (entry.args ?? []).map((a): ArgCompare => ({
      arg: a.index,
      op: OPS[a.op],
      a: a.value,
      b: a.valueTwo ?? 0,
    }));
    const sameArg = new Set(args.map((a) => a.arg)).size < args.length;
    for (const name of entry.names) {
      const nr = numbers.get(name);
      if (nr === undefined) continue;
      if (sameArg) { for (const a of args) rules.push({ syscall: name, nr, action: act, args: [a] }); }
      else rules.push({ syscall: name, nr, action: act, args });
    }
  }
  const flags = profile.flags ?? [];
  return {
    arch: target.arch,
    archToken: ARCH[target.arch].token,
    defaultAction,
    badArchAction: scmpActErrno(ENOSYS),
    ...(flags.includes("SECCOMP_FILTER_FLAG_LOG") ? { log: true } : {}),
    ...(flags.includes("SECCOMP_FILTER_FLAG_SPEC_ALLOW") ? { specAllow: true } : {}),
    rules,
  };
}

function action(name: string, errnoRet: number | undefined): number {
  switch (name) {
    case "SCMP_ACT_ALLOW":
      return SCMP_ACT_ALLOW;
    case "SCMP_ACT_ERRNO":
      return scmpActErrno(errnoRet ?? EPERM);
    case "SCMP_ACT_TRACE":
      return scmpActTrace(errnoRet ?? EPERM);
    case "SCMP_ACT_TRAP":
      return SCMP_ACT_TRAP;
    case "SCMP_ACT_LOG":
      return SCMP_ACT_LOG;
    case "SCMP_ACT_KILL_PROCESS":
      return SCMP_ACT_KILL_PROCESS;
    default: // SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD
      return SCMP_ACT_KILL_THREAD;
  }
}

/** Whether an entry's `includes` all hold and none of its `excludes` does. */
function applies(entry: SyscallEntry, target: Target): boolean {
  const arch = ARCH[target.arch].name;
  const onArch = (arches: string[]) => arches.some((a) => a === arch || a === docker(arch));
  const { includes: inc = {}, excludes: exc = {} } = entry;
  if (inc.arches?.length && !onArch(inc.arches)) return false;
  if (inc.caps?.some((c) => !target.caps.includes(c))) return false;
  if (inc.minKernel !== undefined && !kernelAtLeast(target.kernel, inc.minKernel)) return false;
  if (exc.arches?.length && onArch(exc.arches)) return false;
  if (exc.caps?.some((c) => target.caps.includes(c))) return false;
  if (exc.minKernel !== undefined && kernelAtLeast(target.kernel, exc.minKernel)) return false;
  return true;
}

/** Whether kernel release `release` (`6.18.0-1-amd64`) is `min` (`4.8`) or newer. */
export function kernelAtLeast(release: string, min: string): boolean {
  const [major, minor] = release.split(/[.-]/).map(Number);
  const [wantMajor, wantMinor] = min.split(".").map(Number);
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}
