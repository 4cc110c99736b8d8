import assert from "node:assert/strict";
import { parseOomScoreAdj, parseSysctls, sysctlPath } from "./sysctls.ts";

Deno.test("--sysctl takes the namespaced keys docker takes, either separator, and their /proc/sys files", () => {
  assert.deepEqual(
    parseSysctls([
      "net.ipv4.ip_forward=1",
      "net/core/somaxconn=1024",
      "kernel.shmmax=65536",
      "kernel.sem=250 32000 32 128",
      "fs.mqueue.msg_max=20",
    ]),
    {
      "net.ipv4.ip_forward": "1",
      "net.core.somaxconn": "1024",
      "kernel.shmmax": "65536",
      "kernel.sem": "250 32000 32 128",
      "fs.mqueue.msg_max": "20",
    },
  );
  assert.equal(sysctlPath("net.ipv4.ip_forward"), "/proc/sys/net/ipv4/ip_forward");
});

Deno.test("--sysctl refuses the host's own sysctls and malformed keys, naming the value", () => {
  for (
    const key of ["kernel.hostname", "kernel.domainname", "vm.swappiness", "fs.file-max", "kernel.shmfoo"]
  ) {
    assert.throws(
      () => parseSysctls([`${key}=1`]),
      new RegExp(`Invalid --sysctl "${key}=1": ${key} is not namespaced`),
    );
  }
  for (const bad of ["net.ipv4.ip_forward", "net..x=1", "../../etc=1", "net.ipv4.x=a\nb", "=1"]) {
    assert.throws(() => parseSysctls([bad]), /Invalid --sysctl/, JSON.stringify(bad));
  }
});

Deno.test("--oom-score-adj: a whole number from -1000 to 1000", () => {
  assert.equal(parseOomScoreAdj("500"), 500);
  assert.equal(parseOomScoreAdj("-1000"), -1000);
  for (const bad of ["1001", "-1001", "1.5", "x", ""]) {
    assert.throws(() => parseOomScoreAdj(bad), /Invalid --oom-score-adj/, bad);
  }
});
