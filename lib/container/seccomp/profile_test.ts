import assert from "node:assert/strict";
import { UsageError } from "../../errors.ts";
import { DEFAULT_CAPABILITIES } from "../../host/capabilities.ts";
import {
  SCMP_ACT_ALLOW,
  SCMP_ACT_KILL_PROCESS,
  SCMP_ARCH_AARCH64,
  SCMP_ARCH_X86_64,
  SCMP_CMP_EQ,
  SCMP_CMP_MASKED_EQ,
  SCMP_CMP_NE,
  scmpActErrno,
} from "../../../ffi/seccomp.ts";
import { compileProfile, kernelAtLeast, parseProfile, type Target } from "./profile.ts";
import type { SeccompPlan } from "./install.ts";
import { syscallNumbers } from "./syscalls.ts";

const EPERM = 1;
const ENOSYS = 38;
const X86: Target = {
  arch: "x86_64",
  caps: DEFAULT_CAPABILITIES,
  kernel: "6.18.0-1-amd64",
};
const ARM: Target = { ...X86, arch: "aarch64" };

/** The plan's rules for one syscall, without its name. */
function rulesOf(plan: SeccompPlan, name: string) {
  return plan.rules.filter((r) => r.syscall === name).map(({ nr, action, args }) => ({ nr, action, args }));
}

const defaultText = () => Deno.readTextFileSync(new URL("./default.json", import.meta.url));

Deno.test("skiff's default profile is a valid profile, denying with EPERM and compiled for the native ABI only", () => {
  const profile = parseProfile(defaultText(), "default.json");
  const plan = compileProfile(profile, X86);
  assert.equal(plan.archToken, SCMP_ARCH_X86_64);
  assert.equal(plan.defaultAction, scmpActErrno(EPERM));
  assert.equal(
    plan.badArchAction,
    scmpActErrno(ENOSYS),
    "i386 and x32 calls get ENOSYS, as without IA32 emulation",
  );
  assert.deepEqual(rulesOf(plan, "mkdir"), [{ nr: 83, action: SCMP_ACT_ALLOW, args: [] }]);
  for (const name of ["read", "write", "execve", "fork", "chown", "socketpair", "ptrace", "setns"]) {
    assert.ok(name === "setns" ? rulesOf(plan, name).length === 0 : rulesOf(plan, name).length === 1, name);
  }
});

Deno.test("the default profile keeps docker's blocked calls blocked without the capabilities they need", () => {
  const plan = compileProfile(parseProfile(defaultText(), "default.json"), X86);
  const blocked = [
    "unshare",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "mount",
    "umount2",
    "kexec_load",
    "open_by_handle_at",
    "perf_event_open",
    "userfaultfd",
    "pivot_root",
    "setns",
    "init_module",
    "reboot",
    "swapon",
    "acct",
    "settimeofday",
    "clock_settime",
    "iopl",
    "process_vm_readv",
    "io_uring_setup",
    "uselib",
    "_sysctl",
  ];
  for (const name of blocked) assert.deepEqual(rulesOf(plan, name), [], name);
  // clone only without namespace flags; clone3 (flags in memory) fails with ENOSYS for libc to fall back
  assert.deepEqual(rulesOf(plan, "clone"), [{
    nr: 56,
    action: SCMP_ACT_ALLOW,
    args: [{ arg: 0, op: SCMP_CMP_MASKED_EQ, a: 0x7e020000, b: 0 }],
  }]);
  assert.deepEqual(rulesOf(plan, "clone3"), [{ nr: 435, action: scmpActErrno(ENOSYS), args: [] }]);
  assert.deepEqual(rulesOf(plan, "socket"), [{
    nr: 41,
    action: SCMP_ACT_ALLOW,
    args: [{ arg: 0, op: SCMP_CMP_NE, a: 40, b: 0 }],
  }]);
  assert.deepEqual(
    rulesOf(plan, "personality").map((r) => r.args),
    [0, 8, 0x20000, 0x20008, 0xffffffff].map((v) => [{ arg: 0, op: SCMP_CMP_EQ, a: v, b: 0 }]),
  );
});

Deno.test("a capability the container keeps opens its group of calls", () => {
  const profile = parseProfile(defaultText(), "default.json");
  const admin = compileProfile(profile, { ...X86, caps: [...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"] });
  assert.deepEqual(rulesOf(admin, "clone"), [{ nr: 56, action: SCMP_ACT_ALLOW, args: [] }]);
  assert.deepEqual(rulesOf(admin, "clone3"), [{ nr: 435, action: SCMP_ACT_ALLOW, args: [] }]);
  for (const name of ["mount", "unshare", "setns", "bpf", "perf_event_open"]) {
    assert.equal(rulesOf(admin, name).length, 1, name);
  }
  assert.deepEqual(rulesOf(admin, "keyctl"), [], "the keyring stays closed: it is not namespaced");
  const ptrace = compileProfile(profile, { ...X86, caps: ["CAP_SYS_PTRACE"] });
  assert.equal(rulesOf(ptrace, "process_vm_readv").length, 1);
  assert.deepEqual(rulesOf(ptrace, "mount"), []);
  const bpf = compileProfile(profile, { ...X86, caps: ["CAP_BPF"] });
  assert.equal(rulesOf(bpf, "bpf").length, 1, "CAP_BPF alone opens bpf");
});

Deno.test("compiled for aarch64, the same profile uses aarch64's numbers and skips calls it lacks", () => {
  const plan = compileProfile(parseProfile(defaultText(), "default.json"), ARM);
  assert.equal(plan.arch, "aarch64");
  assert.equal(plan.archToken, SCMP_ARCH_AARCH64);
  assert.deepEqual(rulesOf(plan, "mkdirat"), [{ nr: 34, action: SCMP_ACT_ALLOW, args: [] }]);
  assert.deepEqual(rulesOf(plan, "mkdir"), [], "aarch64 has only mkdirat");
  assert.deepEqual(rulesOf(plan, "arch_prctl"), []);
  assert.equal(rulesOf(plan, "clone")[0].nr, 220);
  assert.equal(rulesOf(plan, "clone3")[0].nr, 435, "the unified numbers are shared");
  assert.deepEqual(rulesOf(plan, "unshare"), []);
  const numbers = syscallNumbers("aarch64");
  for (const rule of plan.rules) assert.equal(numbers.get(rule.syscall), rule.nr, rule.syscall);
});

Deno.test("a user's profile: errnoRet, argument rules on one argument ORed, default-action rules left out", () => {
  const profile = parseProfile(
    JSON.stringify({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        { names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13 },
        { names: ["getpid"], action: "SCMP_ACT_ALLOW" },
        {
          names: ["kill"],
          action: "SCMP_ACT_KILL_PROCESS",
          args: [{ index: 1, value: 9, op: "SCMP_CMP_EQ" }, { index: 1, value: 15, op: "SCMP_CMP_EQ" }],
        },
        { names: ["mount"], action: "SCMP_ACT_ERRNO", includes: { arches: ["arm64"] } },
        { names: ["umount2"], action: "SCMP_ACT_ERRNO", includes: { minKernel: "7.0" } },
      ],
      flags: ["SECCOMP_FILTER_FLAG_LOG"],
    }),
    "mine.json",
  );
  const plan = compileProfile(profile, X86);
  assert.equal(plan.defaultAction, SCMP_ACT_ALLOW);
  assert.equal(plan.log, true);
  assert.deepEqual(rulesOf(plan, "mkdir"), [{ nr: 83, action: scmpActErrno(13), args: [] }]);
  assert.equal(rulesOf(plan, "mkdirat").length, 1);
  assert.deepEqual(rulesOf(plan, "getpid"), [], "libseccomp refuses a rule with the default action");
  assert.deepEqual(rulesOf(plan, "kill").map((r) => [r.action, r.args[0].a]), [
    [SCMP_ACT_KILL_PROCESS, 9],
    [SCMP_ACT_KILL_PROCESS, 15],
  ]);
  assert.deepEqual(rulesOf(plan, "mount"), [], "for arm64 only");
  assert.equal(rulesOf(compileProfile(profile, ARM), "mount").length, 1);
  assert.deepEqual(rulesOf(plan, "umount2"), [], "for a newer kernel only");
});

Deno.test("a bad profile is a one-line error naming the file and the value", () => {
  const cases: [unknown, RegExp][] = [
    ["{", /"p\.json": not JSON/],
    [[], /a JSON object with a defaultAction/],
    [{ defaultAction: "SCMP_ACT_FOO" }, /unknown action "SCMP_ACT_FOO" in defaultAction/],
    [{ defaultAction: "SCMP_ACT_NOTIFY" }, /SCMP_ACT_NOTIFY: skiff has no seccomp notify agent/],
    [
      { defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["mkdri"], action: "SCMP_ACT_ALLOW" }] },
      /unknown syscall "mkdri" in syscalls\[0\]/,
    ],
    [
      { defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read"], action: "ALLOW" }] },
      /unknown action "ALLOW" in syscalls\[0\]\.action/,
    ],
    [
      { defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: [], action: "SCMP_ACT_ALLOW" }] },
      /at least one syscall/,
    ],
    [
      {
        defaultAction: "SCMP_ACT_ERRNO",
        syscalls: [{
          names: ["read"],
          action: "SCMP_ACT_ALLOW",
          args: [{ index: 0, value: 1, op: "SCMP_CMP_XX" }],
        }],
      },
      /unknown operator "SCMP_CMP_XX"/,
    ],
    [
      {
        defaultAction: "SCMP_ACT_ERRNO",
        syscalls: [{
          names: ["read"],
          action: "SCMP_ACT_ALLOW",
          args: [{ index: 6, value: 1, op: "SCMP_CMP_EQ" }],
        }],
      },
      /args\[0\]\.index 6: use 0 to 5/,
    ],
    [
      {
        defaultAction: "SCMP_ACT_ERRNO",
        syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_FOO"] } }],
      },
      /unknown capability "CAP_FOO"/,
    ],
    [
      { defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_Z80"] },
      /unknown architecture "SCMP_ARCH_Z80"/,
    ],
    [
      { defaultAction: "SCMP_ACT_ERRNO", flags: ["SECCOMP_FILTER_FLAG_TSYNC"] },
      /unknown flag "SECCOMP_FILTER_FLAG_TSYNC"/,
    ],
    [{ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 70000 }, /defaultErrnoRet 70000/],
  ];
  for (const [doc, message] of cases) {
    const text = typeof doc === "string" ? doc : JSON.stringify(doc);
    assert.throws(() => parseProfile(text, "p.json"), (e: Error) => {
      assert.ok(e instanceof UsageError, String(e));
      assert.match(e.message, /^Invalid seccomp profile "p\.json": /);
      assert.match(e.message, message);
      assert.ok(!e.message.includes("\n"), e.message);
      return true;
    });
  }
});

Deno.test("kernel releases compare by major and minor", () => {
  assert.equal(kernelAtLeast("6.18.0-1-amd64", "4.8"), true);
  assert.equal(kernelAtLeast("4.8.0", "4.8"), true);
  assert.equal(kernelAtLeast("4.7.10", "4.8"), false);
  assert.equal(kernelAtLeast("6.1", "6.18"), false);
});
