import assert from "node:assert/strict";
import { classify, SyscallError } from "../../../ffi/errors.ts";
import { type ArgCompare, type FilterContext, SCMP_FLTATR_ACT_BADARCH } from "../../../ffi/seccomp.ts";
import { compileFilter, type SeccompPlan, type SeccompSys } from "./install.ts";

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
  exportBpf(): Uint8Array<ArrayBuffer> {
    this.record("exportBpf");
    return new Uint8Array(16);
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
  rules: [
    { syscall: "mkdir", nr: 83, action: 0x7fff0000, args: [] },
    { syscall: "clone", nr: 56, action: 0x7fff0000, args: [{ arg: 0, op: 7, a: 0x7e020000, b: 0 }] },
  ],
};

Deno.test("a plan becomes libseccomp calls in order, ending in the BPF program and the release", () => {
  const sys = new FakeSeccomp();
  assert.equal(compileFilter(PLAN, sys).length, 16);
  assert.deepEqual(sys.calls, [
    "init 50001",
    `attrSet ${SCMP_FLTATR_ACT_BADARCH} 50026`,
    "ruleAdd mkdir 83 7fff0000",
    "ruleAdd clone 56 7fff0000 0:7:2114060288:0",
    "exportBpf",
    "release",
  ]);
});

Deno.test("a failed rule or export releases the filter and keeps libseccomp's errno and the syscall", () => {
  const rule = new FakeSeccomp(undefined, { call: "ruleAdd", errno: 22 });
  assert.throws(() => compileFilter(PLAN, rule), /seccomp_ruleAdd: EINVAL/);
  assert.deepEqual(rule.calls.slice(-1), ["release"]);
  const exported = new FakeSeccomp(undefined, { call: "exportBpf", errno: 12 });
  assert.throws(() => compileFilter(PLAN, exported), /seccomp_exportBpf: ENOMEM/);
  assert.deepEqual(exported.calls.slice(-1), ["release"]);
});

Deno.test("a plan made for another architecture is refused before libseccomp is asked for anything", () => {
  const sys = new FakeSeccomp(0xc00000b7);
  assert.throws(() => compileFilter(PLAN, sys), /made for x86_64 \(0xc000003e\) on 0xc00000b7/);
  assert.deepEqual(sys.calls, []);
});

Deno.test("libseccomp compiles the default plan into a BPF program the kernel takes (this process installs nothing)", async () => {
  const { compileProfile, parseProfile } = await import("./profile.ts");
  const text = Deno.readTextFileSync(new URL("./default.json", import.meta.url));
  const arch = Deno.build.arch as "x86_64" | "aarch64";
  const plan = compileProfile(parseProfile(text, "default.json"), {
    arch,
    caps: [],
    kernel: Deno.osRelease(),
  });
  const program = compileFilter(plan, (await import("./install.ts")).realSeccompSys);
  assert.ok(
    program.length > 8 * plan.rules.length / 2 && program.length % 8 === 0,
    `${program.length} bytes`,
  );
  assert.ok(program.length <= 4096 * 8, "within BPF_MAXINSNS");
});
