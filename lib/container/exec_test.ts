import assert from "node:assert/strict";
import { enterSpec, execArgv, execEnv, type ExecPlan, execSecurity, WAITER } from "./exec.ts";
import { SPEC_ENV } from "./enter.ts";
import { type Namespace, namespaceFile, NAMESPACES } from "../host/spawn.ts";
import { capabilitiesToDrop, KEPT_CAPABILITIES } from "../host/capabilities.ts";

const plan: ExecPlan = {
  pid1: 42,
  keeper: { pid: 41, startTime: 1234 },
  user: false,
  cgroup: { version: "v1", own: ["/cg/pids/skiff/x", "/cg/memory/skiff/x"] },
  cwd: "/srv",
  path: "/bin/ls",
  argv: ["ls", "-l"],
  env: ["PATH=/bin", "pwn", "-u=PATH", "V=$(id) 'q'"],
  tools: {
    nsenter: "/usr/bin/nsenter",
    busybox: "/bin/busybox",
    deno: "/usr/bin/deno",
    enter: "/skiff/lib/container/enter.ts",
  },
};

/** The flags of the nsenter that starts the chain: the part before its "--". */
function outerNsenter(argv: string[]): string[] {
  assert.equal(argv[0], "/usr/bin/nsenter");
  return argv.slice(1, argv.indexOf("--"));
}

/** Every namespace the chain joins: nsenter's flags and enter.ts's /proc entries, as namespace names. */
function joined(p: ExecPlan): Namespace[] {
  const byFile = new Map(NAMESPACES.map((ns) => [namespaceFile(ns), ns]));
  const early = outerNsenter(execArgv(p)).filter((a) =>
    a.startsWith("--") && a !== "--target" && a !== "--no-fork"
  )
    .map((a) => a.slice(2) as Namespace);
  const late = enterSpec(p).namespaces.map((file) => byFile.get(file) ?? (file as Namespace));
  return [...early, ...late];
}

Deno.test("exec joins exactly the namespaces run makes, from the one list", () => {
  assert.deepEqual(new Set(joined(plan)), new Set(NAMESPACES));
  assert.equal(joined(plan).length, NAMESPACES.length, "each once");
});

Deno.test("a namespace added to the list is joined too: nsenter takes those threads forbid, enter.ts the rest", () => {
  const more: ExecPlan = { ...plan, namespaces: [...NAMESPACES, "cgroup", "time"] };
  assert.deepEqual(new Set(joined(more)), new Set([...NAMESPACES, "cgroup", "time"]));
  const outer = outerNsenter(execArgv(more));
  assert.ok(outer.includes("--pid") && outer.includes("--time"), "no thread may join these (setns(2))");
  assert.ok(!outer.includes("--mount") && !outer.includes("--net"), "enter.ts joins these, with the root");
  assert.ok(enterSpec(more).namespaces.includes("cgroup"));
  const without: ExecPlan = { ...plan, namespaces: NAMESPACES.filter((ns) => ns !== "net") };
  assert.ok(!joined(without).includes("net"), "a container without its own net namespace: exec joins none");
});

Deno.test("exec targets the container's PID 1 and children of the waiter are born in its pid namespace", () => {
  const outer = outerNsenter(execArgv(plan));
  assert.equal(outer[outer.indexOf("--target") + 1], "42");
  assert.ok(outer.includes("--no-fork"), "nsenter execs the waiter: skiff's child is the waiter");
  const argv = execArgv(plan);
  const waiter = argv.indexOf("exec-waiter");
  assert.deepEqual(argv.slice(argv.indexOf("--") + 1, waiter), ["/bin/busybox", "sh", "-c", WAITER]);
  assert.equal(argv[waiter + 1], "/usr/bin/deno", "then the host's deno runs enter.ts");
  assert.equal(argv.at(-1), "/skiff/lib/container/enter.ts");
});

Deno.test("rootless, exec enters the container's user namespace too, before any thread exists", () => {
  const outer = outerNsenter(execArgv({ ...plan, user: true }));
  assert.ok(outer.includes("--user") && outer.includes("--pid"));
  assert.ok(!execArgv(plan).includes("--user"));
});

Deno.test("the environment and command are never arguments of a program: they travel in enter.ts's spec", () => {
  const argv = execArgv(plan);
  for (const entry of [...plan.env, ...plan.argv, plan.path]) {
    assert.ok(!argv.includes(entry), `${entry} is not in argv (ps shows argv to every user)`);
  }
  const spec = JSON.parse(execEnv(plan)[SPEC_ENV]);
  assert.deepEqual(spec.env, plan.env, "verbatim, for execve's envp");
  assert.deepEqual(spec.argv, ["ls", "-l"]);
  assert.equal(spec.path, "/bin/ls");
  assert.equal(spec.cwd, "/srv");
  assert.deepEqual(spec.keeper, { pid: 41, startTime: 1234 });
  assert.deepEqual(
    Object.keys(execEnv(plan)),
    [SPEC_ENV],
    "nothing else is added to the chain's environment",
  );
});

Deno.test("enter.ts gets the container's own capabilities, seccomp filter and no_new_privs", () => {
  const security = {
    dropCaps: [0, 21],
    seccomp: { program: "AAAAAAAAAAA=", flags: 0 },
    noNewPrivileges: true,
  };
  const spec = enterSpec({ ...plan, security });
  assert.deepEqual(spec.dropCaps, [0, 21]);
  assert.deepEqual(spec.seccomp, security.seccomp);
  assert.equal(spec.noNewPrivileges, true);
  const unconfined = enterSpec({ ...plan, security: { dropCaps: [21] } });
  assert.ok(!("seccomp" in unconfined) && !("noNewPrivileges" in unconfined));
});

Deno.test("enter.ts drops every capability the container lacks and runs with only what it needs", () => {
  const spec = enterSpec(plan);
  assert.deepEqual(spec.dropCaps, capabilitiesToDrop());
  for (const kept of Object.values(KEPT_CAPABILITIES)) assert.ok(!spec.dropCaps.includes(kept));
  assert.ok(spec.dropCaps.includes(21), "CAP_SYS_ADMIN goes");
  const argv = execArgv(plan);
  const deno = argv.slice(argv.indexOf("/usr/bin/deno"));
  assert.ok(deno.includes("--allow-ffi") && deno.includes(`--allow-env=${SPEC_ENV}`));
  assert.ok(!deno.includes("--allow-all") && !deno.includes("-A") && !deno.includes("--allow-run"));
});

Deno.test("enter.ts joins the cgroups itself, once Deno has started: v1 with its thread, v2 with its process", () => {
  assert.deepEqual(enterSpec(plan).cgroups, ["/cg/pids/skiff/x/tasks", "/cg/memory/skiff/x/tasks"]);
  const v2 = enterSpec({ ...plan, cgroup: { version: "v2", own: ["/cg/skiff/x"] } });
  assert.deepEqual(v2.cgroups, ["/cg/skiff/x/cgroup.procs"]);
  assert.ok(!execArgv(plan).some((a) => a.includes("/cg/")), "the waiter and Deno's start-up stay outside");
});

Deno.test("with -t, enter.ts is told the sync FIFO to offer the pty's master on; without, it gets none", () => {
  assert.equal(enterSpec(plan).syncFifo, undefined, "no terminal: no FIFO, nothing to offer");
  const tty = enterSpec({ ...plan, syncFifo: "/run/skiff/containers/x/exec-1.sync" });
  assert.equal(tty.syncFifo, "/run/skiff/containers/x/exec-1.sync");
  assert.ok(!execArgv({ ...plan, syncFifo: "/f" }).includes("/f"), "in the spec, not in argv");
});

Deno.test("exec --privileged keeps every capability and the container's filter, and gives a user no ambient set", () => {
  const plan = {
    dropCaps: [12, 21],
    seccomp: { program: "AAAAAAAAAAA=", flags: 0 },
    user: { spec: "app", groupAdd: [], ambient: [12] },
  };
  assert.equal(execSecurity(plan), plan, "unchanged without --privileged");
  const privileged = execSecurity(plan, true);
  assert.ok(privileged.dropCaps.every((c) => c > 40), "only numbers beyond the last capability are dropped");
  assert.deepEqual(privileged.seccomp, plan.seccomp);
  assert.deepEqual(privileged.user?.ambient, []);
});
