import assert from "node:assert/strict";
import { execArgv } from "./exec.ts";

const plan = {
  pid1: 42,
  user: false,
  cgroupProcs: ["/cg/a/cgroup.procs", "/cg/b/cgroup.procs"],
  cwd: "/srv",
  argv: ["/bin/ls", "-l"],
  env: ["PATH=/bin", "A=b"],
  tools: { nsenter: "/usr/bin/nsenter", setpriv: "/usr/bin/setpriv", busybox: "/bin/busybox" },
};

Deno.test("exec enters the pid namespace first, keeping a waiter outside it", () => {
  const argv = execArgv(plan);
  assert.deepEqual(argv.slice(0, 6), ["/usr/bin/nsenter", "--target", "42", "--pid", "--no-fork", "--"]);
  assert.deepEqual(argv.slice(6, 8), ["/bin/busybox", "sh"]);
  const waiterArgs = argv.slice(argv.indexOf("exec-waiter") + 1, argv.indexOf("exec-waiter") + 3);
  assert.deepEqual(waiterArgs, ["/cg/a/cgroup.procs /cg/b/cgroup.procs", "/bin"]);
});

Deno.test("rootless, exec enters the container's user namespace before its pid namespace", () => {
  const argv = execArgv({ ...plan, user: true });
  assert.deepEqual(argv.slice(0, 7), [
    "/usr/bin/nsenter",
    "--target",
    "42",
    "--user",
    "--pid",
    "--no-fork",
    "--",
  ]);
  assert.equal(argv.filter((a) => a === "--user").length, 1, "the inner nsenter is in it already");
});

Deno.test("exec sets inheritable caps before bounding, and drops them last, right before the command", () => {
  const argv = execArgv(plan);
  const inh = argv.indexOf("--inh-caps");
  const bounding = argv.indexOf("--bounding-set");
  assert.ok(inh > 0 && inh < bounding, "inheritable first: capset refuses a cap outside the bounding set");
  assert.equal(argv[inh + 1], "+sys_admin,+sys_chroot");
  assert.match(argv[bounding + 1], /^-all,\+chown,.*\+sys_chroot,\+setfcap$/);
  assert.doesNotMatch(argv[bounding + 1], /sys_admin/);
  const enter = argv.lastIndexOf("/usr/bin/nsenter");
  assert.deepEqual(argv.slice(enter + 3, enter + 10), [
    "--mount",
    "--uts",
    "--ipc",
    "--net",
    "--root",
    "--no-fork",
    "--",
  ]);
  assert.equal(
    argv[enter + 10],
    "/proc/self/fd/3/busybox",
    "busybox through the descriptor the waiter opened",
  );
  assert.deepEqual(argv.slice(-8), [
    "PATH=/bin",
    "A=b",
    "setpriv",
    "--inh-caps",
    "-sys_admin,-sys_chroot",
    "--",
    "/bin/ls",
    "-l",
  ]);
});
