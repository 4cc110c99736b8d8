/**
 * End-to-end tests of volumes as root: the seed's scenario, read-only,
 * nested, file binds, named volumes, bad input, and images whose symlinks
 * try to send a mount outside the container.
 */

import assert from "node:assert/strict";
import { entries, ROOT_ONLY, skiff, skiffArgv, skiffOk, waitFor, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

/** A temporary host directory, removed afterwards. */
async function withHostDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-host-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

test("the seed's scenario: a host directory is shared both ways and outlives the container", async () => {
  await withStore(async (store) => {
    await withHostDir(async (host) => {
      const source = `${host}/busybox`; // missing: -v creates it
      await Deno.mkdir(source);
      await Deno.writeTextFile(`${source}/from-host`, "hello from the host\n");
      const child = new Deno.Command(Deno.execPath(), {
        args: skiffArgv(store, [
          "run",
          "-v",
          `${source}:/busybox`,
          "busybox",
          "sh",
          "-c",
          "cat /busybox/from-host; echo made inside > /busybox/from-container; " +
          "while [ ! -e /busybox/go ]; do sleep 0.05; done",
        ]),
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      try {
        // the file created inside is on the host while the container runs
        await waitFor(() => entries(source).includes("from-container"));
        assert.equal(await Deno.readTextFile(`${source}/from-container`), "made inside\n");
        await Deno.writeTextFile(`${source}/go`, "");
        const out = await child.output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        assert.equal(new TextDecoder().decode(out.stdout), "hello from the host\n");
      } finally {
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
      }
      assert.deepEqual(
        entries(source),
        ["from-container", "from-host", "go"],
        "the data outlives the container",
      );
      const again = await skiffOk(store, [
        "run",
        "--rm",
        "-v",
        `${source}:/busybox`,
        "busybox",
        "cat",
        "/busybox/from-container",
      ]);
      assert.equal(again, "made inside\n", "a new container sees it again");
      const [id] = (await skiffOk(store, ["ps", "-aq"])).trim().split("\n");
      await skiffOk(store, ["rm", id]);
      assert.deepEqual(
        entries(source),
        ["from-container", "from-host", "go"],
        "rm never deletes a bind source's data",
      );
    });
  });
});

test("a missing host directory is created, 0755, and the image's layer gets no mount point", async () => {
  await withStore(async (store) => {
    await withHostDir(async (host) => {
      const [layer] = entries(`${store}/layers`);
      const before = entries(`${store}/layers/${layer}`);
      await skiffOk(store, ["run", "--rm", "-v", `${host}/new/dir:/mnt/deep/point`, "busybox", "true"]);
      const info = await Deno.stat(`${host}/new/dir`);
      assert.ok(info.isDirectory);
      assert.equal(info.mode! & 0o777, 0o755);
      assert.deepEqual(entries(`${store}/layers/${layer}`), before);
    });
  });
});

test("read-only means read-only: writes fail with EROFS, and the source's nosuid and nodev stay", async () => {
  await withStore(async (store) => {
    // a nosuid,nodev filesystem of the test's own
    const source = await Deno.makeTempDir({ prefix: "skiff-ro-" });
    const mounted = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "nosuid,nodev,size=1m", "skiff-test", source],
    }).output();
    assert.equal(mounted.code, 0);
    try {
      await Deno.writeTextFile(`${source}/kept`, "unchanged\n");
      const r = await skiff(store, [
        "run",
        "--rm",
        "-v",
        `${source}:/data:ro`,
        "busybox",
        "sh",
        "-c",
        "cat /data/kept; echo x > /data/kept || echo refused; grep ' /data ' /proc/self/mountinfo",
      ]);
      assert.equal(r.code, 0);
      const [kept, refused, mountinfo] = r.stdout.trim().split("\n");
      assert.equal(kept, "unchanged");
      assert.equal(refused, "refused");
      assert.match(r.stderr, /Read-only file system/);
      assert.match(mountinfo.split(" ")[5], /^ro,nosuid,nodev/);
      assert.equal(await Deno.readTextFile(`${source}/kept`), "unchanged\n");
      const long = await skiff(store, [
        "run",
        "--rm",
        "--mount",
        `type=bind,source=${source},target=/data,readonly`,
        "busybox",
        "touch",
        "/data/new",
      ]);
      assert.equal(long.code, 1);
      assert.match(long.stderr, /Read-only file system/);
    } finally {
      await new Deno.Command("umount", { args: [source] }).output();
      await Deno.remove(source, { recursive: true });
    }
  });
});

test("nested volumes and a file bind all land where asked", async () => {
  await withStore(async (store) => {
    await withHostDir(async (host) => {
      await Deno.mkdir(`${host}/outer`);
      await Deno.mkdir(`${host}/inner`);
      await Deno.writeTextFile(`${host}/inner/i`, "inner\n");
      await Deno.writeTextFile(`${host}/outer/o`, "outer\n");
      await Deno.writeTextFile(`${host}/conf`, "a file\n");
      const out = await skiffOk(store, [
        "run",
        "--rm",
        "-v",
        `${host}/inner:/data/sub`, // the child first: skiff orders parents first
        "-v",
        `${host}/outer:/data`,
        "-v",
        `${host}/conf:/etc/app.conf:ro`,
        "busybox",
        "sh",
        "-c",
        "cat /data/o /data/sub/i /etc/app.conf; test -f /etc/app.conf && echo is-file",
      ]);
      assert.equal(out, "outer\ninner\na file\nis-file\n");
    });
  });
});

test("a named volume is created on first use, persists, and rm refuses it while used", async () => {
  await withStore(async (store) => {
    await skiffOk(store, [
      "run",
      "--name",
      "writer",
      "-v",
      "appdata:/var/app",
      "busybox",
      "sh",
      "-c",
      "echo kept > /var/app/x",
    ]);
    const read = await skiffOk(store, ["run", "--rm", "-v", "appdata:/data:ro", "busybox", "cat", "/data/x"]);
    assert.equal(read, "kept\n");
    assert.match(await skiffOk(store, ["volume", "ls"]), /^DRIVER\s+VOLUME NAME\nlocal\s+appdata\n$/);
    const [info] = JSON.parse(await skiffOk(store, ["volume", "inspect", "appdata"]));
    assert.equal(info.Mountpoint, `${store}/volumes/appdata/_data`);
    assert.equal(await Deno.readTextFile(`${info.Mountpoint}/x`), "kept\n");

    const [record] = JSON.parse(await skiffOk(store, ["inspect", "writer"]));
    assert.deepEqual(record.mounts, [
      {
        type: "volume",
        source: info.Mountpoint,
        destination: "/var/app",
        readOnly: false,
        name: "appdata",
        kind: "dir",
      },
    ]);

    const refused = await skiff(store, ["volume", "rm", "appdata"]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^skiff: Cannot remove volume "appdata": it is in use by container [0-9a-f]{12}; /,
    );
    assert.equal(
      await skiffOk(store, ["volume", "rm", "-f", "appdata"]),
      "appdata\n",
      "-f: no user is running",
    );
    assert.deepEqual(entries(`${store}/volumes`), []);

    await skiffOk(store, ["volume", "create", "second"]);
    await skiffOk(store, ["rm", "writer"]);
    assert.equal(await skiffOk(store, ["volume", "rm", "second"]), "second\n");
    const missing = await skiff(store, ["volume", "rm", "nosuch"]);
    assert.equal(missing.stderr, "skiff: No such volume: nosuch\n");
  });
});

test("bad volume specs get a one-line error and create nothing", async () => {
  await withStore(async (store) => {
    await withHostDir(async (host) => {
      const src = `${host}/must-not-appear`;
      const cases: [string[], string][] = [
        [["-v", src], 'Invalid volume "' + src + '": missing ":"'],
        [["-v", `:/data`], "the host side is empty"],
        [["-v", `${src}:`], "the container path is empty"],
        [["-v", `${src}:data`], 'the container path "data" must be absolute'],
        [["-v", `${src}:/`], `cannot mount over the container's "/"`],
        [["-v", `${src}:/a/../etc`], 'must not contain ".."'],
        [["-v", `${src}:/data:rx`], 'unknown mode "rx"'],
        [["-v", `${src}:/data`, "-v", `${host}:/data/`], 'Duplicate mount point "/data"'],
        [["-v", "x:/data"], 'Invalid volume name "x"'],
        [["-v", "bad/name:/data"], "Invalid volume"],
        [["--mount", `type=bind,target=/data`], "source is missing"],
        [["--mount", `type=tmpfs,target=/data`], "type must be bind or volume"],
        [["--mount", `type=bind,source=${src},target=/data`], `bind source path "${src}" does not exist`],
        [["-v", `${src}:/proc/x`], 'cannot mount over "/proc"'],
      ];
      for (const [flags, message] of cases) {
        const r = await skiff(store, ["run", "--rm", ...flags, "busybox", "true"]);
        assert.equal(r.code, 125, `${flags.join(" ")}: ${r.stderr}`);
        assert.ok(
          r.stderr.startsWith("skiff: ") && r.stderr.includes(message),
          `${flags.join(" ")}: ${r.stderr}`,
        );
        assert.equal(r.stderr.trim().split("\n").length, 1);
        assert.deepEqual(entries(host), [], `${flags.join(" ")} created something on the host`);
        assert.deepEqual(entries(`${store}/containers`), []);
        assert.deepEqual(entries(`${store}/volumes`), []);
      }
    });
  });
});

/**
 * An image whose symlinks point out of the container: /data -> /etc,
 * /escape -> ../../../.. and /abs -> an absolute host directory.
 */
async function hostileImage(store: string, hostDir: string): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "skiff-hostile-" });
  try {
    for (const dir of ["bin", "etc", "tmp"]) await Deno.mkdir(`${root}/${dir}`);
    await Deno.copyFile("/bin/busybox", `${root}/bin/busybox`);
    for (const applet of ["sh", "cat", "ls", "find"]) await Deno.symlink("busybox", `${root}/bin/${applet}`);
    await Deno.symlink("/etc", `${root}/data`);
    await Deno.symlink("../../../..", `${root}/escape`);
    await Deno.symlink(hostDir, `${root}/abs`);
    const tar = `${root}.tar`;
    const made = await new Deno.Command("tar", { args: ["-cf", tar, "-C", root, "."] }).output();
    assert.equal(made.code, 0);
    await skiffOk(store, ["import", tar, "hostile"]);
    await Deno.remove(tar);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

test("symlinks in an image cannot send a volume outside the container's root", async () => {
  await withStore(async (store) => {
    await withHostDir(async (host) => {
      const volume = `${host}/volume`;
      const outside = `${host}/outside`; // what /abs points at, on the host
      await Deno.mkdir(volume);
      await Deno.mkdir(outside);
      await Deno.writeTextFile(`${volume}/marker`, "volume\n");
      await hostileImage(store, outside);
      const hostEtc = entries("/etc");
      const hostRoot = entries("/");

      const viaData = await skiffOk(store, [
        "run",
        "--rm",
        "-v",
        `${volume}:/data/sub`,
        "hostile",
        "cat",
        "/etc/sub/marker",
      ]);
      assert.equal(viaData, "volume\n", "/data/sub landed on the container's /etc/sub");

      const viaEscape = await skiffOk(store, [
        "run",
        "--rm",
        "-v",
        `${volume}:/escape/tmp/pwned`,
        "hostile",
        "cat",
        "/tmp/pwned/marker",
      ]);
      assert.equal(viaEscape, "volume\n", "../../../.. stopped at the container's root");

      const viaAbs = await skiff(store, ["run", "--rm", "-v", `${volume}:/abs/x`, "hostile", "true"]);
      assert.equal(viaAbs.code, 125, "a link to a host path missing in the image is refused");
      assert.match(
        viaAbs.stderr,
        /^skiff: Cannot mount "[^"]+" on "\/abs\/x": "\/abs" is a symlink to a path missing/,
      );

      assert.deepEqual(entries("/etc"), hostEtc, "nothing appeared in the host's /etc");
      assert.deepEqual(entries("/"), hostRoot, "nothing appeared in the host's /");
      assert.deepEqual(entries(outside), [], "nothing appeared where /abs points");
      assert.deepEqual(entries(volume), ["marker"]);
      assert.deepEqual(entries(`${store}/containers`), []);
    });
  }, { empty: true });
});
