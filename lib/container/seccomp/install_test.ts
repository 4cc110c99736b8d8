import assert from "node:assert/strict";
import { classify, SyscallError } from "../../../ffi/errors.ts";
import {
  type ArgCompare,
  type FilterContext,
  SCMP_FLTATR_ACT_BADARCH,
  SCMP_FLTATR_CTL_NNP,
} from "../../../ffi/seccomp.ts";
import { prepareSeccomp, type SeccompPlan, type SeccompSys } from "./install.ts";

/** A SeccompSys that records every call and can fail the first call named `fail` with `errno`. */
class FakeSeccomp implements SeccompSys {
  calls: string[] = [];
  constructor(private native = 0xc000003e, private fail?: { call: string; errno: number }) {}
  private record(call: string, ...args: unknown[]) {
    if (this.fail?.call === call) throw classify(new SyscallError(`seccomp_${call}`, this.fail.errno));
    this.calls.push([call, ...args].join(" "));
  }
  archNative() {
    return this.native;
  }
  init(defaultAction: number): FilterContext {
    this.record("init", defaultAction.toString(16));
    return {} as FilterContext;
  }
  attrSet(_ctx: FilterContext, attr: number, value: number) {
    this.record("attrSet", attr, value.toString(16));
  }
  ruleAdd(_ctx: FilterContext, action: number, nr: number, args: ArgCompare[], name: string) {
    this.record(
      "ruleAdd",
      name,
      nr,
      action.toString(16),
      ...args.map((a) => `${a.arg}:${a.op}:${a.a}:${a.b}`),
    );
  }
  load() {
    this.record("load");
  }
  release() {
    this.record("release");
  }
}

const PLAN: SeccompPlan = {
  arch: "x86_64",
  archToken: 0xc000003e,
  defaultAction: 0x50001,
  badArchAction: 0x50026,
  noNewPrivileges: false,
  rules: [
    { syscall: "mkdir", nr: 83, action: 0x7fff0000, args: [] },
    { syscall: "clone", nr: 56, action: 0x7fff0000, args: [{ arg: 0, op: 7, a: 0x7e020000, b: 0 }] },
  ],
};

Deno.test("a plan becomes libseccomp calls in order, and only load is left for the moment before execve", () => {
  const sys = new FakeSeccomp();
  const filter = prepareSeccomp(PLAN, sys);
  assert.deepEqual(sys.calls, [
    "init 50001",
    `attrSet ${SCMP_FLTATR_ACT_BADARCH} 50026`,
    "ruleAdd mkdir 83 7fff0000",
    "ruleAdd clone 56 7fff0000 0:7:2114060288:0",
  ]);
  sys.calls = [];
  filter.load(true);
  assert.deepEqual(sys.calls, [`attrSet ${SCMP_FLTATR_CTL_NNP} 0`, "load", "release"]);
});

Deno.test("no_new_privs is set when asked, or when the thread has no CAP_SYS_ADMIN to install the filter with", () => {
  for (
    const [asked, hasSysAdmin, nnp] of [[false, false, 1], [true, true, 1], [true, false, 1], [
      false,
      true,
      0,
    ]]
  ) {
    const sys = new FakeSeccomp();
    prepareSeccomp({ ...PLAN, noNewPrivileges: Boolean(asked) }, sys).load(Boolean(hasSysAdmin));
    assert.ok(
      sys.calls.includes(`attrSet ${SCMP_FLTATR_CTL_NNP} ${nnp}`),
      `${asked} ${hasSysAdmin}: ${sys.calls}`,
    );
  }
});

Deno.test("a failed rule or load releases the filter and keeps libseccomp's errno", () => {
  const rule = new FakeSeccomp(undefined, { call: "ruleAdd", errno: 22 });
  assert.throws(() => prepareSeccomp(PLAN, rule), /seccomp_ruleAdd: EINVAL/);
  assert.equal(rule.calls.at(-1), "release");
  const load = new FakeSeccomp(undefined, { call: "load", errno: 13 });
  assert.throws(() => prepareSeccomp(PLAN, load).load(true), /seccomp_load: EACCES/);
  assert.equal(load.calls.at(-1), "release");
});

Deno.test("a plan made for another architecture is refused before libseccomp is asked for anything", () => {
  const sys = new FakeSeccomp(0xc00000b7);
  assert.throws(() => prepareSeccomp(PLAN, sys), /made for x86_64 \(0xc000003e\) on 0xc00000b7/);
  assert.deepEqual(sys.calls, []);
});
