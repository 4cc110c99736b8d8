/**
 * End-to-end tests of `--user`, `--group-add` and the image's USER: ids
 * and groups as `id` shows them, HOME, the capabilities a non-root user
 * keeps, side by side with podman (runc) on the same image; `exec` as the
 * container's user and `exec -u`; a user the image lacks; an image whose
 * /etc/passwd points out of its root; the options kept for `start` and
 * shown by `inspect`.
 */

import assert from "node:assert/strict";
import { ROOT_ONLY, skiff, skiffOk, withStore } from "./helpers.ts";
import { sh } from "./_oci.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

/** The users' image: busybox with `app` (1000, in wheel and staff), audio, and USER app. */
async function makeUsersImage(store: string): Promise<void> {
  const script = [
    `echo 'app:x:1000:1000:app:/home/app:/bin/sh' >> /etc/passwd`,
    `printf 'app:x:1000:\\nstaff:x:50:app,other\\nwheel:x:10:root,app\\naudio:x:29:\\n' >> /etc/group`,
    "mkdir -p /home/app",
  ].join("; ");
  await skiffOk(store, ["run", "--name", "mk", "busybox", "sh", "-c", script]);
  await skiffOk(store, ["commit", "-c", "USER app", "mk", "users"]);
  await skiffOk(store, ["rm", "mk"]);
}

/** What a container prints of its user: `id`, HOME and the capability sets a user can hold. */
const PROBE = `id; echo "HOME=$HOME"; grep -E '^Cap(Prm|Eff|Amb)' /proc/self/status`;

/** The options compared with podman, each a run's flags before the image. */
const CASES = [
  [],
  ["-u", "0"],
  ["-u", "root"],
  ["-u", "app"],
  ["-u", "1000"],
  ["-u", "app:audio"],
  ["-u", "1000:29"],
  ["-u", "4321"],
  ["-u", "4321:audio"],
  ["-u", "app", "--group-add", "audio", "--group-add", "7"],
  ["-u", "app", "--cap-add", "NET_ADMIN"],
  ["-u", "app", "--privileged"],
];

test("--user by id and name, groups, HOME and capabilities: the same as podman's (runc) on the same image", async () => {
  await withStore(async (store) => {
    await makeUsersImage(store);
    const dir = await Deno.makeTempDir({ prefix: "skiff-user-" });
    // storage of its own under the test's directory ($1), the rest of the arguments podman's
    const podman =
      `d="$1"; shift; podman --root "$d/root" --runroot "$d/run" --storage-driver vfs --runtime /usr/sbin/runc --cgroup-manager cgroupfs`;
    try {
      await skiffOk(store, ["save", "--format", "oci", "-o", `${dir}/users.tar`, "users"]);
      await sh(`${podman} load -q -i "$d/users.tar" >/dev/null`, dir);
      for (const flags of CASES) {
        const ours = await skiffOk(store, ["run", "--rm", ...flags, "users", "sh", "-c", PROBE]);
        const theirs = await sh(
          `${podman} run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 "$@"`,
          dir,
          ...flags,
          "localhost/users",
          "sh",
          "-c",
          PROBE,
        );
        // busybox's id names uid 4321 only where its passwd has it: podman adds an entry, docker and skiff don't
        assert.equal(ours, theirs.replace("uid=4321(4321)", "uid=4321"), flags.join(" "));
      }
      const app = await skiffOk(store, ["run", "--rm", "users", "sh", "-c", PROBE]);
      assert.match(
        app,
        /^uid=1000\(app\) gid=1000\(app\) groups=10\(wheel\),50\(staff\),1000\(app\)\nHOME=\/home\/app\n/,
      );
      assert.match(app, /CapEff:\t0{16}/, "a non-root user has no effective capability");
    } finally {
      await sh(`${podman} rmi -af >/dev/null 2>&1 || true`, dir);
      await Deno.remove(dir, { recursive: true });
    }
  });
});

test("a user or group the image lacks: docker's one-line error, 125, and no container left", async () => {
  await withStore(async (store) => {
    for (
      const [flags, message] of [
        [["-u", "nobody2"], "skiff: unable to find user nobody2: no matching entries in passwd file\n"],
        [["-u", "nobody:staff2"], "skiff: unable to find group staff2: no matching entries in group file\n"],
        [
          ["--group-add", "video", "-u", "nobody"],
          "skiff: unable to find group video: no matching entries in group file\n",
        ],
        [["-u", "a:b:c"], 'skiff: Invalid --user "a:b:c": use UID[:GID] or NAME[:GROUP]\n'],
      ] as const
    ) {
      const r = await skiff(store, ["run", "--rm", ...flags, "busybox", "true"]);
      assert.equal(r.code, 125, r.stderr);
      assert.equal(r.stderr, message);
      const named = await skiff(store, ["run", "--name", "kept", ...flags, "busybox", "true"]);
      assert.equal(named.code, 125);
      assert.equal(await skiffOk(store, ["ps", "-aq"]), "", `nothing is left after ${flags.join(" ")}`);
    }
  });
});

test("/etc/passwd is read inside the container's root: a symlink to a host file finds nothing", async () => {
  await withStore(async (store) => {
    const host = await Deno.makeTempFile({ prefix: "skiff-passwd-" });
    try {
      await Deno.writeTextFile(host, "evil:x:4242:4242::/:/bin/sh\n");
      const script = `ln -sf ${host} /etc/passwd; ln -sf /proc/self/root${host} /etc/group`;
      await skiffOk(store, ["run", "--name", "mk", "busybox", "sh", "-c", script]);
      await skiffOk(store, ["commit", "mk", "linked"]);
      const r = await skiff(store, ["run", "--rm", "-u", "evil", "linked", "true"]);
      assert.equal(r.code, 125);
      assert.equal(r.stderr, "skiff: unable to find user evil: no matching entries in passwd file\n");
      const g = await skiff(store, ["run", "--rm", "-u", "0:evil", "linked", "true"]);
      assert.equal(g.code, 125, "the magic link is not followed");
      assert.match(g.stderr, /^skiff: Cannot resolve user "0:evil" in the container: openat2 .*ELOOP/);
    } finally {
      await Deno.remove(host);
    }
  });
});

test("exec runs as the container's user unless -u says; start keeps the user; inspect shows docker's fields", async () => {
  await withStore(async (store) => {
    await makeUsersImage(store);
    const id = (await skiffOk(store, [
      "run",
      "-d",
      "--name",
      "u",
      "--group-add",
      "audio",
      "--cap-add",
      "NET_ADMIN",
      "users",
      "sleep",
      "1000",
    ])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const probe = ["sh", "-c", "id; echo HOME=$HOME; grep CapEff /proc/self/status"];
    assert.equal(
      await skiffOk(store, ["exec", "u", ...probe]),
      "uid=1000(app) gid=1000(app) groups=10(wheel),29(audio),50(staff),1000(app)\nHOME=/home/app\nCapEff:\t0000000000001000\n",
    );
    assert.equal(
      await skiffOk(store, ["exec", "-u", "0", "u", ...probe]),
      "uid=0(root) gid=0(root) groups=0(root),10(wheel),29(audio)\nHOME=/root\nCapEff:\t00000000800415fb\n",
    );
    assert.equal(await skiffOk(store, ["exec", "-u", "nobody", "u", "id", "-u"]), "65534\n");
    const bad = await skiff(store, ["exec", "-u", "nobody2", "u", "true"]);
    assert.equal(bad.code, 125);
    assert.equal(bad.stderr, "skiff: unable to find user nobody2: no matching entries in passwd file\n");
    const [inspected] = JSON.parse(await skiffOk(store, ["inspect", "u"]));
    assert.equal(inspected.Config.User, "app");
    assert.deepEqual(inspected.HostConfig.CapAdd, ["CAP_NET_ADMIN"]);
    assert.deepEqual(inspected.HostConfig.GroupAdd, ["audio"]);
    await skiffOk(store, ["rm", "-f", "u"]);

    const nobody = "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n";
    assert.equal(await skiffOk(store, ["run", "--name", "s", "-u", "nobody", "busybox", "id"]), nobody);
    assert.equal(await skiffOk(store, ["start", "-a", "s"]), nobody, "start keeps the user");
  });
});

test("a build's RUN after USER runs as that user, as docker's", async () => {
  await withStore(async (store) => {
    const ctx = await Deno.makeTempDir({ prefix: "skiff-user-build-" });
    try {
      Deno.writeTextFileSync(
        `${ctx}/Dockerfile`,
        'FROM busybox\nUSER nobody\nRUN id -u > /tmp/uid\nUSER 0\nCMD ["cat", "/tmp/uid"]\n',
      );
      await skiffOk(store, ["build", "--network", "none", "-q", "-t", "who", ctx]);
      assert.equal(await skiffOk(store, ["run", "--rm", "who"]), "65534\n");
    } finally {
      await Deno.remove(ctx, { recursive: true });
    }
  });
});
