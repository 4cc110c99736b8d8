/**
 * End-to-end tests, as root, of `cp` (issue 18): both directions, running
 * and stopped containers, tar streams, docker's rules for `/` and `/.`,
 * and containers whose symlinks point at the host's paths.
 */

import assert from "node:assert/strict";
import { ROOT_ONLY, skiff, skiffOk, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

/** A host directory for the test, removed after `fn`. */
async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-cp-e2e-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `find DIR` inside the container, sorted. */
async function findIn(store: string, ctr: string, dir: string): Promise<string[]> {
  return (await skiffOk(store, ["exec", ctr, "find", dir])).trim().split("\n").sort();
}

/** What a container sets up: a tree, and symlinks to the host's /etc, its ancestors, and a host dir. */
const SETUP = (hostDir: string) =>
  [
    "mkdir -p /d/sub /w",
    "echo hi > /d/sub/f",
    "chown 7:8 /d/sub/f",
    "ln -s /etc /data",
    "ln -s ../../../.. /up",
    `ln -s ${hostDir} /hostdir`,
    "ln -s sub/f /d/link",
    "echo inside > /etc/marker",
  ].join(" && ");

test("cp copies out of and into a running container by docker's rules", async () => {
  await withStore(async (store) => {
    await withDir(async (host) => {
      await skiffOk(store, [
        "run",
        "--network",
        "none",
        "-d",
        "--name",
        "r",
        "busybox",
        "sh",
        "-c",
        `${SETUP(host)} && sleep 300`,
      ]);
      await skiffOk(store, ["exec", "r", "sh", "-c", "until [ -e /etc/marker ]; do sleep 0.05; done"]);
      // a dir to a missing path: made, with the contents
      await skiffOk(store, ["cp", "r:/d", `${host}/out`]);
      assert.equal(Deno.readTextFileSync(`${host}/out/sub/f`), "hi\n");
      assert.equal(Deno.readLinkSync(`${host}/out/link`), "sub/f", "a symlink is copied as it is");
      assert.equal(Deno.statSync(`${host}/out/sub/f`).uid, 0, "the caller's owner without -a");
      // into an existing dir: under its own name; with /. its contents
      await skiffOk(store, ["cp", "r:/d", `${host}/out`]);
      assert.ok(Deno.statSync(`${host}/out/d/sub/f`).isFile);
      await skiffOk(store, ["cp", "-a", "r:/d/.", `${host}/flat`]);
      assert.equal(Deno.statSync(`${host}/flat/sub/f`).uid, 7, "-a keeps the source's owner");
      // -L follows a symlink source
      await skiffOk(store, ["cp", "-L", "r:/d/link", `${host}/followed`]);
      assert.equal(Deno.readTextFileSync(`${host}/followed`), "hi\n");
      // into the container: root's owner unless -a
      Deno.writeTextFileSync(`${host}/h`, "host file");
      Deno.chownSync(`${host}/h`, 5, 6);
      await skiffOk(store, ["cp", `${host}/h`, "r:/w/"]);
      await skiffOk(store, ["cp", "-a", `${host}/h`, "r:/w/kept"]);
      assert.equal(
        await skiffOk(store, ["exec", "r", "stat", "-c", "%n %u:%g", "/w/h", "/w/kept"]),
        "/w/h 0:0\n/w/kept 5:6\n",
      );
      assert.deepEqual(await findIn(store, "r", "/w"), ["/w", "/w/h", "/w/kept"]);
    });
  });
});

test("cp - streams a tar in and out, and a stopped container is copied into and out of", async () => {
  await withStore(async (store) => {
    await withDir(async (host) => {
      await skiffOk(store, ["run", "--network", "none", "--name", "s", "busybox", "sh", "-c", SETUP(host)]);
      const out = await new Deno.Command("sh", {
        args: ["-c", `deno task -q skiff --root ${store} cp s:/d - | tar -tvf -`],
        stdout: "piped",
      }).output();
      const listing = new TextDecoder().decode(out.stdout);
      assert.match(listing, /^drwxr-xr-x 0\/0 +0 \S+ \S+ d\/\n/m);
      assert.match(listing, /^-rw-r--r-- 7\/8 +3 \S+ \S+ d\/sub\/f\n/m);
      assert.match(listing, /^lrwxrwxrwx 0\/0 +0 \S+ \S+ d\/link -> sub\/f\n/m);

      Deno.mkdirSync(`${host}/t`);
      Deno.writeTextFileSync(`${host}/t/a`, "a");
      const tar = await new Deno.Command("tar", { args: ["-cf", `${host}/in.tar`, "-C", `${host}/t`, "a"] })
        .output();
      assert.equal(tar.code, 0);
      const piped = await new Deno.Command("sh", {
        args: ["-c", `deno task -q skiff --root ${store} cp - s:/w < ${host}/in.tar`],
      }).output();
      assert.equal(piped.code, 0, new TextDecoder().decode(piped.stderr));
      await skiffOk(store, ["cp", "s:/w/a", `${host}/back`]);
      assert.equal(Deno.readTextFileSync(`${host}/back`), "a", "copied into the stopped container's layer");
      assert.equal(
        (await skiff(store, ["cp", "-", "s:/d/sub/f"], { stdin: "" })).stderr,
        'skiff: destination "s:/d/sub/f" must be a directory\n',
      );
    });
  });
});

test("a container's symlinks to the host's /etc, ../../.. or a host dir lead inside the container", async () => {
  await withStore(async (store) => {
    await withDir(async (host) => {
      Deno.writeTextFileSync(`${host}/secret`, "host secret");
      await skiffOk(store, [
        "run",
        "--network",
        "none",
        "--name",
        "evil",
        "busybox",
        "sh",
        "-c",
        SETUP(host),
      ]);
      const name = `skiff-cp-probe-${Deno.pid}`;
      Deno.writeTextFileSync(`${host}/${name}`, "probe");
      // in: through /data (-> /etc) and /up (-> ../../../..) into the container's own /etc and /
      await skiffOk(store, ["cp", `${host}/${name}`, "evil:/data/"]);
      await skiffOk(store, ["cp", `${host}/${name}`, "evil:/up/etc/"]);
      assert.throws(
        () => Deno.statSync(`/etc/${name}`),
        Deno.errors.NotFound,
        "the host's /etc is untouched",
      );
      // a symlink to a host dir: not there in the container
      const r = await skiff(store, ["cp", `${host}/${name}`, "evil:/hostdir/x"]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, "skiff: Could not find the file /hostdir in container evil\n");
      assert.deepEqual([...Deno.readDirSync(host)].map((e) => e.name).sort(), ["secret", name]);
      // out: /data/marker is the container's /etc/marker; the host's passwd is never read
      await skiffOk(store, ["cp", "evil:/data/marker", `${host}/m`]);
      assert.equal(Deno.readTextFileSync(`${host}/m`), "inside\n");
      await skiffOk(store, ["cp", "evil:/up/etc/.", `${host}/etc`]);
      assert.ok(
        Deno.statSync(`${host}/etc/${name}`).isFile,
        "the container's /etc, with the probe copied in",
      );
      assert.throws(() => Deno.statSync(`${host}/etc/debian_version`), Deno.errors.NotFound);
      const leak = await skiff(store, ["cp", "evil:/hostdir/secret", `${host}/leak`]);
      assert.equal(leak.code, 1);
      assert.throws(() => Deno.statSync(`${host}/leak`), Deno.errors.NotFound);
    });
  });
});

test("cp's bad input: one line each, exit 1, nothing made", async () => {
  await withStore(async (store) => {
    await withDir(async (host) => {
      await skiffOk(store, [
        "run",
        "--network",
        "none",
        "--name",
        "c",
        "busybox",
        "sh",
        "-c",
        "mkdir /dir && touch /file",
      ]);
      Deno.writeTextFileSync(`${host}/f`, "f");
      const cases: [string[], string][] = [
        [["c:/nope", host], "Could not find the file /nope in container c"],
        [[`${host}/nope`, "c:/"], `lstat ${host}/nope: no such file or directory`],
        [["c:/dir", `${host}/f`], `Cannot copy a directory to "${host}/f": it is a file`],
        [[`${host}/f`, "c:/missing/"], 'Cannot copy to "c:/missing/": no such directory'],
        [[`${host}/f`, "c:/no/such/x"], "Could not find the file /no/such in container c"],
        [["c:/file/", host], 'Cannot copy "c:/file/": not a directory'],
        [["c:/file", "c:/x"], "copying between containers is not supported"],
        [[`${host}/f`, `${host}/g`], "must specify at least one container source"],
        [["nosuch:/x", host], "No such container: nosuch"],
      ];
      for (const [args, message] of cases) {
        const r = await skiff(store, ["cp", ...args]);
        assert.equal(r.stderr, `skiff: ${message}\n`, args.join(" "));
        assert.equal(r.code, 1, args.join(" "));
      }
      assert.deepEqual([...Deno.readDirSync(host)].map((e) => e.name), ["f"]);
    });
  });
});
