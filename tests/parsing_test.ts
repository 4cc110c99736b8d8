/**
 * End-to-end tests of what skiff takes from its arguments and images: the
 * devices and kernel files a container may reach, names against id
 * prefixes, bounds on limits and paths, and what tables print.
 */

import assert from "node:assert/strict";
import { entries, ROOT_ONLY, skiff, skiffOk, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

/** A temporary host directory, removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-parsing-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Writes a rootfs tar with the host's static busybox as /bin/sh and a
 * character device 1:3 (what /dev/null is) at /hostnull, as an image
 * from anywhere could ship one.
 */
async function deviceImageTar(path: string): Promise<void> {
  const script = `
import sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    d = tarfile.TarInfo("bin"); d.type = tarfile.DIRTYPE; d.mode = 0o755; t.addfile(d)
    t.add("/bin/busybox", "bin/busybox")
    s = tarfile.TarInfo("bin/sh"); s.type = tarfile.SYMTYPE; s.linkname = "busybox"; t.addfile(s)
    c = tarfile.TarInfo("hostnull"); c.type = tarfile.CHRTYPE; c.devmajor = 1; c.devminor = 3
    c.mode = 0o666; t.addfile(c)
`;
  const made = await new Deno.Command("python3", { args: ["-c", script, path], stderr: "piped" }).output();
  assert.equal(made.code, 0, new TextDecoder().decode(made.stderr));
}

test("a device node shipped in an image cannot be opened; /dev/null still works", async () => {
  await withStore(async (store) => {
    await withTempDir(async (dir) => {
      const tar = `${dir}/devices.tar`;
      await deviceImageTar(tar);
      await skiffOk(store, ["import", tar, "devices"]);
      const r = await skiff(store, [
        "run",
        "--rm",
        "devices",
        "sh",
        "-c",
        "ls -l /hostnull; echo x > /hostnull && echo opened; echo y > /dev/null && echo devnull works",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^c.* 1, +3 .*\/hostnull\n/, "the node is in the image");
      assert.ok(!r.stdout.includes("opened"), r.stdout);
      assert.match(r.stderr, /can't create \/hostnull: Permission denied/);
      assert.ok(r.stdout.endsWith("devnull works\n"), r.stdout);
    });
  });
});

/** runc's and podman's masked paths that this kernel has, by kind. */
function maskedOnHost(): { dirs: string[]; files: string[] } {
  const paths = [
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
  ];
  const dirs: string[] = [];
  const files: string[] = [];
  for (const path of paths) {
    try {
      (Deno.statSync(path).isDirectory ? dirs : files).push(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return { dirs, files };
}

test("the container's devices are its own nodes: chmod inside leaves the host's /dev/null as it was", async () => {
  const host = (path: string) => {
    const info = Deno.statSync(path);
    return { dev: info.dev, ino: info.ino, mode: info.mode };
  };
  const before = { null: host("/dev/null"), zero: host("/dev/zero"), tty: host("/dev/tty") };
  try {
    await withStore(async (store) => {
      // Inside: each device's inode, then root (CAP_FOWNER) chmods /dev/null
      // and the file /proc/kcore is masked with, and /dev/null still works.
      const out = await skiffOk(store, [
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "stat -c '%n %i' /dev/null /dev/zero /dev/tty; chmod 600 /dev/null; chmod 600 /proc/kcore; " +
        "echo gone > /dev/null && echo null-works",
      ]);
      const inodes = Object.fromEntries(
        out.split("\n").filter((l) => l.startsWith("/dev/")).map((l) => l.split(" ")),
      );
      assert.ok(out.includes("null-works"), out);
      for (const [name, info] of Object.entries(before)) {
        assert.notEqual(Number(inodes[`/dev/${name}`]), info.ino, `/dev/${name} is not the host's inode`);
      }
    });
  } finally {
    // Put back what a failing run may have changed on the host.
    for (const [name, info] of Object.entries(before)) {
      const now = host(`/dev/${name}`);
      if (now.mode !== info.mode) Deno.chmodSync(`/dev/${name}`, info.mode! & 0o7777);
    }
  }
  for (const [name, info] of Object.entries(before)) {
    assert.equal(host(`/dev/${name}`).mode, info.mode, `the host's /dev/${name} keeps its mode`);
  }
});

test("runc's masked paths are empty inside: directories under a read-only tmpfs, files read nothing", async () => {
  const { dirs, files } = maskedOnHost();
  assert.ok(dirs.includes("/sys/firmware") && files.includes("/proc/keys"), "this kernel has some");
  await withStore(async (store) => {
    const script = [
      ...dirs.map((d) =>
        `echo "${d} $(ls -A ${d} | wc -l)"; touch ${d}/x 2>/dev/null && echo "${d} writable"`
      ),
      ...files.map((f) => `echo "${f} $(cat ${f} | wc -c)"`),
      "grep -E ' /(proc|sys)/' /proc/self/mountinfo",
    ].join("; ");
    const out = await skiffOk(store, ["run", "--rm", "busybox", "sh", "-c", script]);
    const lines = out.trim().split("\n");
    for (const path of [...dirs, ...files]) {
      assert.ok(lines.includes(`${path} 0`), `${path} is empty inside:\n${out}`);
    }
    assert.ok(!out.includes("writable"), out);
    const mounts = lines.filter((l) => l.includes(" - "));
    for (const dir of dirs) {
      const mount = mounts.find((m) => m.split(" ")[4] === dir);
      assert.ok(mount, `${dir} has a mount of its own:\n${out}`);
      assert.match(mount, / - tmpfs /);
      assert.match(mount.split(" ")[5], /^ro,/, mount);
    }
  });
});

test("a container cannot be named with a 64-hex id; rm -f ID removes the container with that id", async () => {
  await withStore(async (store) => {
    await skiffOk(store, ["run", "--name", "first", "busybox", "true"]);
    const id = (await skiffOk(store, ["ps", "-aq", "--no-trunc"])).trim();
    const taken = await skiff(store, ["run", "--name", id, "busybox", "true"]);
    assert.equal(taken.code, 125);
    assert.equal(taken.stderr.trim().split("\n").length, 1, taken.stderr);
    assert.match(taken.stderr, new RegExp(`^skiff: Invalid container name "${id}": .*64 hex`));
    assert.equal(entries(`${store}/containers`).length, 1, "nothing was made");
    const other = await skiff(store, ["run", "--name", "ab".repeat(32), "busybox", "true"]);
    assert.match(other.stderr, /^skiff: Invalid container name "(ab){32}": .*64 hex/);
    assert.equal(await skiffOk(store, ["rm", "-f", id]), `${id}\n`);
    assert.deepEqual(entries(`${store}/containers`), []);
  });
});

test("a container's name wins over another's id prefix", async () => {
  await withStore(async (store) => {
    await skiffOk(store, ["run", "--name", "older", "busybox", "true"]);
    const older = (await skiffOk(store, ["ps", "-aq", "--no-trunc"])).trim();
    const prefix = older.slice(0, 6);
    await skiffOk(store, ["run", "--name", prefix, "busybox", "true"]);
    const [record] = JSON.parse(await skiffOk(store, ["inspect", prefix]));
    assert.equal(record.name, prefix);
    assert.notEqual(record.id, older);
    await skiffOk(store, ["rm", prefix]);
    const [left] = JSON.parse(await skiffOk(store, ["inspect", "older"]));
    assert.equal(left.id, older, "rm took the named one, not the id's owner");
  });
});

test("an image's reference wins over another image's id prefix: rmi PREFIX removes the tag", async () => {
  await withStore(async (store) => {
    const busybox = (await skiffOk(store, ["images", "-q"])).trim();
    await withTempDir(async (dir) => {
      const tar = `${dir}/devices.tar`;
      await deviceImageTar(tar);
      const prefix = busybox.slice(0, 4);
      await skiffOk(store, ["import", tar, prefix]);
      assert.equal(await skiffOk(store, ["rmi", prefix]), `${prefix}\n`);
      const rows = (await skiffOk(store, ["images"])).trim().split("\n").slice(1);
      assert.equal(rows.length, 1, rows.join("\n"));
      assert.match(rows[0], new RegExp(`^localhost/busybox\\s+latest\\s+${busybox}\\s`));
      // and an id prefix still finds busybox, a full id too
      const [byPrefix] = JSON.parse(await skiffOk(store, ["inspect", prefix]));
      assert.match(byPrefix.Id, new RegExp(`^sha256:${busybox}`));
      const noSuchId = "ab".repeat(32);
      const run = await skiff(store, ["run", "--rm", noSuchId, "true"]);
      assert.equal(run.code, 125);
      assert.match(run.stderr, new RegExp(`^skiff: Unable to find image "${noSuchId}"`));
    });
  });
});

test("limits and paths out of range are one-line errors from the parser, leaving nothing", async () => {
  await withStore(async (store) => {
    const cases: [string[], RegExp][] = [
      [
        ["--cpuset-cpus", "0-99999999"],
        /^Invalid --cpuset-cpus "0-99999999": this machine has CPUs 0-\d+, not /,
      ],
      [["-m", "1k"], /^Invalid --memory "1k": .*at least 6m/],
      [["-m", "99999999999999g"], /^Invalid --memory "99999999999999g": .*at most/],
      [
        ["-m", "10m", "--memory-swap", "99999999999999g"],
        /^Invalid --memory-swap "99999999999999g": .*at most/,
      ],
      [["--cpus", "0.001"], /^Invalid --cpus "0.001": use a number of at least 0.01 and at most \d+/],
      [["--cpus", "NaN"], /^Invalid --cpus "NaN"/],
      [["--cpus", "0"], /^Invalid --cpus "0"/],
      [["--cpus", "-1"], /^Invalid --cpus "-1"/],
      [["--cpus", "9999"], /^Invalid --cpus "9999": .*this machine has \d+ CPU/],
      [
        ["--pids-limit", "99999999999"],
        /^Invalid --pids-limit "99999999999": use a whole number from 1 to 4194304/,
      ],
      [["--pids-limit", "-1"], /^Invalid --pids-limit "-1"/],
      [["-w", "/proc/x"], /^Invalid working directory "\/proc\/x": .*\/proc/],
      [["-w", "/sys"], /^Invalid working directory "\/sys": .*\/sys/],
      [["-w", "/tmp/../proc/self"], /^Invalid working directory "\/tmp\/..\/proc\/self": .*\/proc/],
    ];
    for (const [flags, message] of cases) {
      const r = await skiff(store, ["run", "--rm", ...flags, "busybox", "true"]);
      assert.equal(r.code, 125, `${flags.join(" ")}: ${r.stderr}`);
      assert.ok(r.stderr.startsWith("skiff: "), r.stderr);
      assert.match(r.stderr.slice("skiff: ".length), message);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.ok(r.stderr.length < 300, `a short message: ${r.stderr.slice(0, 300)}`);
      // (A cgroup is made only for a container, after its record and runtime dir.)
      for (const dir of ["containers", "run/containers", "tmp"]) {
        assert.deepEqual(entries(`${store}/${dir}`), [], `${flags.join(" ")} left something in ${dir}`);
      }
    }
  });
});

test("a -v host path with .. is normalised before anything is made: /a/new/../../b makes /b only", async () => {
  await withStore(async (store) => {
    await withTempDir(async (dir) => {
      await Deno.mkdir(`${dir}/a`);
      const out = await skiffOk(store, [
        "run",
        "--rm",
        "-v",
        `${dir}/a/new/../../b:/x`,
        "busybox",
        "sh",
        "-c",
        "echo inside > /x/f; cat /x/f",
      ]);
      assert.equal(out, "inside\n");
      assert.deepEqual(entries(`${dir}/a`), [], "no /a/new");
      assert.deepEqual(entries(dir), ["a", "b"]);
      assert.equal(await Deno.readTextFile(`${dir}/b/f`), "inside\n");
    });
  });
});

test("tables escape control characters: ps --no-trunc shows an ANSI command as text", async () => {
  await withStore(async (store) => {
    await withTempDir(async (dir) => {
      const tar = `${dir}/e\x1b[2Jvil.tar`;
      await deviceImageTar(tar);
      await skiffOk(store, ["run", "--name", "esc", "busybox", "echo", "\x1b[31mred\x07"]);
      await skiffOk(store, ["run", "--name", "tarred", tar, "sh", "-c", ":"]);
      const out = await skiffOk(store, ["ps", "-a", "--no-trunc"]);
      // deno-lint-ignore no-control-regex
      assert.ok(!/[\x00-\x09\x0b-\x1f\x7f-\x9f]/.test(out), JSON.stringify(out));
      assert.ok(out.includes('"echo \\x1b[31mred\\x07"'), out);
      assert.ok(out.includes(`${dir}/e\\x1b[2Jvil.tar`), out);
      const json = (await skiffOk(store, ["ps", "-a", "--format", "json"])).trim().split("\n").map((l) =>
        JSON.parse(l)
      );
      assert.deepEqual(json.find((r) => r.name === "esc").command, ["echo", "\x1b[31mred\x07"]);
    });
  });
});
