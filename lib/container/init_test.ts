import assert from "node:assert/strict";
import { classify, SyscallError } from "../../ffi/errors.ts";
import {
  EXIT_CANNOT_EXECUTE,
  EXIT_NOT_FOUND,
  hasCapability,
  InitFailure,
  type InitMessage,
  type InitSpec,
  type InitSys,
  keeperAlive,
  resolveCommand,
  startInit,
  type Stdio,
} from "./init.ts";
import type { EntryKind, Resolved } from "./rootfs.ts";
import type { VethPlan } from "./network.ts";

function fakeStat(files: Record<string, number | "dir">) {
  return (path: string): Deno.FileInfo | null => {
    const f = files[path];
    if (f === undefined) return null;
    return { isFile: f !== "dir", isDirectory: f === "dir", mode: f === "dir" ? 0o755 : f } as Deno.FileInfo;
  };
}

Deno.test("a bare command is searched along the container's PATH", () => {
  const stat = fakeStat({ "/usr/bin/ls": 0o644, "/bin/ls": 0o755 });
  assert.equal(resolveCommand("ls", ["PATH=/usr/bin:/bin"], stat), "/bin/ls");
  assert.equal(resolveCommand("ls", [], stat), "/bin/ls", "a default PATH applies");
});

Deno.test("a missing command fails with 127 and a non-executable one with 126, as docker", () => {
  const stat = fakeStat({ "/etc/passwd": 0o644, "/bin": "dir" });
  assert.throws(
    () => resolveCommand("nosuch", ["PATH=/bin"], stat),
    (e: Error & { exitCode: number }) =>
      e.exitCode === EXIT_NOT_FOUND && e.message === 'exec: "nosuch": executable file not found in $PATH',
  );
  assert.throws(
    () => resolveCommand("/etc/passwd", [], stat),
    (e: Error & { exitCode: number }) =>
      e.exitCode === EXIT_CANNOT_EXECUTE && /permission denied/.test(e.message),
  );
  assert.throws(() => resolveCommand("/bin", [], stat), /permission denied/);
  assert.throws(() => resolveCommand("/nope", [], stat), /no such file or directory/);
});

Deno.test("init runs on only while the keeper that forked it, and the keeper's skiff, live", () => {
  const proc = (files: Record<string, string>) => (path: string) => {
    if (!(path in files)) throw new Error(`ENOENT ${path}`);
    return files[path];
  };
  const self = { "/proc/self/stat": "4242 (deno init) S 4240 4242 1 0 -1 4194560" };
  const keeper = (parent: number) => ({
    "/proc/4240/comm": "timeout\n",
    "/proc/4240/stat": `4240 (timeout) S ${parent} 4240 1 0 -1 4194560`,
  });
  assert.equal(keeperAlive(4000, proc({ ...self, ...keeper(4000) })), true);
  assert.equal(
    keeperAlive(undefined, proc({ ...self, ...keeper(1) })),
    true,
    "no parent to check (detached)",
  );
  assert.equal(
    keeperAlive(4000, proc({ ...self, ...keeper(1) })),
    false,
    "skiff died: the keeper was adopted",
  );
  assert.equal(
    keeperAlive(4000, proc({ ...self, "/proc/4240/comm": "systemd\n" })),
    false,
    "we were adopted",
  );
  assert.equal(keeperAlive(4000, proc(self)), false, "the keeper is gone");
});

/** Thrown by the fake execve: the sequence reached its end. */
class Executed extends Error {}

/** An InitSys that records every call and can fail the first call named `fail` with `errno`. */
class FakeInitSys implements InitSys {
  calls: string[] = [];
  constructor(private fail?: { call: string; errno: number }) {}
  private record(call: string, ...args: unknown[]) {
    // As the real ffi/ calls throw: sorted into its errno class.
    if (this.fail?.call === call) {
      throw classify(new SyscallError(call, this.fail.errno, String(args[0] ?? "")));
    }
    this.calls.push([call, ...args].join(" "));
  }
  readFile(path: string): string {
    const files: Record<string, string> = {
      "/proc/self/stat": "4242 (deno) S 4240 4242 1 0 -1 0",
      "/proc/4240/comm": "timeout\n",
      "/proc/4240/stat": "4240 (timeout) S 4000 4240 1 0 -1 0",
      // root before execve: every capability effective, CAP_SYS_ADMIN (21) among them
      "/proc/thread-self/status": "Name:\tdeno\nCapEff:\t000001ffffffffff\nSeccomp:\t0\n",
      "/proc/sys/kernel/cap_last_cap": "40\n",
    };
    if (!(path in files)) throw classify(new SyscallError("open", 2, path));
    return files[path];
  }
  writeFile(path: string, text: string) {
    this.record("writeFile", path, text);
  }
  chdir(path: string) {
    this.record("chdir", path);
  }
  pivotRoot(newRoot: string, putOld: string) {
    this.record("pivotRoot", newRoot, putOld);
  }
  umount2(target: string, flags: number) {
    this.record("umount2", target, flags);
  }
  sethostname(name: string) {
    this.record("sethostname", name);
  }
  unshareNet() {
    this.record("unshareNet");
  }
  private fds = 20;
  openNetns() {
    this.record("openNetns");
    return this.fds++;
  }
  setNetns(fd: number) {
    this.record("setNetns", fd);
  }
  openPath(path: string) {
    this.record("openPath", path);
    return this.fds++;
  }
  routeSocket() {
    this.record("routeSocket");
    return this.fds++;
  }
  makeVeth(sock: number, veth: VethPlan, netnsFd: number) {
    this.record("makeVeth", sock, veth.hostIf, veth.bridge, veth.ifname, veth.mac, netnsFd);
  }
  configureInterface(name: string, address: string, prefix: number, gateway?: string) {
    this.record("configureInterface", name, address, prefix, gateway ?? "-");
  }
  interfaceUp(name: string) {
    this.record("interfaceUp", name);
  }
  mkdirAll(path: string) {
    this.record("mkdirAll", path);
  }
  stat(path: string) {
    return path === "/bin/sh" ? { isFile: true, mode: 0o755 } as Deno.FileInfo : null;
  }
  openPty(ptmx: string) {
    this.record("openPty", ptmx);
    return { master: 7, slave: 8 };
  }
  awaitParent() {
    this.record("awaitParent");
  }
  setsid() {
    this.record("setsid");
  }
  setControllingTerminal(fd: number) {
    this.record("setControllingTerminal", fd);
  }
  dup2(from: number, to: number) {
    this.record("dup2", from, to);
  }
  close(fd: number) {
    this.record("close", fd);
  }
  capbsetDrop(cap: number) {
    this.record("capbsetDrop", cap);
  }
  resetSignals() {
    this.record("resetSignals");
  }
  setNoNewPrivs() {
    this.record("setNoNewPrivs");
  }
  seccompSetModeFilter(program: Uint8Array, flags: number) {
    this.record("seccompSetModeFilter", `${program.length} bytes`, flags);
  }
  mknod(path: string, major: number, minor: number) {
    this.record("mknod", path, `${major}:${minor}`);
  }
  closeOnExecFrom(first: number) {
    this.record("closeOnExecFrom", first);
  }
  execve(path: string, argv: string[], env: string[]): never {
    this.env = env;
    this.record("execve", path, ...argv);
    throw new Executed();
  }
  mount(source: string, target: string, fstype: string, flags: number, _data: string) {
    this.record("mount", source, target, fstype || "-", flags);
  }
  lstat(_path: string): EntryKind | null {
    return null;
  }
  mkdir(path: string, _mode: number) {
    this.record("mkdir", path);
  }
  touch(path: string) {
    this.record("touch", path);
  }
  symlink(target: string, path: string) {
    this.record("symlink", target, path);
  }
  resolveInRoot(_root: string, path: string): Resolved {
    return { path, release() {} };
  }
  mountFlags() {
    return 0;
  }
  readInRoot(path: string): string | null {
    const files: Record<string, string> = {
      "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
      "/etc/group": "root:x:0:\nstaff:x:50:app\n",
    };
    return files[path] ?? null;
  }
  setKeepCaps(keep: boolean) {
    this.record("setKeepCaps", keep);
  }
  setgroups(gids: number[]) {
    this.record("setgroups", gids.join(","));
  }
  setresgid(gid: number) {
    this.record("setresgid", gid);
  }
  setresuid(uid: number) {
    this.record("setresuid", uid);
  }
  restoreEffectiveCaps(inheritable: number[]) {
    this.record("restoreEffectiveCaps", inheritable.join(",") || "-");
    return inheritable;
  }
  raiseAmbientCap(cap: number) {
    this.record("raiseAmbientCap", cap);
  }
  parentDeathSignal() {
    return 9;
  }
  setParentDeathSignal(signal: number) {
    this.record("setParentDeathSignal", signal);
  }
  parentPid() {
    return 4240;
  }
  setRlimit(resource: number, soft: number, hard: number) {
    this.record("setRlimit", resource, soft, hard);
  }
  /** The environment execve got. */
  env: string[] = [];
}

const INIT_SPEC: InitSpec = {
  root: "/s/c/merged",
  steps: [{ op: "mount", source: "overlay", target: "/s/c/merged", fstype: "overlay", flags: 0 }],
  hostname: "box",
  cwd: "/srv",
  argv: ["sh", "-c", "true"],
  env: ["PATH=/bin"],
  dropCaps: [21, 38],
  cgroupProcs: ["/sys/fs/cgroup/pids/skiff/c/cgroup.procs"],
  keeperParent: 4000,
  syncFifo: "/run/c/init.sync",
};

/** Runs init's sequence on a fake; returns the calls, the reports, and what it threw. */
function runInit(spec: InitSpec, fail?: { call: string; errno: number }, stdio?: Stdio) {
  const sys = new FakeInitSys(fail);
  const reports: InitMessage[] = [];
  let thrown: unknown;
  try {
    startInit(spec, sys, (m) => reports.push(m), undefined, stdio);
  } catch (e) {
    thrown = e;
  }
  return { calls: sys.calls, reports, thrown, env: sys.env };
}

Deno.test("init joins the cgroup, mounts, pivots, detaches, names the host, drops caps, then executes", () => {
  const { calls, reports, thrown } = runInit(INIT_SPEC);
  assert.ok(thrown instanceof Executed, String(thrown));
  assert.deepEqual(calls, [
    "writeFile /sys/fs/cgroup/pids/skiff/c/cgroup.procs 0",
    "mount overlay /s/c/merged overlay 0",
    "chdir /s/c/merged",
    "pivotRoot . .",
    "umount2 . 2",
    "chdir /",
    "sethostname box",
    "interfaceUp lo",
    "mkdirAll /srv",
    "chdir /srv",
    "setsid",
    "capbsetDrop 21",
    "capbsetDrop 38",
    "resetSignals",
    "closeOnExecFrom 3",
    "execve /bin/sh sh -c true",
  ]);
  assert.deepEqual(reports, [{ started: { pid: 4242, keeper: 4240 } }, { exec: true }]);
});

Deno.test("launched inside, init makes the network namespace before the mounts and connects the relays' FIFOs", () => {
  const { calls, thrown } = runInit(
    { ...INIT_SPEC, net: { kind: "none" }, keeperComm: "timeout" },
    undefined,
    { stdin: 7, stdout: 8, stderr: 9 },
  );
  assert.ok(thrown instanceof Executed, String(thrown));
  const netAt = calls.indexOf("unshareNet");
  assert.ok(netAt > 0 && netAt < calls.indexOf("mount overlay /s/c/merged overlay 0"), calls.join("\n"));
  assert.ok(calls.indexOf("writeFile /sys/fs/cgroup/pids/skiff/c/cgroup.procs 0") < netAt);
  const wired = calls.slice(calls.indexOf("setsid") + 1, calls.indexOf("capbsetDrop 21"));
  assert.deepEqual(wired, ["dup2 7 0", "dup2 8 1", "dup2 9 2"]);
});

const VETH = { hostIf: "vethX", bridge: "skiff0", ifname: "eth0", mac: "02:42:ac:11:00:02" };

Deno.test("on a bridge, init makes the veth through a socket of the host's namespace, then addresses it in its own, before the mounts", () => {
  const net = {
    kind: "bridge" as const,
    veths: [VETH],
    inside: [{ name: "eth0", address: "172.17.0.2", prefix: 16, gateway: "172.17.0.1" }],
  };
  const { calls, thrown } = runInit({ ...INIT_SPEC, net });
  assert.ok(thrown instanceof Executed, String(thrown));
  const first = calls.indexOf("routeSocket");
  assert.deepEqual(calls.slice(first, first + 7), [
    "routeSocket",
    "unshareNet",
    "openNetns",
    // the socket (20), opened before the unshare, and our descriptor of the new namespace (21)
    "makeVeth 20 vethX skiff0 eth0 02:42:ac:11:00:02 21",
    "close 20",
    "close 21",
    "configureInterface eth0 172.17.0.2 16 172.17.0.1",
  ]);
  assert.ok(!calls.some((c) => c.startsWith("setNetns")), "no setns: the socket is the host's");
  assert.ok(first + 6 < calls.indexOf("mount overlay /s/c/merged overlay 0"), calls.join("\n"));
});

Deno.test("on a bridge, a refused veth closes what init opened, and the failure is named", () => {
  const net = { kind: "bridge" as const, veths: [VETH], inside: [] };
  const { calls, thrown } = runInit({ ...INIT_SPEC, net }, { call: "makeVeth", errno: 17 });
  assert.ok(
    thrown instanceof Error && /Cannot connect the container to bridge "skiff0"/.test(thrown.message),
    String(thrown),
  );
  assert.deepEqual(calls.slice(-2), ["close 20", "close 21"]);
  assert.ok(!calls.some((c) => c.startsWith("mount")), "nothing mounted");
});

Deno.test("with --network container:NAME, init joins that namespace and makes none", () => {
  const { calls } = runInit({ ...INIT_SPEC, net: { kind: "join", path: "/proc/77/ns/net" } });
  const at = calls.indexOf("openPath /proc/77/ns/net");
  assert.deepEqual(calls.slice(at, at + 3), ["openPath /proc/77/ns/net", "setNetns 20", "close 20"]);
  assert.ok(!calls.includes("unshareNet"));
});

Deno.test("launched inside, init refuses to go on when its keeper is not the one named", () => {
  const { calls, thrown } = runInit({ ...INIT_SPEC, net: { kind: "none" }, keeperComm: "busybox" });
  assert.ok(thrown instanceof Error && /keeper or its skiff is gone/.test(thrown.message), String(thrown));
  assert.deepEqual(calls, [], "nothing was done");
});

Deno.test("with -t, init hands over a pty of its own devpts and makes it stdio and controlling terminal", () => {
  const { calls, reports } = runInit({ ...INIT_SPEC, tty: true });
  const tty = calls.slice(calls.indexOf("setsid"), calls.indexOf("capbsetDrop 21"));
  assert.deepEqual(tty, [
    "setsid",
    "openPty /dev/pts/ptmx",
    "touch /dev/console",
    "mount /proc/self/fd/8 /dev/console - 4096",
    "awaitParent",
    "close 7",
    "setControllingTerminal 8",
    "dup2 8 0",
    "dup2 8 1",
    "dup2 8 2",
    "close 8",
  ]);
  assert.deepEqual(reports[1], { pty: 7 }, "the master's descriptor, reported before init waits");
});

Deno.test("a failing step of init is named, keeps its errno, and nothing runs after it", () => {
  const cases: [call: string, errno: number, message: string][] = [
    ["writeFile", 28, 'Cannot join the cgroup "/sys/fs/cgroup/pids/skiff/c/cgroup.procs"'],
    ["pivotRoot", 22, 'Cannot pivot into "/s/c/merged"'],
    ["umount2", 16, "Cannot detach the old root"],
    ["sethostname", 1, 'Cannot set the hostname "box"'],
    ["interfaceUp", 19, "Cannot bring up the loopback interface"],
    ["mkdirAll", 20, 'Cannot make the working directory "/srv"'],
    ["setsid", 1, "Cannot start a session"],
    ["openPty", 5, "Cannot make the container's terminal"],
    ["capbsetDrop", 1, "Cannot drop capability 21 from the bounding set"],
    ["closeOnExecFrom", 38, "Cannot mark descriptors close-on-exec"],
  ];
  for (const [call, errno, message] of cases) {
    const { calls, reports, thrown } = runInit({ ...INIT_SPEC, tty: true }, { call, errno });
    assert.ok(thrown instanceof Error && !(thrown instanceof Executed), `${call}: ${thrown}`);
    assert.equal(thrown.message, message);
    // the errno class (EINVAL -> InvalidArgument...) keeps the SyscallError as its own cause
    const sorted = thrown.cause as Error;
    const cause = (sorted instanceof SyscallError ? sorted : sorted.cause) as SyscallError;
    assert.ok(cause instanceof SyscallError, `${call}: the cause is kept`);
    assert.equal(cause.errno, errno);
    assert.equal(cause.syscall, call);
    assert.ok(!calls.some((c) => c.startsWith("execve")), `${call}: nothing is executed`);
    assert.ok(!reports.some((r) => "exec" in r), `${call}: no exec is reported`);
  }
});

Deno.test("a capability this kernel lacks (EINVAL) is skipped, and a missing command is 127", () => {
  const skipped = runInit(INIT_SPEC, { call: "capbsetDrop", errno: 22 });
  assert.ok(skipped.thrown instanceof Executed);
  const missing = runInit({ ...INIT_SPEC, argv: ["nosuch"] });
  assert.ok(missing.thrown instanceof InitFailure);
  assert.equal(missing.thrown.exitCode, EXIT_NOT_FOUND);
  assert.ok(!missing.calls.includes("setsid"), "found before the session and the terminal");
});

Deno.test("an init whose skiff is gone (no reader on the sync FIFO) exits at once, not waiting for one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "skiff-init-" });
  try {
    const made = await new Deno.Command("mkfifo", { args: [`${dir}/init.sync`] }).output();
    assert.equal(made.code, 0);
    await Deno.writeTextFile(`${dir}/init.json`, JSON.stringify({ syncFifo: `${dir}/init.sync` }));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--no-config",
        "--allow-read",
        "--allow-write",
        "--allow-ffi",
        "--allow-env",
        new URL("./init.ts", import.meta.url).pathname,
        `${dir}/init.json`,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.notEqual(out.code, 0);
    assert.match(new TextDecoder().decode(out.stderr), /init\.sync": ENXIO \(No such device or address\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A filter of two BPF instructions, as security.ts plans them: base64. */
const FILTER = { program: btoa("\0".repeat(16)), flags: 2 };

Deno.test("init installs the seccomp filter last, after the capabilities and no_new_privs, right before execve", () => {
  const { calls, reports, thrown } = runInit({ ...INIT_SPEC, seccomp: FILTER, noNewPrivileges: true });
  assert.ok(thrown instanceof Executed, String(thrown));
  assert.deepEqual(calls.slice(calls.indexOf("capbsetDrop 38")), [
    "capbsetDrop 38",
    "resetSignals",
    "closeOnExecFrom 3",
    "setNoNewPrivs",
    "seccompSetModeFilter 16 bytes 2",
    "execve /bin/sh sh -c true",
  ]);
  assert.deepEqual(reports.at(-1), { exec: true });
});

Deno.test("without no-new-privileges, the filter goes in with CAP_SYS_ADMIN, or with no_new_privs when the thread lacks it", () => {
  const root = runInit({ ...INIT_SPEC, seccomp: FILTER });
  assert.ok(
    !root.calls.includes("setNoNewPrivs"),
    "root before execve holds CAP_SYS_ADMIN: no no_new_privs, as docker",
  );
  const sys = new FakeInitSys();
  const readFile = sys.readFile.bind(sys);
  sys.readFile = (path) =>
    path === "/proc/thread-self/status" ? "CapEff:\t00000000800405fb\n" : readFile(path);
  assert.throws(() => startInit({ ...INIT_SPEC, seccomp: FILTER }, sys, () => {}), Executed);
  const at = sys.calls.indexOf("setNoNewPrivs");
  assert.ok(at > 0 && at === sys.calls.indexOf("seccompSetModeFilter 16 bytes 2") - 1, sys.calls.join("\n"));
});

Deno.test("a seccomp filter that can't be installed is named, and nothing is executed", () => {
  for (
    const [call, message] of [
      ["seccompSetModeFilter", "Cannot install the seccomp filter"],
      ["setNoNewPrivs", "Cannot set no_new_privs"],
    ]
  ) {
    const { calls, reports, thrown } = runInit(
      { ...INIT_SPEC, seccomp: FILTER, noNewPrivileges: true },
      { call, errno: 22 },
    );
    assert.ok(thrown instanceof Error && thrown.message === message, `${call}: ${thrown}`);
    assert.ok(!calls.some((c) => c.startsWith("execve")), `${call}: nothing is executed`);
    assert.ok(!reports.some((r) => "exec" in r), `${call}: no exec is reported`);
  }
});

Deno.test("unconfined, init installs no filter", () => {
  const { calls } = runInit(INIT_SPEC);
  assert.ok(!calls.some((c) => /seccomp|NoNewPrivs/i.test(c)), calls.join("\n"));
});

Deno.test("the effective set is read from a status file's CapEff", () => {
  assert.equal(hasCapability("CapInh:\t0\nCapEff:\t0000000000200000\n", 21), true);
  assert.equal(hasCapability("CapEff:\t00000000800405fb\n", 21), false);
  assert.equal(hasCapability("Name:\tx\n", 21), false, "no CapEff line: not held");
});

Deno.test("init drops no capability past the kernel's last (cap_last_cap), so no EINVAL is read", () => {
  const { calls, thrown } = runInit({ ...INIT_SPEC, dropCaps: [21, 40, 41, 52] });
  assert.ok(thrown instanceof Executed, String(thrown));
  assert.deepEqual(calls.filter((c) => c.startsWith("capbsetDrop")), ["capbsetDrop 21", "capbsetDrop 40"]);
});

Deno.test("init becomes the user after the bounding set and before the filter: groups, gid, uid, caps back, pdeathsig again", () => {
  const filter = { program: "AAAAAAAAAAA=", flags: 0 };
  const { calls, thrown, env } = runInit({
    ...INIT_SPEC,
    seccomp: filter,
    user: { spec: "app", groupAdd: ["7"], ambient: [12] },
  });
  assert.ok(thrown instanceof Executed, String(thrown));
  const from = calls.indexOf("capbsetDrop 38") + 1;
  assert.deepEqual(calls.slice(from, calls.indexOf("resetSignals")), [
    "setKeepCaps true",
    "setgroups 1000,50,7",
    "setresgid 1000",
    "setresuid 1000",
    "setKeepCaps false",
    "restoreEffectiveCaps 12",
    "raiseAmbientCap 12",
    "setParentDeathSignal 9",
  ]);
  assert.ok(calls.indexOf("seccompSetModeFilter 8 bytes 0") > from);
  assert.deepEqual(env, ["PATH=/bin", "HOME=/home/app"], "HOME from the passwd entry");
});

Deno.test("init as root by name raises no ambient capability, and keeps a HOME the environment has", () => {
  const { calls, env } = runInit({
    ...INIT_SPEC,
    env: ["PATH=/bin", "HOME=/x"],
    user: { spec: "root", groupAdd: [], ambient: [12] },
  });
  assert.ok(calls.includes("restoreEffectiveCaps -"), calls.join("\n"));
  assert.ok(!calls.some((c) => c.startsWith("raiseAmbientCap")));
  assert.deepEqual(env, ["PATH=/bin", "HOME=/x"]);
});

Deno.test("init fails with docker's words and 125 for a user the container lacks, before the command is looked for", () => {
  const { calls, thrown } = runInit({ ...INIT_SPEC, user: { spec: "nobody2", groupAdd: [], ambient: [] } });
  assert.ok(thrown instanceof InitFailure, String(thrown));
  assert.equal(thrown.exitCode, 125);
  assert.equal(thrown.message, "unable to find user nobody2: no matching entries in passwd file");
  assert.ok(!calls.includes("setsid") && !calls.some((c) => c.startsWith("set")), calls.join("\n"));
});

Deno.test("init writes sysctls and oom_score_adj in the new namespaces before the mounts, and sets limits before dropping caps", () => {
  const { calls, thrown } = runInit({
    ...INIT_SPEC,
    net: { kind: "none" },
    keeperComm: "timeout",
    sysctls: [["/proc/sys/net/ipv4/ip_forward", "1"]],
    oomScoreAdj: 500,
    rlimits: [[7, 1024, 2048]],
  });
  assert.ok(thrown instanceof Executed, String(thrown));
  const at = (c: string) => calls.indexOf(c);
  assert.ok(at("unshareNet") < at("writeFile /proc/sys/net/ipv4/ip_forward 1"), calls.join("\n"));
  assert.ok(at("writeFile /proc/self/oom_score_adj 500") < at("mount overlay /s/c/merged overlay 0"));
  assert.ok(at("setsid") < at("setRlimit 7 1024 2048") && at("setRlimit 7 1024 2048") < at("capbsetDrop 21"));
});
