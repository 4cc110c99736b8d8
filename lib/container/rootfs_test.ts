import assert from "node:assert/strict";
import { SyscallError } from "../../ffi/errors.ts";
import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT } from "../../ffi/libc.ts";
import { applyRootfs, type EntryKind, planRootfs, type Sys } from "./rootfs.ts";

/** A Sys that records every call and can fail the mount onto one target. */
class FakeSys implements Sys {
  calls: string[] = [];
  entries = new Map<string, EntryKind>();
  failMountOn?: { target: string; errno: number };

  mount(source: string, target: string, fstype: string, flags: number, data: string) {
    if (this.failMountOn?.target === target) throw new SyscallError("mount", this.failMountOn.errno, target);
    this.calls.push(`mount ${fstype || "-"} ${source} ${target} ${flags} ${data}`.trim());
  }
  lstat(path: string): EntryKind | null {
    return this.entries.get(path) ?? null;
  }
  mkdir(path: string, mode: number) {
    this.entries.set(path, "dir");
    this.calls.push(`mkdir ${path} ${mode.toString(8)}`);
  }
  touch(path: string) {
    this.entries.set(path, "file");
    this.calls.push(`touch ${path}`);
  }
  symlink(target: string, path: string) {
    this.entries.set(path, "symlink");
    this.calls.push(`symlink ${path} -> ${target}`);
  }
  mknod(path: string, major: number, minor: number) {
    this.entries.set(path, "other");
    this.calls.push(`mknod ${path} ${major}:${minor}`);
  }
  /** Hands out fake descriptors, numbered from 10, and records releases. */
  private fds = 10;
  resolveInRoot(root: string, path: string, kind: "dir" | "file") {
    const fd = this.fds++;
    this.calls.push(`resolve ${root} ${path} ${kind} -> ${fd}`);
    return { path: `/proc/self/fd/${fd}`, release: () => this.calls.push(`release ${fd}`) };
  }
  sourceFlags = MS_NOSUID | MS_NODEV | 0x400; // nosuid, nodev and MS_NOATIME
  mountFlags(_path: string) {
    return this.sourceFlags;
  }
}

const SPEC = {
  root: "/s/c/merged",
  lowerdirs: ["/s/layers/top", "/s/layers/base"],
  upperdir: "/s/c/upper",
  workdir: "/s/c/work",
};

Deno.test("the overlay is mounted first, with the layers topmost first", () => {
  const steps = planRootfs(SPEC);
  assert.deepEqual(steps[0], {
    op: "mount",
    source: "overlay",
    target: "/s/c/merged",
    fstype: "overlay",
    flags: MS_NODEV,
    data: "lowerdir=/s/layers/top:/s/layers/base,upperdir=/s/c/upper,workdir=/s/c/work",
  });
});

Deno.test("proc, a read-only sysfs, a tmpfs /dev with devices, pts and shm are planned in order", () => {
  const sys = new FakeSys();
  applyRootfs(planRootfs(SPEC), sys);
  const mounts = sys.calls.filter((c) => c.startsWith("mount")).map((c) =>
    c.split(" ").slice(1, 4).join(" ")
  );
  assert.deepEqual(mounts, [
    "overlay overlay /s/c/merged",
    "proc proc /s/c/merged/proc",
    "sysfs sysfs /s/c/merged/sys",
    "tmpfs tmpfs /s/c/merged/dev",
    "devpts devpts /s/c/merged/dev/pts",
    "tmpfs shm /s/c/merged/dev/shm",
  ]);
  assert.ok(sys.calls.includes("symlink /s/c/merged/dev/ptmx -> pts/ptmx"));
  const sysfs = planRootfs(SPEC).find((s) => s.op === "mount" && s.fstype === "sysfs");
  assert.ok(sysfs?.op === "mount" && (sysfs.flags & MS_RDONLY) !== 0);
});

Deno.test("as root, the container's devices are nodes of its own /dev, never the host's inodes bound in", () => {
  const sys = new FakeSys();
  applyRootfs(planRootfs(SPEC), sys);
  assert.deepEqual(sys.calls.filter((c) => c.startsWith("mknod")), [
    "mknod /s/c/merged/dev/null 1:3",
    "mknod /s/c/merged/dev/zero 1:5",
    "mknod /s/c/merged/dev/full 1:7",
    "mknod /s/c/merged/dev/random 1:8",
    "mknod /s/c/merged/dev/urandom 1:9",
    "mknod /s/c/merged/dev/tty 5:0",
  ]);
  assert.ok(!sys.calls.some((c) => / \/dev\/\S+ \/s\/c\/merged/.test(c)), "no host device is bound in");
  assert.ok(
    sys.calls.indexOf("mknod /s/c/merged/dev/null 1:3") >
      sys.calls.findIndex((c) => c.includes("tmpfs /s/c/merged/dev ")),
    "made in the /dev tmpfs",
  );
});

Deno.test("in a user namespace, where mknod is refused, the host's devices are bound onto files made for them", () => {
  const sys = new FakeSys();
  applyRootfs(planRootfs({ ...SPEC, bindDevices: true }), sys);
  assert.ok(!sys.calls.some((c) => c.startsWith("mknod")));
  const i = sys.calls.indexOf("touch /s/c/merged/dev/null");
  assert.ok(i >= 0);
  assert.equal(sys.calls[i + 1], `mount - /dev/null /s/c/merged/dev/null ${MS_BIND}`);
});

Deno.test("a terminal becomes /dev/console only when there is one", () => {
  const without = planRootfs(SPEC);
  assert.ok(!without.some((s) => s.op === "touch" && s.path.endsWith("/dev/console")));
  const withTty = planRootfs({ ...SPEC, console: "/dev/pts/3" });
  assert.ok(
    withTty.some((s) => s.op === "mount" && s.source === "/dev/pts/3" && s.target.endsWith("/dev/console")),
  );
});

Deno.test("/proc/sys is bound and remounted read-only", () => {
  const steps = planRootfs(SPEC).filter((s) => s.op === "mount" && s.target === "/s/c/merged/proc/sys");
  assert.equal(steps.length, 2);
  assert.ok(
    steps[1].op === "mount" && (steps[1].flags & (MS_REMOUNT | MS_RDONLY)) === (MS_REMOUNT | MS_RDONLY),
  );
});

Deno.test("--tmpfs mounts go through the root's resolution after the volumes; --read-only remounts the root last", () => {
  const sys = new FakeSys();
  const steps = planRootfs({
    ...SPEC,
    binds: [{ source: "/srv", target: "/data", kind: "dir", readonly: false }],
    tmpfs: [{ target: "/tmp", flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, data: "size=1m" }],
    readOnly: true,
    privileged: true, // no masks: the plan ends with what is asked here
  });
  applyRootfs(steps, sys);
  assert.deepEqual(sys.calls.slice(-7), [
    "resolve /s/c/merged /data dir -> 10",
    `mount - /srv /proc/self/fd/10 ${MS_BIND | MS_REC}`,
    "release 10",
    "resolve /s/c/merged /tmp dir -> 11",
    `mount tmpfs tmpfs /proc/self/fd/11 ${MS_NOSUID | MS_NODEV | MS_NOEXEC} size=1m`,
    "release 11",
    `mount - /s/c/merged /s/c/merged ${MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV}`,
  ]);
  assert.equal(planRootfs(SPEC).some((s) => s.op === "readonly"), false, "read-write unless asked");
});

Deno.test("a failed mount stops the plan and names the call, target and errno", () => {
  const sys = new FakeSys();
  sys.failMountOn = { target: "/s/c/merged/sys", errno: 16 };
  assert.throws(
    () => applyRootfs(planRootfs(SPEC), sys),
    (e) =>
      e instanceof SyscallError && e.message === 'mount "/s/c/merged/sys": EBUSY (Device or resource busy)',
  );
  assert.equal(sys.calls.at(-1), "mkdir /s/c/merged/sys 555");
  assert.ok(!sys.calls.some((c) => c.includes("/dev")), "nothing after the failure ran");
});

Deno.test("an image symlink where a mount goes is refused, not followed", () => {
  const sys = new FakeSys();
  sys.entries.set("/s/c/merged/proc", "symlink");
  assert.throws(
    () => applyRootfs(planRootfs(SPEC), sys),
    /"\/s\/c\/merged\/proc": the image has a symlink there/,
  );
  assert.ok(!sys.calls.some((c) => c.includes(" /s/c/merged/proc")));

  const dev = new FakeSys();
  dev.entries.set("/s/c/merged/dev/null", "symlink");
  dev.entries.set("/s/c/merged/dev", "dir");
  // /dev is a fresh tmpfs in reality; the fake keeps the planted link to prove the check
  assert.throws(
    () => applyRootfs(planRootfs({ ...SPEC, bindDevices: true }), dev),
    /Cannot mount on "\/s\/c\/merged\/dev\/null": it is a symlink/,
  );
});

Deno.test("/proc masks apply where the kernel has the file and are skipped where not", () => {
  const sys = new FakeSys();
  sys.entries.set("/s/c/merged/proc/keys", "file");
  applyRootfs(planRootfs(SPEC), sys);
  assert.ok(sys.calls.includes(`mount - /s/c/merged/dev/null /s/c/merged/proc/keys ${MS_BIND}`));
  assert.ok(!sys.calls.some((c) => c.includes("/proc/kcore")), "the fake has no /proc/kcore");
});

Deno.test("the overlay root is nodev, so a device node an image ships cannot be opened", () => {
  const overlay = planRootfs(SPEC)[0];
  assert.ok(overlay.op === "mount" && overlay.fstype === "overlay");
  assert.equal(overlay.flags & MS_NODEV, MS_NODEV);
  const dev = planRootfs(SPEC).find((s) => s.op === "mount" && s.target === "/s/c/merged/dev");
  assert.ok(
    dev?.op === "mount" && (dev.flags & MS_NODEV) === 0,
    "the container's own /dev keeps its devices",
  );
});

Deno.test("every path runc, podman and docker mask is masked, after the volumes", () => {
  const steps = planRootfs(BINDS);
  const masked = steps.flatMap((s) => s.op === "mask" ? [s.path.slice("/s/c/merged".length)] : []);
  assert.deepEqual(masked.sort(), [
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/dev/block",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
    "/sys/fs/selinux",
  ]);
  const lastBind = steps.findLastIndex((s) => s.op === "bind");
  assert.ok(steps.findIndex((s) => s.op === "mask") > lastBind, "a volume cannot uncover a masked path");
});

Deno.test("a masked directory gets an empty read-only tmpfs, a file the container's own /dev/null, a missing path nothing", () => {
  const sys = new FakeSys();
  sys.entries.set("/s/c/merged/proc/acpi", "dir");
  sys.entries.set("/s/c/merged/sys/firmware", "dir");
  sys.entries.set("/s/c/merged/proc/interrupts", "file");
  applyRootfs(planRootfs(SPEC), sys);
  const ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  assert.ok(
    sys.calls.includes(`mount tmpfs tmpfs /s/c/merged/proc/acpi ${ro} mode=755`),
    sys.calls.join("\n"),
  );
  assert.ok(sys.calls.includes(`mount tmpfs tmpfs /s/c/merged/sys/firmware ${ro} mode=755`));
  assert.ok(sys.calls.includes(`mount - /s/c/merged/dev/null /s/c/merged/proc/interrupts ${MS_BIND}`));
  assert.ok(!sys.calls.some((c) => c.includes("/powercap") || c.includes("/proc/scsi")), "absent: skipped");
});

Deno.test("a symlink where a masked path should be is refused, not followed", () => {
  const sys = new FakeSys();
  sys.entries.set("/s/c/merged/sys/firmware", "symlink");
  assert.throws(
    () => applyRootfs(planRootfs(SPEC), sys),
    /Cannot mount on "\/s\/c\/merged\/sys\/firmware": it is a symlink/,
  );
});

Deno.test("a layer path with a comma or colon is refused before anything is mounted", () => {
  assert.throws(() => planRootfs({ ...SPEC, upperdir: "/s,x/upper" }), /has a "," or ":"/);
});

const BINDS = {
  ...SPEC,
  binds: [
    { source: "/host/sub", target: "/data/sub", kind: "dir" as const, readonly: false },
    { source: "/host/conf", target: "/etc/app.conf", kind: "file" as const, readonly: true },
    { source: "/host/data", target: "/data", kind: "dir" as const, readonly: false },
  ],
};

Deno.test("volumes are bound parents first, after the system mounts", () => {
  const steps = planRootfs(BINDS);
  const binds = steps.filter((s) => s.op === "bind").map((s) => s.op === "bind" && s.target);
  assert.deepEqual(binds, ["/data", "/data/sub", "/etc/app.conf"], "by depth, then as given");
  const shm = steps.findIndex((s) => s.op === "mount" && s.target.endsWith("/dev/shm"));
  assert.ok(steps.findIndex((s) => s.op === "bind") > shm);
});

Deno.test("a volume is mounted on its target resolved in the root, and released", () => {
  const sys = new FakeSys();
  applyRootfs(planRootfs({ ...SPEC, binds: [BINDS.binds[2]] }), sys);
  const i = sys.calls.indexOf("resolve /s/c/merged /data dir -> 10");
  assert.ok(i >= 0, sys.calls.join("\n"));
  assert.deepEqual(sys.calls.slice(i + 1, i + 3), [
    `mount - /host/data /proc/self/fd/10 ${MS_BIND | MS_REC}`,
    "release 10",
  ]);
});

Deno.test("a read-only volume is remounted read-only on a fresh resolution, keeping nosuid and nodev", () => {
  const sys = new FakeSys();
  applyRootfs(planRootfs({ ...SPEC, binds: [BINDS.binds[1]] }), sys);
  const i = sys.calls.indexOf("resolve /s/c/merged /etc/app.conf file -> 10");
  assert.deepEqual(sys.calls.slice(i + 1, i + 6), [
    `mount - /host/conf /proc/self/fd/10 ${MS_BIND | MS_REC}`,
    "release 10",
    "resolve /s/c/merged /etc/app.conf file -> 11",
    `mount - /host/conf /proc/self/fd/11 ${MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV}`,
    "release 11",
  ]);
});

Deno.test("a failed volume mount names the volume and keeps the cause", () => {
  const sys = new FakeSys();
  sys.failMountOn = { target: "/proc/self/fd/10", errno: 20 };
  assert.throws(
    () => applyRootfs(planRootfs({ ...SPEC, binds: [BINDS.binds[2]] }), sys),
    (e: Error) =>
      e.message === 'Cannot mount "/host/data" on "/data"' &&
      (e.cause as Error).message === 'mount "/proc/self/fd/10": ENOTDIR (Not a directory)',
  );
  assert.equal(sys.calls.at(-1), "release 10", "the descriptor is released on failure too");
});

Deno.test("--device nodes go in the container's /dev after its own, parents made; rootless, the host's are bound", () => {
  const device = {
    host: "/dev/loop0",
    path: "/dev/disk/by/xda",
    block: true,
    major: 7,
    minor: 0,
    mode: 0o600,
  };
  const steps = planRootfs({ ...SPEC, devices: [device] });
  const from = steps.findIndex((s) => s.op === "symlink" && s.path.endsWith("/dev/stderr")) + 1;
  assert.deepEqual(steps.slice(from, from + 3), [
    { op: "mkdir", path: "/s/c/merged/dev/disk", mode: 0o755 },
    { op: "mkdir", path: "/s/c/merged/dev/disk/by", mode: 0o755 },
    { op: "mknod", path: "/s/c/merged/dev/disk/by/xda", major: 7, minor: 0, mode: 0o600, block: true },
  ]);
  const bound = planRootfs({ ...SPEC, devices: [{ ...device, path: "/dev/xda" }], bindDevices: true });
  const at = bound.findIndex((s) => s.op === "touch" && s.path === "/s/c/merged/dev/xda");
  assert.deepEqual(bound[at + 1], {
    op: "mount",
    source: "/dev/loop0",
    target: "/s/c/merged/dev/xda",
    fstype: "",
    flags: MS_BIND,
  });
});
