/**
 * End-to-end tests of rootless skiff: as root, each test makes a throwaway
 * user (useradd, with or without subordinate ids), runs skiff as that user
 * from a copy of the code it can read, and removes the user, its store
 * and its processes afterwards.
 */

import assert from "node:assert/strict";
import { chainOf, ROOT_ONLY, waitFor, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] rootless: ${name}`, ...ROOT_ONLY, fn });

/** The files skiff runs from, copied where a throwaway user can read them. */
const SOURCES = ["deno.json", "cli.ts", "mod.ts", "lib", "ffi", "images"];

interface User {
  name: string;
  uid: number;
  home: string;
  /** The user's first subordinate uid, when it has a range. */
  subuid?: number;
  /** Runs skiff as the user; `cwd` is the code's copy. */
  skiff(
    args: string[],
    env?: Record<string, string>,
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  skiffOk(args: string[]): Promise<string>;
  /** Starts skiff as the user, output discarded. */
  spawn(args: string[]): Deno.ChildProcess;
}

const sh = async (...argv: string[]) => {
  const out = await new Deno.Command(argv[0], { args: argv.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder();
  if (!out.success) throw new Error(`${argv.join(" ")}: ${text.decode(out.stderr)}`);
  return text.decode(out.stdout);
};

/** A uid range no user has yet in /etc/subuid or /etc/subgid. */
function freeRange(): number {
  let end = 300000;
  for (const file of ["/etc/subuid", "/etc/subgid"]) {
    for (const line of Deno.readTextFileSync(file).split("\n")) {
      const [, start, count] = line.split(":");
      if (count) end = Math.max(end, Number(start) + Number(count));
    }
  }
  return end;
}

/**
 * Runs `fn` as a fresh user; with `subids`, it has 65536 subordinate uids
 * and gids, else none. Everything the user owns goes afterwards.
 */
async function withUser(fn: (user: User) => Promise<void>, { subids = true } = {}): Promise<void> {
  const name = `skifft${crypto.getRandomValues(new Uint32Array(1))[0] % 1e6}`;
  const code = await Deno.makeTempDir({ prefix: "skiff-rootless-code-" });
  let uid: number | undefined;
  try {
    Deno.chmodSync(code, 0o755);
    await sh("cp", "-r", ...SOURCES.map((s) => new URL(`../${s}`, import.meta.url).pathname), code);
    await sh("useradd", "--create-home", "--shell", "/bin/sh", name);
    const id = Number((await sh("id", "-u", name)).trim());
    uid = id;
    const home = `/home/${name}`;
    const line = Deno.readTextFileSync("/etc/subuid").split("\n").find((l) => l.startsWith(`${name}:`));
    let subuid = line ? Number(line.split(":")[1]) : undefined;
    if (subids && subuid === undefined) {
      subuid = freeRange();
      const range = `${subuid}-${subuid + 65535}`;
      await sh("usermod", "--add-subuids", range, "--add-subgids", range, name);
    }
    if (!subids && line) {
      const [, start, count] = line.split(":");
      const range = `${start}-${Number(start) + Number(count) - 1}`;
      await sh("usermod", "--del-subuids", range, "--del-subgids", range, name);
      subuid = undefined;
    }
    const command = (args: string[], env: Record<string, string>, stdout: "piped" | "null") =>
      new Deno.Command("setpriv", {
        args: [
          "--reuid",
          String(id),
          "--regid",
          String(id),
          "--init-groups",
          "--",
          Deno.execPath(),
          "task",
          "-q",
          "skiff",
          ...args,
        ],
        cwd: code,
        clearEnv: true,
        env: { HOME: home, USER: name, LOGNAME: name, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...env },
        stdin: "null",
        stdout,
        stderr: stdout,
      });
    const skiff = async (args: string[], env: Record<string, string> = {}) => {
      const out = await command(args, env, "piped").output();
      const text = new TextDecoder();
      return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
    };
    const user: User = {
      name,
      uid: id,
      home,
      subuid,
      skiff,
      spawn: (args) => command(args, {}, "null").spawn(),
      async skiffOk(args) {
        const r = await skiff(args);
        assert.equal(r.code, 0, `skiff ${args.join(" ")} as ${name} exited ${r.code}: ${r.stderr}`);
        return r.stdout;
      },
    };
    try {
      await fn(user);
    } finally {
      const ids = (await skiff(["ps", "-aq"])).stdout.trim().split("\n").filter((i) => i !== "");
      if (ids.length > 0) await skiff(["rm", "-f", ...ids]);
      // A supervisor may still be finishing its bookkeeping: wait for it to go.
      await waitFor(async () => (await processesOf(id)).length === 0, `${name}'s processes to exit`)
        .catch(() => {}); // the assertion below names them
      const pids = await processesOf(id);
      for (const pid of pids) Deno.kill(pid, "SIGKILL"); // the test user's: ours
      assert.deepEqual(pids, [], "rm -f left none of the user's processes");
    }
  } finally {
    await new Deno.Command("userdel", { args: ["--remove", name], stderr: "null" }).output();
    await Deno.remove(code, { recursive: true });
    // The runtime dir skiff falls back to without XDG_RUNTIME_DIR (lib/store/store.ts).
    if (uid !== undefined) await Deno.remove(`/tmp/skiff-run-${uid}`, { recursive: true }).catch(() => {});
  }
}

/** The live (not zombie) processes of a uid, only those named `comm` if given. */
async function processesOf(uid: number, comm?: string): Promise<number[]> {
  const out = await new Deno.Command("ps", {
    args: ["-u", String(uid), "-o", "pid=,stat=,comm="],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => l.trim().split(/\s+/))
    .filter(([pid, stat, name]) => pid && !stat.startsWith("Z") && (comm === undefined || name === comm))
    .map(([pid]) => Number(pid));
}

/** An image tar whose files have several owners, made with GNU tar's --owner. */
async function multiOwnerTar(dir: string): Promise<string> {
  const root = `${dir}/tree`;
  for (const [path, owner] of [["etc/www", "33:33"], ["home/app", "1000:1000"], ["nobody", "65534:65534"]]) {
    Deno.mkdirSync(`${root}/${path}`, { recursive: true });
    Deno.writeTextFileSync(`${root}/${path}/file`, `${owner}\n`);
    await sh("chown", "-R", owner, `${root}/${path}`);
  }
  await sh("cp", "/bin/busybox", `${root}/busybox`);
  await sh("tar", "-C", root, "--numeric-owner", "-cf", `${dir}/owners.tar`, ".");
  Deno.chmodSync(dir, 0o755);
  return `${dir}/owners.tar`;
}

test("run: root inside with the whole subordinate range, PID 1, writes owned by the user, su", async () => {
  await withUser(async (user) => {
    const out = await user.skiffOk([
      "run",
      "--name",
      "w",
      "busybox",
      "sh",
      "-c",
      "id -u; echo $$; cat /proc/self/uid_map; echo mine > /mine; echo theirs > /theirs; chown 1234:1234 /theirs",
    ]);
    const [uid, pid, ...map] = out.trim().split("\n");
    assert.equal(uid, "0");
    assert.equal(pid, "1");
    assert.deepEqual(map.map((l) => l.trim().split(/\s+/)), [
      ["0", String(user.uid), "1"],
      ["1", String(user.subuid), "65535"],
    ]);
    const store = `${user.home}/.local/share/skiff`;
    const [id] = [...Deno.readDirSync(`${store}/containers`)].map((e) => e.name);
    const mine = Deno.statSync(`${store}/containers/${id}/upper/mine`);
    assert.equal(mine.uid, user.uid, "root's file inside is the user's on the host");
    assert.equal(Deno.statSync(`${store}/containers/${id}/upper/theirs`).uid, user.subuid! + 1233);
    const su = await user.skiffOk(["run", "--rm", "busybox", "su", "-s", "/bin/sh", "nobody", "-c", "id -u"]);
    assert.equal(su, "65534\n", "su to another user inside");
    const limits = await user.skiff(["run", "--rm", "-m", "10m", "busybox", "true"]);
    assert.equal(limits.code, 125);
    assert.match(
      limits.stderr,
      /^skiff: Resource limits need cgroups, and rootless skiff has none here .+\n$/,
    );
    assert.equal(
      (await user.skiffOk(["ps", "-aq"])).trim().split("\n").length,
      1,
      "the refused run left nothing",
    );
  });
});

test("volumes: the user's directory is writable inside, and what is made there is the user's", async () => {
  await withUser(async (user) => {
    const vol = `${user.home}/data`;
    Deno.mkdirSync(vol);
    Deno.chownSync(vol, user.uid, user.uid);
    await user.skiffOk(["run", "--rm", "-v", `${vol}:/data`, "busybox", "sh", "-c", "echo hi > /data/new"]);
    assert.equal(Deno.readTextFileSync(`${vol}/new`), "hi\n");
    assert.equal(Deno.statSync(`${vol}/new`).uid, user.uid);
    await user.skiffOk(["volume", "create", "named"]);
    const named = await user.skiffOk([
      "run",
      "--rm",
      "-v",
      "named:/n",
      "busybox",
      "sh",
      "-c",
      "echo x > /n/f && cat /n/f",
    ]);
    assert.equal(named, "x\n");
  });
});

test("commit, then run the committed image; detached run, exec and stop; rm leaves nothing", async () => {
  await withUser(async (user) => {
    await user.skiffOk([
      "run",
      "--name",
      "base",
      "busybox",
      "sh",
      "-c",
      "echo kept > /kept; rm /etc/hostname",
    ]);
    await user.skiffOk(["commit", "base", "mine:1"]);
    assert.equal(
      await user.skiffOk([
        "run",
        "--rm",
        "mine:1",
        "sh",
        "-c",
        "cat /kept; test -e /etc/hostname || echo gone",
      ]),
      "kept\ngone\n",
    );
    await user.skiffOk([
      "run",
      "-d",
      "--name",
      "svc",
      "busybox",
      "sh",
      "-c",
      "while true; do sleep 0.1; done",
    ]);
    const ps = await user.skiffOk(["exec", "svc", "ps", "-o", "pid,user,comm"]);
    assert.match(ps, /^\s*1 root\s+sh$/m);
    const caps = await user.skiffOk(["exec", "svc", "grep", "CapBnd", "/proc/self/status"]);
    assert.match(caps, /00000000800405fb/, "the container's bounding set");
    const running = await user.skiff(["commit", "svc", "mine:2"]);
    assert.match(
      running.stderr,
      /^skiff: Cannot pause the container: rootless skiff cannot use the cgroup freezer/,
    );
    await user.skiffOk(["stop", "-t", "1", "svc"]);
    assert.match(await user.skiffOk(["ps", "-a"]), /Exited \(137\) .+svc/);
    await user.skiffOk(["rm", "svc", "base"]);
    await user.skiffOk(["rmi", "mine:1"]);
    assert.deepEqual([...Deno.readDirSync(`${user.home}/.local/share/skiff/containers`)], []);
  });
});

test("killing the user's supervisor takes its container down; the next command records it", async () => {
  await withUser(async (user) => {
    const run = user.spawn(["run", "--name", "k", "busybox", "sleep", "300"]);
    try {
      await waitFor(async () => (await processesOf(user.uid, "sleep")).length > 0);
      // run goes through the launcher: its supervisor is root of the
      // user's own namespace (lib/container/launcher.sh)
      const { supervisor, pid1 } = chainOf(run.pid);
      assert.ok(supervisor !== undefined && pid1 !== undefined, "a supervisor and its container");
      assert.match(Deno.readTextFileSync(`/proc/${supervisor}/uid_map`), /^\s*0\s+\d+\s+1\n\s*1\s/);
      Deno.kill(supervisor, "SIGKILL");
      await waitFor(async () => (await processesOf(user.uid)).length === 0);
      assert.match(await user.skiffOk(["ps", "-a"]), /Exited \(137\) .+ k\n/);
    } finally {
      try {
        run.kill("SIGKILL");
      } catch { /* ended */ }
      await run.status;
    }
  });
});

test("an image with files of several owners keeps them under the full mapping", async () => {
  const dir = await Deno.makeTempDir({ prefix: "skiff-owners-" });
  try {
    const tar = await multiOwnerTar(dir);
    await withUser(async (user) => {
      await user.skiffOk(["import", tar, "owners:1"]);
      const owners = await user.skiffOk([
        "run",
        "--rm",
        "owners:1",
        "/busybox",
        "sh",
        "-c",
        "/busybox stat -c '%n %u:%g' /etc/www/file /home/app/file /nobody/file; /busybox chown 42 /busybox && echo chowned",
      ]);
      assert.equal(
        owners,
        "/etc/www/file 33:33\n/home/app/file 1000:1000\n/nobody/file 65534:65534\nchowned\n",
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("without subordinate ids: one mapping, a warning saying what it limits, and files become root's", async () => {
  const dir = await Deno.makeTempDir({ prefix: "skiff-owners-" });
  try {
    const tar = await multiOwnerTar(dir);
    await withUser(async (user) => {
      const r = await user.skiff(["run", "--rm", "busybox", "sh", "-c", "id -u; cat /proc/self/uid_map"]);
      assert.equal(r.code, 0, r.stderr);
      const [uid, ...map] = r.stdout.trim().split("\n");
      assert.equal(uid, "0");
      assert.deepEqual(map.map((l) => l.trim().split(/\s+/)), [["0", String(user.uid), "1"]]);
      assert.match(
        r.stderr,
        /^skiff: only your own uid and gid are mapped \(to root\) because .+ has no range in \/etc\/subuid .+\n$/,
      );
      await user.skiffOk(["import", tar, "owners:1"]);
      const owners = await user.skiffOk([
        "run",
        "--rm",
        "owners:1",
        "/busybox",
        "stat",
        "-c",
        "%u",
        "/home/app/file",
      ]);
      assert.equal(owners, "0\n");
    }, { subids: false });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("a user's store is their own: under XDG_DATA_HOME, runtime state under XDG_RUNTIME_DIR, root's out of reach", async () => {
  await withStore(async (rootStore) => {
    await withUser(async (user) => {
      const xdg = { XDG_DATA_HOME: `${user.home}/data`, XDG_RUNTIME_DIR: `${user.home}/run` };
      Deno.mkdirSync(xdg.XDG_RUNTIME_DIR, { mode: 0o700 });
      Deno.chownSync(xdg.XDG_RUNTIME_DIR, user.uid, user.uid);
      const r = await user.skiff(["run", "-d", "--name", "d", "busybox", "sleep", "100"], xdg);
      assert.equal(r.code, 0, r.stderr);
      const id = r.stdout.trim();
      assert.ok(Deno.statSync(`${xdg.XDG_DATA_HOME}/skiff/containers/${id}/upper`).isDirectory);
      assert.ok(Deno.statSync(`${xdg.XDG_RUNTIME_DIR}/skiff/containers/${id}/keeper`).isFile);
      {
        const rm = await user.skiff(["rm", "-f", "d"], xdg);
        assert.equal(rm.code, 0, rm.stderr);
      }
      assert.deepEqual([...Deno.readDirSync(`${xdg.XDG_RUNTIME_DIR}/skiff/containers`)], []);
      const denied = await user.skiff(["--root", rootStore, "ps", "-a"]);
      assert.equal(denied.code, 125);
      assert.match(denied.stderr, /^skiff: .*[Pp]ermission denied.*\n$/);
      const stats = await user.skiff(["stats", "--no-stream"]);
      assert.match(
        stats.stderr,
        /^skiff: stats reads containers' cgroups, and rootless containers have none here/,
      );
    });
  });
});

test("pause and unpause refuse in one line, for want of a freezer, and change nothing", async () => {
  await withUser(async (user) => {
    const r = await user.skiff(["run", "-d", "--name", "up", "busybox", "sleep", "100"]);
    assert.equal(r.code, 0, r.stderr);
    try {
      for (const verb of ["pause", "unpause"]) {
        const refused = await user.skiff([verb, "up"]);
        assert.equal(
          refused.stderr,
          `skiff: ${verb} uses the cgroup freezer, and rootless containers have none here (the cgroup v1 hierarchies are root's): run with sudo\n`,
        );
        assert.equal(refused.code, 125);
      }
      const ps = await user.skiff(["ps"]);
      assert.match(ps.stdout, /Up [^(\n]+up\n/, "still running, not paused");
    } finally {
      await user.skiff(["rm", "-f", "up"]);
    }
  });
});

test("build works rootless: COPY with --chown inside the user's mapping, RUN, and the cache", async () => {
  await withUser(async (user) => {
    const ctx = await Deno.makeTempDir({ prefix: "skiff-rootless-build-" });
    try {
      Deno.chmodSync(ctx, 0o755);
      Deno.writeTextFileSync(`${ctx}/f`, "f\n", { mode: 0o644 });
      Deno.writeTextFileSync(
        `${ctx}/Dockerfile`,
        'FROM busybox\nCOPY f /f\nCOPY --chown=1000:1000 f /owned\nRUN stat -c "%u:%g %n" /f /owned > /ids\nCMD ["cat", "/ids"]\n',
        { mode: 0o644 },
      );
      const built = await user.skiff(["build", "--network", "none", "-t", "rl", ctx]);
      assert.equal(built.code, 0, built.stderr);
      assert.equal(await user.skiffOk(["run", "--rm", "rl"]), "0:0 /f\n1000:1000 /owned\n");
      const again = await user.skiff(["build", "--network", "none", "-t", "rl", ctx]);
      assert.equal(again.stdout.match(/--> Using cache/g)?.length, 4, again.stdout);
    } finally {
      await Deno.remove(ctx, { recursive: true });
    }
  });
});

test("the security options within a user namespace: --user, exec -u and --privileged, limits, sysctls, devices; what needs a cgroup refused", async () => {
  await withUser(async (user) => {
    const probe = "id; grep -E '^Cap(Eff|Amb)' /proc/self/status";
    assert.equal(
      await user.skiffOk(["run", "--rm", "-u", "nobody", "--group-add", "5", "busybox", "sh", "-c", probe]),
      "uid=65534(nobody) gid=65534(nogroup) groups=5(tty),65534(nogroup)\nCapEff:\t0000000000000000\nCapAmb:\t0000000000000000\n",
    );
    assert.equal(
      await user.skiffOk([
        "run",
        "--rm",
        "-u",
        "1000:1000",
        "--cap-add",
        "NET_ADMIN",
        "busybox",
        "sh",
        "-c",
        probe,
      ]),
      "uid=1000 gid=1000 groups=1000\nCapEff:\t0000000000001000\nCapAmb:\t0000000000001000\n",
      "a mapped uid; --cap-add as its ambient set",
    );
    const options = [
      "--ulimit",
      "nofile=512:1024",
      "--sysctl",
      "net.ipv4.tcp_fin_timeout=33",
      "--sysctl",
      "kernel.shmmax=123456",
      "--oom-score-adj",
      "500",
      "--device",
      "/dev/null:/dev/mynull",
    ];
    const script = [
      `grep '^Max open files' /proc/self/limits | tr -s ' '`,
      "cat /proc/sys/net/ipv4/tcp_fin_timeout /proc/sys/kernel/shmmax /proc/self/oom_score_adj",
      "echo hi > /dev/mynull && echo null ok",
    ].join("; ");
    const expected = "Max open files 512 1024 files \n33\n123456\n500\nnull ok\n";
    assert.equal(await user.skiffOk(["run", "--rm", ...options, "busybox", "sh", "-c", script]), expected);

    await user.skiffOk(["run", "-d", "--name", "u", "-u", "nobody", ...options, "busybox", "sleep", "300"]);
    assert.equal(await user.skiffOk(["exec", "u", "id", "-u"]), "65534\n", "exec as the container's user");
    assert.equal(await user.skiffOk(["exec", "-u", "0", "u", "id", "-u"]), "0\n");
    const privileged = await user.skiffOk([
      "exec",
      "-u",
      "0",
      "--privileged",
      "u",
      "grep",
      "CapEff",
      "/proc/self/status",
    ]);
    const eff = BigInt(`0x${privileged.trim().split("\t")[1]}`);
    assert.equal((eff >> 21n) & 1n, 1n, `CAP_SYS_ADMIN of the user namespace: ${privileged}`);
    assert.equal(await user.skiffOk(["exec", "u", "sh", "-c", script]), expected, "exec has the limits too");
    await user.skiffOk(["rm", "-f", "u"]);

    const refused: [string[], RegExp][] = [
      [
        ["--device", "/dev/null:/dev/x:r"],
        /^skiff: Device permissions need a device cgroup, and rootless skiff has none/,
      ],
      [["--oom-score-adj", "-5"], /^skiff: Cannot set oom_score_adj: .*EACCES/],
      [["--sysctl", "kernel.hostname=x"], /^skiff: Invalid --sysctl "kernel.hostname=x"/],
      [["-u", "100000"], /^skiff: Cannot become user "100000": setresuid "100000": EINVAL/],
    ];
    for (const [flags, message] of refused) {
      const r = await user.skiff(["run", "--rm", ...flags, "busybox", "true"]);
      assert.equal(r.code, 125, `${flags.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    assert.equal(await user.skiffOk(["ps", "-aq"]), "", "nothing left");
  });
});
