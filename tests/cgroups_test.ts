/**
 * End-to-end tests of resource limits as root, on this machine's cgroup v1
 * hierarchies: OOM, a fork bomb, cpuset, a CPU quota, stats, cleanup.
 */

import assert from "node:assert/strict";
import { background, entries, ROOT_ONLY, skiff, skiffOk, waitFor, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

const V1 = "/sys/fs/cgroup";

/** The container cgroups skiff has under a controller. */
function cgroupsOf(controller: string): string[] {
  return entries(`${V1}/${controller}/skiff`).filter((e) => /^[0-9a-f]{64}$/.test(e));
}

/** The id of the one container in the store once it runs. */
async function runningId(store: string): Promise<string> {
  let id = "";
  await waitFor(async () => {
    id = (await skiffOk(store, ["ps", "-q", "--no-trunc"])).trim();
    return id !== "";
  });
  return id;
}

test("a memory hog over its limit is OOM-killed: exit 137, and inspect says OOMKilled", async () => {
  await withStore(async (store) => {
    const r = await skiff(store, [
      "run",
      "--name",
      "hog",
      "-m",
      "20m",
      "busybox",
      "sh",
      "-c",
      'a=$(head -c 60000000 /dev/zero | tr "\\0" x); echo survived',
    ]);
    assert.equal(r.code, 137);
    assert.ok(!r.stdout.includes("survived"));
    const [record] = JSON.parse(await skiffOk(store, ["inspect", "hog"]));
    assert.equal(record.oomKilled, true);
    assert.equal(record.exitCode, 137);
    assert.deepEqual(record.limits, { memory: 20 * 1024 * 1024 });
    await skiffOk(store, ["run", "--name", "fine", "busybox", "true"]);
    const [ok] = JSON.parse(await skiffOk(store, ["inspect", "fine"]));
    assert.equal(ok.oomKilled, false);
  });
});

test("a fork bomb under --pids-limit 50 stays contained and the host stays usable", async () => {
  await withStore(async (store) => {
    const bomb = background(store, [
      "run",
      "--pids-limit",
      "50",
      "busybox",
      "sh",
      "-c",
      "b() { b | b & }; b; sleep 60",
    ]);
    try {
      const id = await runningId(store);
      const dir = `${V1}/pids/skiff/${id}`;
      await waitFor(() => Number(Deno.readTextFileSync(`${dir}/pids.events`).split(" ")[1]) > 0);
      assert.ok(Number(Deno.readTextFileSync(`${dir}/pids.current`)) <= 50);
      assert.equal(Deno.readTextFileSync(`${dir}/pids.max`).trim(), "50");
      const host = await new Deno.Command("true").output();
      assert.equal(host.code, 0, "the host can still start processes");
    } finally {
      await bomb.stop();
    }
  });
});

test("--cpuset-cpus 0 shows as Cpus_allowed_list: 0 inside", async () => {
  await withStore(async (store) => {
    const out = await skiffOk(store, [
      "run",
      "--rm",
      "--cpuset-cpus",
      "0",
      "busybox",
      "grep",
      "Cpus_allowed_list",
      "/proc/self/status",
    ]);
    assert.match(out, /^Cpus_allowed_list:\s+0\n$/);
  });
});

test("--cpus 0.5 sets a CFS quota of half a period, and the kernel throttles a busy loop by it", async () => {
  await withStore(async (store) => {
    const busy = background(store, ["run", "--cpus", "0.5", "busybox", "sh", "-c", "while true; do :; done"]);
    try {
      const id = await runningId(store);
      const dir = `${V1}/cpu/skiff/${id}`;
      const read = (file: string) => Number(Deno.readTextFileSync(`${dir}/${file}`));
      const period = read("cpu.cfs_period_us");
      assert.equal(period, 100_000, "the kernel's default period");
      assert.equal(read("cpu.cfs_quota_us"), period / 2, "half of each period");
      // Measured by the kernel, not by the clock: on a loaded 2-core VM a
      // share of wall time says more about the neighbours than the quota.
      const throttled = () =>
        Number(/^nr_throttled (\d+)$/m.exec(Deno.readTextFileSync(`${dir}/cpu.stat`))![1]);
      const before = throttled();
      await waitFor(() => throttled() > before + 1, "the spinning container to be throttled again");
      const stats = await skiffOk(store, ["stats", "--no-stream"]);
      const [header, row] = stats.trim().split("\n");
      assert.match(header, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+PIDS$/);
      const cpu = Number(/\s(\d+\.\d+)%\s/.exec(row)![1]);
      assert.ok(cpu > 0, `stats shows the spinning container's CPU use: ${cpu}%`);
      assert.match(row, /\s1$/, "one process");
    } finally {
      await busy.stop();
    }
  });
});

test("cgroups go when the container exits, is removed, or its skiff is killed", async () => {
  await withStore(async (store) => {
    await skiffOk(store, ["run", "--name", "kept", "-m", "64m", "busybox", "true"]);
    const kept = (await skiffOk(store, ["ps", "-aq", "--no-trunc"])).trim();
    assert.ok(!cgroupsOf("memory").includes(kept), "gone at exit");

    const victim = background(store, [
      "run",
      "--name",
      "victim",
      "--pids-limit",
      "20",
      "busybox",
      "sleep",
      "60",
    ]);
    try {
      const id = await runningId(store);
      assert.ok(cgroupsOf("pids").includes(id));
      await victim.stop();
      await skiffOk(store, ["ps", "-a"]); // the next command cleans up after the dead skiff
      for (const controller of ["memory", "cpuacct", "pids"]) {
        assert.ok(!cgroupsOf(controller).includes(id), controller);
      }
    } finally {
      await victim.stop();
    }

    const removed = background(store, ["run", "--name", "removed", "busybox", "sleep", "60"]);
    try {
      const rid = await runningId(store);
      await skiffOk(store, ["rm", "-f", "removed"]);
      assert.ok(!cgroupsOf("memory").includes(rid));
    } finally {
      await removed.stop();
    }
  });
});

test("invalid limits are refused before anything is created", async () => {
  await withStore(async (store) => {
    const cases: [string[], RegExp][] = [
      [["-m", "1x"], /^skiff: Invalid --memory "1x"/],
      [["-m", "-5"], /^skiff: Invalid --memory "-5"/],
      [["--cpus", "-1"], /^skiff: Invalid --cpus "-1"/],
      [["--cpuset-cpus", "64"], /^skiff: Invalid --cpuset-cpus "64": this machine has CPUs 0-/],
      [["--pids-limit", "0"], /^skiff: Invalid --pids-limit "0"/],
    ];
    const before = cgroupsOf("memory").length;
    for (const [flags, message] of cases) {
      const r = await skiff(store, ["run", "--rm", ...flags, "busybox", "true"]);
      assert.equal(r.code, 125);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1);
    }
    assert.deepEqual(entries(`${store}/containers`), []);
    assert.equal(cgroupsOf("memory").length, before);
  });
});
