/**
 * End-to-end tests of `run` as root: the container's command prints what
 * it sees from inside, and the tests assert on that and on the host.
 */

import assert from "node:assert/strict";
import { entries, ROOT_ONLY, skiff, skiffArgv, skiffOk, skiffWithStrayFd, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

test("the command is PID 1 and the hostname is the short container id", async () => {
  await withStore(async (store) => {
    const out = await skiffOk(store, ["run", "busybox", "sh", "-c", "echo pid=$$; hostname; echo $HOSTNAME"]);
    const [pid, hostname, envHostname] = out.trim().split("\n");
    assert.equal(pid, "pid=1");
    const id = (await skiffOk(store, ["ps", "-aq", "--no-trunc"])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(hostname, id.slice(0, 12));
    assert.equal(envHostname, hostname);
    assert.equal(
      (await skiffOk(store, ["run", "--rm", "--hostname", "web", "busybox", "hostname"])).trim(),
      "web",
    );
  });
});

test("the root is an overlay of the image's layer and the container's own upper dir", async () => {
  await withStore(async (store) => {
    const out = await skiffOk(store, ["run", "busybox", "cat", "/proc/self/mountinfo"]);
    const id = (await skiffOk(store, ["ps", "-aq", "--no-trunc"])).trim();
    const [layer] = entries(`${store}/layers`);
    const lines = out.trim().split("\n").map((l) => l.split(" "));
    const at = (mountPoint: string) => lines.find((f) => f[4] === mountPoint);
    const root = at("/")!;
    assert.equal(root[root.indexOf("-") + 1], "overlay");
    const options = root.at(-1)!;
    assert.ok(options.includes(`lowerdir=${store}/layers/${layer}`), options);
    assert.ok(options.includes(`upperdir=${store}/containers/${id}/upper`), options);
    assert.equal(at("/proc")![at("/proc")!.indexOf("-") + 1], "proc");
    assert.match(at("/sys")![5], /^ro,/, "/sys is read-only");
    assert.equal(at("/dev")![at("/dev")!.indexOf("-") + 1], "tmpfs");
    assert.equal(at("/dev/pts")![at("/dev/pts")!.indexOf("-") + 1], "devpts");
    assert.ok(at("/dev/shm"));
    assert.match(at("/proc/sys")![5], /^ro,/, "/proc/sys is read-only");
  });
});

test("the host's files, processes and mounts are not visible", async () => {
  await withStore(async (store) => {
    const marker = await Deno.makeTempFile({ prefix: "skiff-host-marker-" });
    try {
      const out = await skiffOk(store, [
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        `test -e ${marker} && echo marker-visible; echo $(ps -o pid,comm); wc -l < /proc/self/mountinfo; ls /`,
      ]);
      const [processes, mounts, ...root] = out.trim().split("\n");
      assert.ok(!out.includes("marker-visible"));
      assert.match(processes, /^PID COMMAND 1 sh \d+ ps$/, "only sh and ps, no host processes");
      assert.ok(Number(mounts) < 40, `${mounts} mounts inside`);
      assert.deepEqual(root, [
        "bin",
        "dev",
        "etc",
        "home",
        "linuxrc",
        "proc",
        "root",
        "sbin",
        "sys",
        "tmp",
        "usr",
        "var",
      ]);
    } finally {
      await Deno.remove(marker);
    }
  });
});

test("the network namespace has only a loopback interface, and it is up", async () => {
  await withStore(async (store) => {
    const out = await skiffOk(store, [
      "run",
      "--rm",
      "busybox",
      "sh",
      "-c",
      "ls /sys/class/net; cat /sys/class/net/lo/flags",
    ]);
    // IFF_UP (0x1) | IFF_LOOPBACK (0x8)
    assert.deepEqual(out.trim().split("\n"), ["lo", "0x9"]);
  });
});

test("/dev has the standard devices, pts and shm, and no host disk", async () => {
  await withStore(async (store) => {
    const out = await skiffOk(store, [
      "run",
      "--rm",
      "busybox",
      "sh",
      "-c",
      "ls /dev; echo gone > /dev/null && head -c 5 /dev/zero | wc -c; echo x > /dev/shm/f && cat /dev/shm/f",
    ]);
    const lines = out.trim().split("\n");
    assert.deepEqual(lines.slice(0, -2), [
      "fd",
      "full",
      "null",
      "ptmx",
      "pts",
      "random",
      "shm",
      "stderr",
      "stdin",
      "stdout",
      "tty",
      "urandom",
      "zero",
    ]);
    assert.deepEqual(lines.slice(-2), ["5", "x"]);
  });
});

test("capabilities beyond podman's default set are dropped", async () => {
  await withStore(async (store) => {
    const out = await skiffOk(store, [
      "run",
      "--rm",
      "busybox",
      "sh",
      "-c",
      "grep CapBnd /proc/self/status; mount -t tmpfs t /mnt 2>&1 || echo mount-refused",
    ]);
    assert.match(out, /CapBnd:\s+00000000800405fb/);
    assert.match(out, /mount-refused/);
  });
});

test("no descriptor skiff inherited reaches the command", async () => {
  await withStore(async (store) => {
    const r = await skiffWithStrayFd(store, ["run", "--rm", "busybox", "sh", "-c", "ls /proc/$$/fd; true"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "0\n1\n2\n", "only stdin, stdout and stderr");
  });
});

test("writes land in the container's upper dir and never change the image", async () => {
  await withStore(async (store) => {
    const [layer] = entries(`${store}/layers`);
    const image = `${store}/layers/${layer}`;
    await skiffOk(store, [
      "run",
      "--name",
      "writer",
      "busybox",
      "sh",
      "-c",
      "echo new > /etc/added; echo changed > /etc/hostname; rm /etc/group",
    ]);
    const id = (await skiffOk(store, ["ps", "-aq", "--no-trunc"])).trim();
    const upper = `${store}/containers/${id}/upper`;
    assert.equal(await Deno.readTextFile(`${upper}/etc/added`), "new\n");
    assert.equal(await Deno.readTextFile(`${upper}/etc/hostname`), "changed\n");
    assert.equal(await Deno.readTextFile(`${image}/etc/hostname`), "skiff\n", "the layer is unchanged");
    assert.ok((await Deno.stat(`${image}/etc/group`)).isFile, "a delete does not reach the layer");
    assert.deepEqual(entries(`${image}/etc`), ["group", "hostname", "hosts", "passwd"]);
    const fresh = await skiffOk(store, ["run", "--rm", "busybox", "sh", "-c", "cat /etc/hostname; ls /etc"]);
    assert.equal(
      fresh,
      "skiff\ngroup\nhostname\nhosts\npasswd\n",
      "another container sees the image as it was",
    );
  });
});

test("an image's layer is extracted once and shared by its containers", async () => {
  await withStore(async (store) => {
    const lower = async () => {
      const out = await skiffOk(store, ["run", "--rm", "busybox", "head", "-1", "/proc/self/mountinfo"]);
      return /lowerdir=([^,]+)/.exec(out)![1];
    };
    const [a, b] = await Promise.all([lower(), lower()]);
    assert.equal(a, b);
    assert.equal(entries(`${store}/layers`).length, 1);
  });
});

test("run exits with the command's code, 126 when it can't run and 127 when it isn't there", async () => {
  await withStore(async (store) => {
    assert.equal((await skiff(store, ["run", "--rm", "busybox", "sh", "-c", "exit 3"])).code, 3);
    const notFound = await skiff(store, ["run", "busybox", "nosuchcommand"]);
    assert.equal(notFound.code, 127);
    assert.equal(notFound.stderr, 'skiff: exec: "nosuchcommand": executable file not found in $PATH\n');
    const notExecutable = await skiff(store, ["run", "busybox", "/etc/passwd"]);
    assert.equal(notExecutable.code, 126);
    assert.equal(notExecutable.stderr, 'skiff: exec: "/etc/passwd": permission denied\n');
    assert.deepEqual(entries(`${store}/containers`), [], "a command that never started leaves no container");
  });
});

test("a container keeps its record after it exits, and --rm removes it", async () => {
  await withStore(async (store) => {
    assert.equal((await skiff(store, ["run", "--name", "kept", "busybox", "sh", "-c", "exit 4"])).code, 4);
    await skiffOk(store, ["run", "--rm", "--name", "gone", "busybox", "true"]);
    const ps = await skiffOk(store, ["ps", "-a"]);
    const [header, row, ...rest] = ps.trim().split("\n");
    assert.match(header, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    assert.match(row, /^[0-9a-f]{12}\s+busybox\s+"sh -c exit 4"\s+.+ ago\s+Exited \(4\) .+ ago\s+kept$/);
    assert.deepEqual(rest, []);
    assert.equal(await skiffOk(store, ["ps"]), (await skiffOk(store, ["ps"])).split("\n")[0] + "\n");
    assert.equal(entries(`${store}/containers`).length, 1);
  });
});

test("rm removes a container and its layer dirs by name or unique id prefix", async () => {
  await withStore(async (store) => {
    await skiffOk(store, ["run", "--name", "one", "busybox", "true"]);
    await skiffOk(store, ["run", "--name", "two", "busybox", "true"]);
    const [idTwo, idOne] = (await skiffOk(store, ["ps", "-aq"])).trim().split("\n");
    assert.equal(await skiffOk(store, ["rm", "one"]), "one\n");
    assert.equal(await skiffOk(store, ["rm", idTwo.slice(0, 5)]), `${idTwo.slice(0, 5)}\n`);
    assert.deepEqual(entries(`${store}/containers`), []);
    const missing = await skiff(store, ["rm", idOne]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `skiff: No such container: ${idOne}\n`);
  });
});

test("-e, -w and the image's environment reach the command", async () => {
  await withStore(async (store) => {
    const out = await skiffOk(store, [
      "run",
      "--rm",
      "-e",
      "GREETING=hello world",
      "-eEMPTY=",
      "-w",
      "/srv/app",
      "busybox",
      "sh",
      "-c",
      'echo "$GREETING|$EMPTY|$PATH"; pwd',
    ]);
    assert.equal(
      out,
      "hello world||/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n/srv/app\n",
    );
  });
});

test("-i passes stdin on; without it the container reads nothing", async () => {
  await withStore(async (store) => {
    assert.equal(
      await skiffOk(store, ["run", "--rm", "-i", "busybox", "cat"], { stdin: "piped in\n" }),
      "piped in\n",
    );
    assert.equal(await skiffOk(store, ["run", "--rm", "busybox", "cat"], { stdin: "ignored\n" }), "");
  });
});

test("-t gives the container a terminal of its own, also as /dev/console", async () => {
  await withStore(async (store) => {
    // util-linux script(1) runs skiff on a new pseudo-terminal
    const cmd = [
      Deno.execPath(),
      ...skiffArgv(store, [
        "run",
        "--rm",
        "-it",
        "busybox",
        "sh",
        "-c",
        "tty; echo $TERM; stat -c %t,%T /dev/console /dev/pts/0",
      ]),
    ];
    // script's stdin stays open: at its EOF script types an end-of-file
    // character on the terminal, which the container would read.
    const child = new Deno.Command("script", {
      args: ["-qec", cmd.map((a) => `'${a}'`).join(" "), "/dev/null"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const [stdout, stderr, status] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.status,
    ]);
    await child.stdin.close();
    const text = stdout.replaceAll("\r", "");
    assert.equal(status.code, 0, text + stderr);
    // a pty of the container's devpts (tests/io_test.ts), bound on /dev/console
    assert.equal(text, "/dev/pts/0\nxterm\n88,0\n88,0\n");
    const noTty = await skiff(store, ["run", "--rm", "-t", "busybox", "true"]);
    assert.equal(noTty.code, 125);
    assert.equal(noTty.stderr, "skiff: The input device is not a TTY: drop -t, or run from a terminal\n");
  });
});

test("from a terminal, run without -t passes its input on through a pipe, so `run busybox sh` is a shell", async () => {
  await withStore(async (store) => {
    const cmd = [Deno.execPath(), ...skiffArgv(store, ["run", "--rm", "busybox", "sh"])];
    const child = new Deno.Command("script", {
      args: ["-qec", cmd.map((a) => `'${a}'`).join(" "), "/dev/null"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode("echo typed-$((6*7))\nexit 3\n"));
    await writer.close();
    const out = await child.output();
    assert.equal(out.code, 3, "the shell's exit code");
    assert.match(new TextDecoder().decode(out.stdout), /typed-42/);
  });
});

test("a --runroot that cannot be made is a one-line error that makes nothing", async () => {
  await withStore(async (store) => {
    const fresh = `${store}/new`;
    const r = await skiff(fresh, ["--runroot", "/proc/no-such-dir", "run", "--rm", "busybox", "true"]);
    assert.equal(r.code, 125);
    assert.equal(
      r.stderr,
      'skiff: Cannot make "/proc/no-such-dir/containers": No such file or directory; choose another --runroot\n',
    );
    assert.deepEqual(entries(store), [], "not even the store");
  }, { empty: true });
});

test("--env-file, --entrypoint and --label as docker takes them; a missing env file is one line and no container", async () => {
  await withStore(async (store) => {
    const dir = await Deno.makeTempDir({ prefix: "skiff-flags-" });
    try {
      await Deno.writeTextFile(`${dir}/app.env`, "# settings\nA=1\n  B=two words\nFROM_CALLER\nUNSET_HERE\n");
      await Deno.writeTextFile(`${dir}/labels`, "team=core\nlone\n");
      const out = await skiff(store, [
        "run",
        "--name",
        "flags",
        "--env-file",
        `${dir}/app.env`,
        "-e",
        "A=3",
        "--entrypoint",
        "sh",
        "-l",
        "tier=web",
        "--label-file",
        `${dir}/labels`,
        "busybox",
        "-c",
        'echo "$A|$B|$FROM_CALLER|${UNSET_HERE-unset}"',
      ], { env: { FROM_CALLER: "given" } });
      assert.equal(out.code, 0, out.stderr);
      assert.equal(
        out.stdout,
        "3|two words|given|unset\n",
        "-e after the file wins; KEY alone is the caller's",
      );
      const [record] = JSON.parse(await skiffOk(store, ["inspect", "flags"]));
      assert.deepEqual(record.command, ["sh", "-c", 'echo "$A|$B|$FROM_CALLER|${UNSET_HERE-unset}"']);
      assert.deepEqual(record.labels, { team: "core", lone: "", tier: "web" });
      const missing = await skiff(store, ["run", "--rm", "--env-file", `${dir}/nope.env`, "busybox", "true"]);
      assert.equal(missing.code, 125);
      assert.equal(
        missing.stderr,
        `skiff: Cannot read --env-file "${dir}/nope.env": No such file or directory\n`,
      );
      assert.equal(
        (await skiffOk(store, ["ps", "-aq"])).trim().split("\n").length,
        1,
        "only the first container",
      );
    } finally {
      await skiff(store, ["rm", "-f", "flags"]);
      await Deno.remove(dir, { recursive: true });
    }
  });
});
