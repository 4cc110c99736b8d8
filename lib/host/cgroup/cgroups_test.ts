import assert from "node:assert/strict";
import {
  createCgroup,
  DEFAULT_DEVICE_RULES,
  parseBytes,
  parseCpuList,
  parseLimits,
  planCgroup,
  readStats,
  removeCgroup,
} from "./cgroups.ts";
import { UsageError } from "../../errors.ts";

/** A fake cgroupfs takes no BPF program: its attachments are recorded instead. */
const attached: string[] = [];
const noAttach = (dir: string) => void attached.push(dir);

Deno.test("sizes take b, k, m and g, in any case, with an optional trailing b", () => {
  assert.equal(parseBytes("512", "-m"), 512);
  assert.equal(parseBytes("4k", "-m"), 4096);
  assert.equal(parseBytes("100m", "-m"), 100 * 1024 ** 2);
  assert.equal(parseBytes("1GB", "-m"), 1024 ** 3);
  assert.equal(parseBytes("1.5m", "-m"), 1.5 * 1024 ** 2);
  for (const bad of ["1x", "-5", "", "m", "0"]) {
    assert.throws(() => parseBytes(bad, "--memory"), UsageError, bad);
  }
});

Deno.test("limits are checked against each other and the machine", () => {
  const two = (o: Parameters<typeof parseLimits>[0]) => parseLimits(o, 2);
  assert.deepEqual(
    two({ memory: "64m", memorySwap: "-1", cpus: "0.5", cpusetCpus: "0-1", pidsLimit: "50" }),
    {
      memory: 64 * 1024 ** 2,
      memorySwap: -1,
      cpus: 0.5,
      cpusetCpus: "0-1",
      pidsLimit: 50,
    },
  );
  assert.throws(() => two({ cpus: "3" }), /at most 2/);
  assert.throws(() => two({ cpus: "-1" }), /Invalid --cpus/);
  assert.throws(() => two({ cpusetCpus: "0,5" }), /this machine has CPUs 0-1, not 5/);
  assert.throws(() => two({ cpusetCpus: "1-0" }), /use a list like/);
  assert.throws(() => two({ memorySwap: "1g" }), /needs --memory too/);
  assert.throws(() => two({ memory: "1g", memorySwap: "512m" }), /at least --memory/);
  assert.throws(() => two({ cpuShares: "1" }), /from 2 to 262144/);
  assert.throws(() => two({ pidsLimit: "-3" }), /Invalid --pids-limit/);
  assert.deepEqual(parseCpuList("0-2,5"), [0, 1, 2, 5]);
});

Deno.test("a huge --cpuset-cpus range is refused at once, naming the valid CPUs, never expanded", () => {
  assert.throws(
    () => parseLimits({ cpusetCpus: "0-99999999" }, 2),
    (e) =>
      e instanceof UsageError &&
      e.message === 'Invalid --cpuset-cpus "0-99999999": this machine has CPUs 0-1, not 2-99999999',
  );
  assert.throws(() => parseLimits({ cpusetCpus: "1,3-4,9" }, 2), /CPUs 0-1, not 3-4,9$/);
  assert.throws(() => parseLimits({ cpusetCpus: "0-" + "9".repeat(400) }, 2), /this machine has CPUs 0-1/);
  assert.deepEqual(parseLimits({ cpusetCpus: "0-1" }, 2), { cpusetCpus: "0-1" });
  assert.equal(parseCpuList("0-99999999"), null, "beyond any CPU number: not expanded");
});

Deno.test("--memory is at least docker's 6m and at most what the kernel is written in digits", () => {
  assert.throws(
    () => parseLimits({ memory: "1k" }, 2),
    /^UsageError: Invalid --memory "1k": it must be at least 6m/,
  );
  assert.throws(() => parseLimits({ memory: "6291455" }, 2), /at least 6m/);
  assert.equal(parseLimits({ memory: "6m" }, 2).memory, 6 * 1024 ** 2);
  assert.throws(
    () => parseLimits({ memory: "99999999999999g" }, 2),
    /"99999999999999g": it must be at most 8388607g/,
  );
  assert.throws(
    () => parseLimits({ memory: "10m", memorySwap: "99999999999999g" }, 2),
    /Invalid --memory-swap "99999999999999g": it must be at most/,
  );
  assert.equal(parseBytes("8388607g", "-m"), 8388607 * 1024 ** 3);
});

Deno.test("--cpus takes 0.01 to the machine's CPUs, --pids-limit 1 to the kernel's PID_MAX_LIMIT", () => {
  const two = (o: Parameters<typeof parseLimits>[0]) => parseLimits(o, 2);
  for (const bad of ["0.001", "0", "-1", "NaN", "Infinity", "1e3", "", " ", "0x1"]) {
    assert.throws(() => two({ cpus: bad }), /^UsageError: Invalid --cpus .*at least 0.01 and at most 2/, bad);
  }
  assert.throws(() => two({ cpus: "9999" }), /this machine has 2 CPUs$/);
  assert.equal(two({ cpus: "0.01" }).cpus, 0.01);
  for (const bad of ["99999999999", "4194305", "0", "-1", "NaN", "1.5"]) {
    assert.throws(
      () => two({ pidsLimit: bad }),
      /^UsageError: Invalid --pids-limit .*from 1 to 4194304/,
      bad,
    );
  }
  assert.equal(two({ pidsLimit: "4194304" }).pidsLimit, 4194304);
});

/** A fake cgroupfs: the files a real one has at its root. */
async function withFakeRoot(
  version: "v1" | "v2",
  fn: (root: string) => void | Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "skiff-cgroupfs-" });
  try {
    if (version === "v1") {
      for (const c of ["memory", "cpuacct", "pids", "cpu", "cpuset"]) await Deno.mkdir(`${root}/${c}`);
      await Deno.writeTextFile(`${root}/cpuset/cpuset.cpus`, "0-3\n");
      await Deno.writeTextFile(`${root}/cpuset/cpuset.mems`, "0\n");
    } else {
      await Deno.writeTextFile(`${root}/cgroup.controllers`, "cpuset cpu io memory pids\n");
    }
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const read = (path: string) => Deno.readTextFileSync(path).trim();

Deno.test("v1: each limit goes to its controller's file; memory, cpuacct and pids always exist", async () => {
  await withFakeRoot("v1", (root) => {
    const plan = planCgroup("v1", root, "c1", {
      memory: 104857600,
      memorySwap: 209715200,
      cpus: 0.5,
      cpuShares: 512,
      cpusetCpus: "1",
      pidsLimit: 50,
    });
    createCgroup(plan, noAttach);
    assert.equal(read(`${root}/memory/skiff/c1/memory.limit_in_bytes`), "104857600");
    assert.equal(read(`${root}/memory/skiff/c1/memory.memsw.limit_in_bytes`), "209715200");
    assert.equal(read(`${root}/cpu/skiff/c1/cpu.cfs_quota_us`), "50000");
    assert.equal(read(`${root}/cpu/skiff/c1/cpu.cfs_period_us`), "100000");
    assert.equal(read(`${root}/cpu/skiff/c1/cpu.shares`), "512");
    assert.equal(read(`${root}/cpuset/skiff/cpuset.cpus`), "0-3", "the parent copies the root's cpus");
    assert.equal(read(`${root}/cpuset/skiff/c1/cpuset.cpus`), "1");
    assert.equal(read(`${root}/cpuset/skiff/c1/cpuset.mems`), "0");
    assert.equal(read(`${root}/pids/skiff/c1/pids.max`), "50");
    assert.deepEqual(plan.procs.map((p) => p.slice(root.length)), [
      "/memory/skiff/c1/cgroup.procs",
      "/cpuacct/skiff/c1/cgroup.procs",
      "/pids/skiff/c1/cgroup.procs",
      "/cpu/skiff/c1/cgroup.procs",
      "/cpuset/skiff/c1/cgroup.procs",
      "/devices/skiff/c1/cgroup.procs",
    ]);
    const bare = planCgroup("v1", root, "c2", {});
    assert.deepEqual(bare.own.map((d) => d.slice(root.length)), [
      "/memory/skiff/c2",
      "/cpuacct/skiff/c2",
      "/pids/skiff/c2",
      "/devices/skiff/c2",
    ]);
  });
});

Deno.test("v1: devices are denied, then docker's list allowed, one rule a write; none for --privileged", () => {
  const plan = planCgroup("v1", "/cg", "c1", {});
  const devices = plan.writes.filter(([path]) => path.startsWith("/cg/devices/skiff/c1/"));
  assert.deepEqual(devices[0], ["/cg/devices/skiff/c1/devices.deny", "a"], "everything denied first");
  assert.deepEqual(
    devices.slice(1).map(([path, rule]) => `${path.slice(path.lastIndexOf("/") + 1)} ${rule}`),
    [
      "devices.allow c *:* m",
      "devices.allow b *:* m",
      "devices.allow c 1:3 rwm",
      "devices.allow c 1:5 rwm",
      "devices.allow c 1:7 rwm",
      "devices.allow c 1:8 rwm",
      "devices.allow c 1:9 rwm",
      "devices.allow c 5:0 rwm",
      "devices.allow c 5:1 rwm",
      "devices.allow c 5:2 rwm",
      "devices.allow c 136:* rwm",
    ],
  );
  assert.ok(plan.procs.includes("/cg/devices/skiff/c1/cgroup.procs"), "the container joins it");
  const privileged = planCgroup("v1", "/cg", "c1", {}, null);
  assert.ok(!privileged.own.some((d) => d.includes("/devices/")), "no device cgroup at all");
  assert.deepEqual(planCgroup("v1", "/cg", "c1", {}, DEFAULT_DEVICE_RULES), plan);
});

Deno.test("v2: controllers are delegated and limits use the unified files", async () => {
  await withFakeRoot("v2", (root) => {
    const plan = planCgroup("v2", root, "c1", {
      memory: 100,
      memorySwap: 300,
      cpus: 1.5,
      cpuShares: 1024,
      cpusetCpus: "0",
      pidsLimit: 7,
    });
    createCgroup(plan, noAttach);
    assert.ok(attached.includes(`${root}/skiff/c1`), "the device program is attached to it");
    assert.equal(read(`${root}/cgroup.subtree_control`), "+memory +pids +cpu +cpuset");
    assert.equal(read(`${root}/skiff/cgroup.subtree_control`), "+memory +pids +cpu +cpuset");
    assert.equal(read(`${root}/skiff/c1/memory.max`), "100");
    assert.equal(read(`${root}/skiff/c1/memory.swap.max`), "200", "swap alone: memory-swap minus memory");
    assert.equal(read(`${root}/skiff/c1/cpu.max`), "150000 100000");
    assert.equal(read(`${root}/skiff/c1/cpu.weight`), "39", "1024 shares, as runc maps them");
    assert.equal(read(`${root}/skiff/c1/cpuset.cpus`), "0");
    assert.equal(read(`${root}/skiff/c1/pids.max`), "7");
    assert.deepEqual(plan.procs, [`${root}/skiff/c1/cgroup.procs`]);
  });
});

Deno.test("v2: stats come from cpu.stat, memory.current and memory.events", async () => {
  await withFakeRoot("v2", (root) => {
    const plan = planCgroup("v2", root, "c1", {});
    createCgroup(plan, noAttach);
    const dir = `${root}/skiff/c1`;
    Deno.writeTextFileSync(`${dir}/cpu.stat`, "usage_usec 2500\nuser_usec 2000\n");
    Deno.writeTextFileSync(`${dir}/memory.current`, "4096\n");
    Deno.writeTextFileSync(`${dir}/memory.max`, "max\n");
    Deno.writeTextFileSync(`${dir}/pids.current`, "3\n");
    Deno.writeTextFileSync(`${dir}/memory.events`, "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n");
    assert.deepEqual(readStats(plan), {
      cpuNs: 2_500_000,
      memoryBytes: 4096,
      memoryLimit: null,
      pids: 3,
      oomKilled: true,
    });
  });
});

Deno.test("a refused write names the file, and what was made is removed", async () => {
  await withFakeRoot("v1", async (root) => {
    Deno.removeSync(`${root}/cpuset/cpuset.mems`);
    const plan = planCgroup("v1", root, "c1", { cpusetCpus: "0" });
    assert.throws(() => createCgroup(plan, noAttach), /cpuset/);
    for (const dir of plan.own) assert.throws(() => Deno.statSync(dir), Deno.errors.NotFound);
    await removeCgroup(plan);
  });
});

Deno.test("the device program: on v2 for the container's cgroup; on a hybrid host for one of its own in the unified hierarchy, joined too; none for --privileged", () => {
  const v2 = planCgroup("v2", "/cg", "c1", {});
  assert.deepEqual(v2.deviceFilter, { dir: "/cg/skiff/c1", rules: DEFAULT_DEVICE_RULES });
  assert.equal(planCgroup("v2", "/cg", "c1", {}, null).deviceFilter, undefined);
  assert.equal(planCgroup("v1", "/cg", "c1", {}).deviceFilter, undefined, "v1 alone: the controller only");
  const hybrid = planCgroup("v1", "/cg", "c1", {}, [...DEFAULT_DEVICE_RULES, "b 7:0 r"], "/cg/unified");
  assert.deepEqual(hybrid.deviceFilter, {
    dir: "/cg/unified/skiff/c1",
    rules: [...DEFAULT_DEVICE_RULES, "b 7:0 r"],
  });
  assert.deepEqual(hybrid.dirs.slice(-2), ["/cg/unified/skiff", "/cg/unified/skiff/c1"]);
  assert.ok(hybrid.procs.includes("/cg/unified/skiff/c1/cgroup.procs"), "the container joins it");
  assert.ok(hybrid.own.includes("/cg/unified/skiff/c1"), "and it is removed with the container");
  const privileged = planCgroup("v1", "/cg", "c1", {}, null, "/cg/unified");
  assert.ok(!privileged.own.some((d) => d.includes("/unified/")), "--privileged: nothing there");
});
