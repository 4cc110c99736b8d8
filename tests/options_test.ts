/**
 * End-to-end tests of `--ulimit`, `--sysctl`, `--oom-score-adj` and
 * `--device`: what the container sees (/proc/self/limits, its /proc/sys,
 * its /dev), the host's sysctls untouched, a device opened only as its
 * permissions say, the options kept for `start` and `exec`, shown by
 * `inspect`, and the refusals, which leave nothing behind.
 */

import assert from "node:assert/strict";
import { ROOT_ONLY, skiff, skiffOk, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

/** Prints what the options change, from inside. */
const PROBE = [
  `grep -E '^Max (open files|core file size)' /proc/self/limits | tr -s ' '`,
  "cat /proc/sys/net/ipv4/tcp_fin_timeout /proc/sys/kernel/shmmax /proc/self/oom_score_adj",
].join("; ");

const OPTIONS = [
  "--ulimit",
  "nofile=1024:2048",
  "--ulimit",
  "core=-1",
  "--sysctl",
  "net.ipv4.tcp_fin_timeout=33",
  "--sysctl",
  "kernel.shmmax=123456",
  "--oom-score-adj",
  "500",
];

const EXPECTED = [
  "Max core file size unlimited unlimited bytes ",
  "Max open files 1024 2048 files ",
  "33",
  "123456",
  "500",
  "",
].join("\n");

test("--ulimit, --sysctl and --oom-score-adj reach the command, not the host; kept for start and exec; inspect shows them", async () => {
  await withStore(async (store) => {
    const host = () => Deno.readTextFileSync("/proc/sys/net/ipv4/tcp_fin_timeout");
    const before = host();
    assert.notEqual(before.trim(), "33", "the host's value differs from the test's");
    assert.equal(
      await skiffOk(store, ["run", "--name", "o", ...OPTIONS, "busybox", "sh", "-c", PROBE]),
      EXPECTED,
    );
    assert.equal(host(), before, "the host's sysctl is untouched");
    assert.equal(await skiffOk(store, ["start", "-a", "o"]), EXPECTED, "start keeps them");
    const [inspected] = JSON.parse(await skiffOk(store, ["inspect", "o"]));
    assert.deepEqual(inspected.HostConfig.Ulimits, [
      { Name: "nofile", Soft: 1024, Hard: 2048 },
      { Name: "core", Soft: -1, Hard: -1 },
    ]);
    assert.deepEqual(inspected.HostConfig.Sysctls, {
      "net.ipv4.tcp_fin_timeout": "33",
      "kernel.shmmax": "123456",
    });
    assert.equal(inspected.HostConfig.OomScoreAdj, 500);
    await skiffOk(store, ["rm", "o"]);

    await skiffOk(store, ["run", "-d", "--name", "d", ...OPTIONS, "busybox", "sleep", "1000"]);
    assert.equal(await skiffOk(store, ["exec", "d", "sh", "-c", PROBE]), EXPECTED, "exec has them too");
    await skiffOk(store, ["rm", "-f", "d"]);
  });
});

test("--device makes the node in the container's /dev, opened only as its permissions allow", async () => {
  await withStore(async (store) => {
    // loop0's node (b 7:0), which the host's root opens and a container may not without --device
    const script = [
      "ls -ln /dev/disk/xda | cut -c1-10",
      "head -c 0 /dev/disk/xda && echo read ok",
      "(echo x > /dev/disk/xda) 2>/dev/null || echo write refused",
      "echo hi > /dev/mynull && echo null ok",
    ].join("; ");
    const out = await skiffOk(store, [
      "run",
      "--name",
      "dev",
      "--device",
      "/dev/loop0:/dev/disk/xda:r",
      "--device",
      "/dev/null:/dev/mynull",
      "busybox",
      "sh",
      "-c",
      script,
    ]);
    assert.equal(out, "brw-------\nread ok\nwrite refused\nnull ok\n");
    assert.equal(await skiffOk(store, ["start", "-a", "dev"]), out, "start keeps them");
    const [inspected] = JSON.parse(await skiffOk(store, ["inspect", "dev"]));
    assert.deepEqual(inspected.HostConfig.Devices, [
      { PathOnHost: "/dev/loop0", PathInContainer: "/dev/disk/xda", CgroupPermissions: "r" },
      { PathOnHost: "/dev/null", PathInContainer: "/dev/mynull", CgroupPermissions: "rwm" },
    ]);
    // without --device, a node of the same numbers made in the container is refused by the cgroup
    const made = await skiffOk(store, [
      "run",
      "--rm",
      "--cap-add",
      "MKNOD",
      "busybox",
      "sh",
      "-c",
      "mknod /dev/xda b 7 0 && { head -c 0 /dev/xda 2>/dev/null && echo opened || echo refused; }",
    ]);
    assert.equal(made, "refused\n");
  });
});

test("bad --ulimit, --sysctl, --oom-score-adj and --device values: one line, 125, no container", async () => {
  await withStore(async (store) => {
    const cases: [string[], RegExp][] = [
      [["--ulimit", "files=1"], /^skiff: Invalid --ulimit "files=1": use NAME=SOFT\[:HARD\]/],
      [["--ulimit", "nofile=5:4"], /^skiff: Invalid --ulimit "nofile=5:4": the soft limit must not exceed/],
      [
        ["--sysctl", "kernel.hostname=x"],
        /^skiff: Invalid --sysctl "kernel.hostname=x": kernel.hostname is not namespaced/,
      ],
      [["--sysctl", "vm.swappiness=1"], /^skiff: Invalid --sysctl "vm.swappiness=1"/],
      [["--oom-score-adj", "1001"], /^skiff: Invalid --oom-score-adj "1001"/],
      [["--device", "/dev/nope"], /^skiff: Cannot add device "\/dev\/nope": no such file or directory/],
      [["--device", "/etc/passwd"], /^skiff: Cannot add device "\/etc\/passwd": it is not a device node/],
      [["--device", "/dev/null:/etc/null"], /^skiff: Invalid --device "\/dev\/null:\/etc\/null"/],
    ];
    for (const [flags, message] of cases) {
      const r = await skiff(store, ["run", "--name", "bad", ...flags, "busybox", "true"]);
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.split("\n").length, 2, `one line: ${r.stderr}`);
      assert.equal(await skiffOk(store, ["ps", "-aq"]), "", `nothing is left after ${flags.join(" ")}`);
    }
  });
});
