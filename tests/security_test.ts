/**
 * End-to-end tests of the container's security settings: the default
 * seccomp filter and capability set seen from inside busybox containers
 * (/proc/self/status, and a static C probe that makes the calls raw),
 * `--security-opt seccomp=unconfined|PROFILE.json`, `no-new-privileges`,
 * `--cap-add`, `--cap-drop`, `--privileged`, kept for `start` (which
 * starts from outside, through the second Deno program as init), and side
 * by side with a podman container (runc).
 */

import assert from "node:assert/strict";
import { ROOT_ONLY, skiff, skiffOk, withStore } from "./helpers.ts";
import { sh } from "./_oci.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

const PROBE_SOURCE = new URL("./probes/seccomp_probe.c", import.meta.url).pathname;

/** A temporary host directory holding the probe, built static by gcc; removed afterwards. */
async function withProbe(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-seccomp-" });
  try {
    await sh(`gcc -static -O1 -o "$1/probe" "$2"`, dir, PROBE_SOURCE);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The probe's answers: call name to "ok" or the errno's name. */
function answers(out: string): Record<string, string> {
  return Object.fromEntries(out.trim().split("\n").map((l) => l.split("=") as [string, string]));
}

/** Fields of /proc/self/status, printed by `grep -E '^(Cap|Seccomp|NoNewPrivs)'`. */
function status(out: string): Record<string, string> {
  return Object.fromEntries(
    out.trim().split("\n").filter((l) => l.includes(":\t")).map((l) => l.split(":\t") as [string, string]),
  );
}

const STATUS = "grep -E '^(Cap|Seccomp|NoNewPrivs)' /proc/self/status";

/** Runs `script` in a busybox container (`run --rm FLAGS busybox sh -c SCRIPT`); its output. */
function inBusybox(store: string, flags: string[], script: string): Promise<string> {
  return skiffOk(store, ["run", "--rm", ...flags, "busybox", "sh", "-c", script]);
}

/** The probe's answers in a container's output. */
const probed = (out: string) => answers(out.split("\n").filter((l) => /^[a-z0-9_]+=/.test(l)).join("\n"));
/** podman's default bounding set, which skiff's default is: 0x800405fb. */
const DEFAULT_CAPBND = "00000000800405fb";

/** Calls docker's default profile refuses with EPERM that the kernel alone would let root make here. */
const BLOCKED = [
  "unshare_user",
  "clone_newuser",
  "keyctl",
  "add_key",
  "personality_addr_no_randomize",
  "socket_vsock",
];
/** Ordinary work that must go on under the filter. */
const ALLOWED = [
  "fork",
  "exec",
  "ptrace_child",
  "personality_query",
  "socket_inet",
  "socketpair_unix",
  "mkdir",
  "chown",
];

test("a default container has seccomp filter 2 and podman's capabilities: namespaces, keys, mounts refused, ordinary work done", async () => {
  await withStore(async (store) => {
    await withProbe(async (dir) => {
      const script = `${STATUS}; /probe/probe; unshare -U true 2>&1; echo unshare=$?`;
      const out = await inBusybox(store, ["-v", `${dir}:/probe:ro`], script);
      const s = status(out);
      assert.equal(s.Seccomp, "2", out);
      assert.equal(s.Seccomp_filters, "1", "one filter: skiff's, none of its own before");
      assert.equal(s.NoNewPrivs, "0", "as docker: no_new_privs only when asked");
      assert.equal(s.CapBnd, DEFAULT_CAPBND);
      assert.equal(s.CapEff, DEFAULT_CAPBND);
      const got = probed(out);
      for (const call of [...BLOCKED, "mount", "bpf", "kexec_load", "open_by_handle_at", "perf_event_open"]) {
        assert.equal(got[call], "EPERM", `${call}: ${out}`);
      }
      assert.equal(
        got.clone3,
        "ENOSYS",
        "clone3's flags are out of a filter's sight: ENOSYS, for libc to use clone",
      );
      for (const call of ALLOWED) assert.equal(got[call], "ok", `${call}: ${out}`);
      assert.notEqual(got.i386_getpid, "ok", "no i386 ABI");
      assert.notEqual(got.x32_getpid, "ok", "no x32 ABI");
      assert.match(out, /unshare: unshare\(0x10000000\): Operation not permitted\nunshare=1/);
    });
  });
});

test("seccomp=unconfined installs no filter: the same probes reach the kernel", async () => {
  await withStore(async (store) => {
    await withProbe(async (dir) => {
      const flags = ["--security-opt", "seccomp=unconfined", "-v", `${dir}:/probe:ro`];
      const out = await inBusybox(store, flags, `${STATUS}; /probe/probe`);
      assert.equal(status(out).Seccomp, "0", out);
      const got = probed(out);
      // what the filter refused, the kernel itself lets root do: the refusals above were the filter's
      for (const call of ["unshare_user", "clone_newuser", "keyctl", "clone3"]) {
        assert.equal(got[call], "ok", call);
      }
      assert.equal(got.mount, "EPERM", "still no CAP_SYS_ADMIN");
    });
  });
});

test("a profile of the user's that denies mkdir makes mkdir fail with EPERM, and only mkdir", async () => {
  await withStore(async (store) => {
    const dir = await Deno.makeTempDir({ prefix: "skiff-seccomp-" });
    try {
      const profile = `${dir}/no-mkdir.json`;
      await Deno.writeTextFile(
        profile,
        JSON.stringify({
          defaultAction: "SCMP_ACT_ALLOW",
          syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" }],
        }),
      );
      const script = `${STATUS}; mkdir /made 2>&1; echo mkdir=$?; touch /file && echo touch=ok`;
      const out = await inBusybox(store, ["--security-opt", `seccomp=${profile}`], script);
      assert.equal(status(out).Seccomp, "2");
      assert.match(out, /mkdir: can't create directory '\/made': Operation not permitted\nmkdir=1/);
      assert.match(out, /touch=ok/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

test("no-new-privileges, --cap-drop ALL and --cap-add are kept for start, which installs the same filter from outside", async () => {
  await withStore(async (store) => {
    const first = await skiffOk(store, [
      "run",
      "--name",
      "kept",
      "--security-opt",
      "no-new-privileges",
      "--cap-drop",
      "ALL",
      "--cap-add",
      "kill",
      "busybox",
      "sh",
      "-c",
      STATUS,
    ]);
    const [record] = JSON.parse(await skiffOk(store, ["inspect", "kept"]));
    assert.deepEqual(record.security, { noNewPrivileges: true, capAdd: ["CAP_KILL"], capDrop: ["ALL"] });
    for (
      const out of [first, await skiffOk(store, ["start", "-a", "kept"])]
    ) {
      const s = status(out);
      assert.equal(s.NoNewPrivs, "1", out);
      assert.equal(s.CapEff, "0000000000000020", "CAP_KILL (5) alone");
      assert.equal(s.Seccomp, "2");
      assert.equal(s.Seccomp_filters, "1");
    }
  });
});

test("exec runs its command with the container's filter, capabilities and no_new_privs", async () => {
  await withStore(async (store) => {
    const flags = ["--security-opt", "no-new-privileges", "--cap-drop", "ALL", "--cap-add", "CAP_KILL"];
    await skiffOk(store, ["run", "-d", "--name", "web", ...flags, "busybox", "sleep", "600"]);
    const out = await skiffOk(store, [
      "exec",
      "web",
      "sh",
      "-c",
      `${STATUS}; unshare -U true 2>&1; echo unshare=$?`,
    ]);
    const s = status(out);
    assert.equal(s.Seccomp, "2", out);
    assert.equal(s.Seccomp_filters, "1");
    assert.equal(s.NoNewPrivs, "1");
    assert.equal(s.CapBnd, "0000000000000020", "CAP_KILL alone, as the container");
    assert.match(out, /Operation not permitted\nunshare=1/);
    await skiffOk(store, [
      "run",
      "-d",
      "--name",
      "open",
      "--security-opt",
      "seccomp=unconfined",
      "busybox",
      "sleep",
      "600",
    ]);
    const open = status(await skiffOk(store, ["exec", "open", "sh", "-c", STATUS]));
    assert.equal(open.Seccomp, "0");
    assert.equal(open.CapBnd, DEFAULT_CAPBND);
  });
});

test("exec --privileged: every capability, the container's filter still, none for a non-root user; as podman's", async () => {
  await withStore(async (store) => {
    await skiffOk(store, ["run", "-d", "--name", "web", "busybox", "sleep", "600"]);
    const dir = await Deno.makeTempDir({ prefix: "skiff-exec-priv-" });
    const podman =
      `d="$1"; shift; podman --root "$d/root" --runroot "$d/run" --storage-driver vfs --runtime /usr/sbin/runc --cgroup-manager cgroupfs`;
    const cases = [[], ["--privileged"], ["--privileged", "-u", "nobody"]];
    try {
      await skiffOk(store, ["save", "--format", "oci", "-o", `${dir}/busybox.tar`, "busybox"]);
      await sh(`${podman} load -q -i "$d/busybox.tar" >/dev/null`, dir);
      await sh(
        `${podman} run -d --name web --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 busybox sleep 600 >/dev/null`,
        dir,
      );
      for (const flags of cases) {
        const ours = status(await skiffOk(store, ["exec", ...flags, "web", "sh", "-c", STATUS]));
        const theirs = status(await sh(`${podman} exec "$@"`, dir, ...flags, "web", "sh", "-c", STATUS));
        for (const key of ["CapBnd", "CapEff", "CapPrm", "Seccomp", "NoNewPrivs"]) {
          assert.equal(ours[key], theirs[key], `${flags.join(" ")}: ${key}`);
        }
        if (flags[0] === "--privileged") {
          assert.equal(ours.Seccomp, "2", "the container's filter stays");
          assert.notEqual(ours.CapBnd, DEFAULT_CAPBND);
        }
      }
    } finally {
      await sh(`${podman} rm -f -t 0 web >/dev/null 2>&1 || true`, dir);
      await sh(`${podman} rmi -af >/dev/null 2>&1 || true`, dir);
      await Deno.remove(dir, { recursive: true });
    }
  });
});

test("--cap-add SYS_ADMIN opens the mount group of the profile; --privileged has every capability and no filter", async () => {
  await withStore(async (store) => {
    const admin = await inBusybox(
      store,
      ["--cap-add", "sys_admin"],
      `${STATUS}; mount -t tmpfs none /tmp && echo mounted`,
    );
    assert.equal(status(admin).Seccomp, "2");
    assert.match(admin, /mounted/);
    const host = status(Deno.readTextFileSync("/proc/self/status"));
    const privileged = await inBusybox(
      store,
      ["--privileged"],
      `${STATUS}; grep -E ' /sys ' /proc/self/mountinfo; grep -c ' /proc/kcore ' /proc/self/mountinfo; exit 0`,
    );
    const s = status(privileged);
    assert.equal(s.Seccomp, "0");
    assert.equal(s.CapEff, host.CapBnd, "every capability skiff itself may have");
    assert.match(privileged, / \/sys rw,/, "sysfs writable");
    assert.match(privileged, /\n0\n$/, "nothing masked");
  });
});

test("the device cgroup refuses a block device the container made, and --privileged lifts it, as docker", async () => {
  await withStore(async (store) => {
    // loop0 (b 7:0) opens for root on this host; with CAP_MKNOD the container can make its node in /dev
    const script = "mknod /dev/loopx b 7 0 && head -c 1 /dev/loopx >/dev/null 2>&1; echo open=$?; " +
      "echo > /dev/null && head -c 1 /dev/urandom >/dev/null && echo allowed-ok";
    const limited = await inBusybox(store, ["--cap-add", "MKNOD"], script);
    assert.match(limited, /open=1/, "EPERM from the device cgroup");
    assert.match(limited, /allowed-ok/, "docker's list still opens");
    assert.match(await inBusybox(store, ["--privileged"], script), /open=0/);
  });
});

/** This host's unified hierarchy (a hybrid host: v1 controllers beside it), where the device program goes. */
const UNIFIED = "/sys/fs/cgroup/unified";
const hybrid = (() => {
  try {
    return Deno.statSync(`${UNIFIED}/cgroup.controllers`).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "[root] cgroup v2: the device program refuses a node the list lacks even once v1's rule allows it; --device opens it",
  ignore: Deno.uid() !== 0 || !hybrid,
  fn: async () => {
    await withStore(async (store) => {
      const id = (await skiffOk(store, [
        "run",
        "-d",
        "--cap-add",
        "MKNOD",
        "busybox",
        "sh",
        "-c",
        "mknod /dev/loopx b 7 0 && sleep 600",
      ])).trim();
      const open = `head -c 0 /dev/loopx 2>&1 && echo opened || true`;
      const cgroup = await skiffOk(store, [
        "exec",
        id,
        "sh",
        "-c",
        "grep '^0::' /proc/1/cgroup /proc/self/cgroup",
      ]);
      assert.equal(
        cgroup,
        `/proc/1/cgroup:0::/skiff/${id}\n/proc/self/cgroup:0::/skiff/${id}\n`,
        "the command and exec in the unified hierarchy",
      );
      assert.match(await skiffOk(store, ["exec", id, "sh", "-c", open]), /Operation not permitted/);
      // Open v1's devices cgroup for loop0: only the program stands in the way now.
      await Deno.writeTextFile(`/sys/fs/cgroup/devices/skiff/${id}/devices.allow`, "b 7:0 rwm");
      assert.match(await skiffOk(store, ["exec", id, "sh", "-c", open]), /Operation not permitted/);
      await skiffOk(store, ["rm", "-f", id]);
      assert.throws(
        () => Deno.statSync(`${UNIFIED}/skiff/${id}`),
        Deno.errors.NotFound,
        "its v2 cgroup is gone",
      );
      const allowed = await inBusybox(store, ["--device", "/dev/loop0:/dev/loopx:r"], open);
      assert.equal(allowed, "opened\n", "both the program and v1 allow a --device");
    });
  },
});

test("a bad security option is a one-line error naming it, exit 125, and no container", async () => {
  await withStore(async (store) => {
    const dir = await Deno.makeTempDir({ prefix: "skiff-seccomp-" });
    try {
      await Deno.writeTextFile(
        `${dir}/typo.json`,
        '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdri"], "action": "SCMP_ACT_ERRNO"}]}',
      );
      await Deno.writeTextFile(`${dir}/action.json`, '{"defaultAction": "SCMP_ACT_DENY"}');
      await Deno.writeTextFile(`${dir}/broken.json`, '{"defaultAction": ');
      const cases: [string[], RegExp][] = [
        [["--security-opt", `seccomp=${dir}/typo.json`], /unknown syscall "mkdri" in syscalls\[0\]/],
        [["--security-opt", `seccomp=${dir}/action.json`], /unknown action "SCMP_ACT_DENY" in defaultAction/],
        [["--security-opt", `seccomp=${dir}/broken.json`], /broken\.json": not JSON/],
        [["--security-opt", `seccomp=${dir}/missing.json`], /Cannot read seccomp profile ".*missing\.json"/],
        [["--security-opt", "apparmor=unconfined"], /Unknown security option "apparmor=unconfined"/],
        [["--cap-add", "NET_FOO"], /Unknown capability "NET_FOO" for --cap-add/],
        [["--cap-drop", "cap_nope"], /Unknown capability "cap_nope" for --cap-drop/],
      ];
      for (const [flags, message] of cases) {
        const r = await skiff(store, ["run", "--rm", "--name", "bad", ...flags, "busybox", "true"]);
        assert.equal(r.code, 125, `${flags.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, message);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert.equal((await skiffOk(store, ["ps", "-aq"])).trim(), "", `${flags.join(" ")}: no container`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

test("side by side with podman (runc): the same bounding set, filter mode and answers, but where podman's profile differs from docker's", async () => {
  await withStore(async (store) => {
    await withProbe(async (dir) => {
      const run = ["--rm", "-v", `${dir}:/probe:ro`, "busybox", "sh", "-c", `${STATUS}; /probe/probe`];
      const ours = await skiffOk(store, ["run", ...run]);
      await skiffOk(store, ["save", "--format", "oci", "-o", `${dir}/busybox.tar`, "busybox"]);
      // storage of its own under the test's directory ($1), the rest of the arguments podman's
      const podman =
        `d="$1"; shift; podman --root "$d/root" --runroot "$d/run" --storage-driver vfs --runtime /usr/sbin/runc --cgroup-manager cgroupfs`;
      try {
        await sh(`${podman} load -q -i "$d/busybox.tar" >/dev/null`, dir);
        const theirs = await sh(
          `${podman} run --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 "$@"`,
          dir,
          ...run,
        );
        for (const key of ["CapBnd", "CapEff", "Seccomp", "Seccomp_filters", "NoNewPrivs"]) {
          assert.equal(status(ours)[key], status(theirs)[key], `${key}:\n${ours}\n${theirs}`);
        }
        const a = probed(ours);
        const b = probed(theirs);
        for (
          const call of [...ALLOWED, "mount", "bpf", "kexec_load", "open_by_handle_at", "perf_event_open"]
        ) {
          assert.equal(a[call], b[call], call);
        }
        // podman's profile (containers-common) lets unshare, clone3 and keyctl through; docker's does not,
        // and skiff follows docker's (docs/security.md)
        for (const call of ["unshare_user", "clone_newuser", "keyctl"]) {
          assert.equal(b[call], "ok", `podman: ${call}`);
          assert.equal(a[call], "EPERM", `skiff: ${call}`);
        }
      } finally {
        await sh(`${podman} rmi -af >/dev/null 2>&1 || true`, dir);
      }
    });
  });
});

test("--read-only gives EROFS on the root, --tmpfs a writable tmpfs of docker's flags; both kept for start", async () => {
  await withStore(async (store) => {
    try {
      const script = [
        "touch /x 2>&1",
        "touch /tmp/y && echo tmp writable",
        "touch /dev/shm/z && echo shm writable",
        "grep -E ' (/|/tmp|/run) ' /proc/mounts | cut -d' ' -f2,4 | cut -d, -f1-5",
      ].join("; ");
      const args = ["--read-only", "--tmpfs", "/tmp", "--tmpfs", "/run:size=1m,mode=700"];
      const out = await skiffOk(store, ["run", "--name", "ro", ...args, "busybox", "sh", "-c", script]);
      const expected = [
        "touch: /x: Read-only file system",
        "tmp writable",
        "shm writable",
        "/ ro,nodev,relatime,lowerdir=/",
        "/tmp rw,nosuid,nodev,noexec,relatime",
        "/run rw,nosuid,nodev,noexec,relatime",
      ];
      const lines = out.trim().split("\n").map((l) => l.replace(/lowerdir=\/.*/, "lowerdir=/"));
      assert.deepEqual(lines, expected);
      const again = await skiff(store, ["start", "-a", "ro"]);
      assert.deepEqual(
        again.stdout.trim().split("\n").map((l) => l.replace(/lowerdir=\/.*/, "lowerdir=/")),
        expected,
      );
      const [record] = JSON.parse(await skiffOk(store, ["inspect", "ro"]));
      assert.equal(record.readOnly, true);
      assert.deepEqual(record.tmpfs, ["/tmp", "/run:size=1m,mode=700"]);
    } finally {
      await skiff(store, ["rm", "-f", "ro"]);
    }
    for (
      const [flag, message] of [["tmp", /the path must be absolute/], ["/t:bogus", /unknown option "bogus"/]]
    ) {
      const r = await skiff(store, ["run", "--rm", "--tmpfs", flag as string, "busybox", "true"]);
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, new RegExp(`^skiff: Invalid --tmpfs "${flag}": ${(message as RegExp).source}`));
      assert.equal((await skiffOk(store, ["ps", "-aq"])).trim(), "", "no container");
    }
  });
});
