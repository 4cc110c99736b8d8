/**
 * End-to-end tests of `skiff build` as root: real Dockerfiles built from
 * busybox, the images run, the layer cache, and bad input leaving nothing
 * behind.
 */

import assert from "node:assert/strict";
import { entries, ROOT_ONLY, skiff, skiffOk, withStore } from "./helpers.ts";
import { processStartTime } from "../lib/host/proc.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

/** A context directory with `files` (path -> content), removed after `fn`. */
async function withContext(files: Record<string, string>, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-build-ctx-" });
  try {
    for (const [path, content] of Object.entries(files)) {
      await Deno.mkdir(`${dir}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
      await Deno.writeTextFile(`${dir}/${path}`, content);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const build = (store: string, args: string[]) => skiff(store, ["build", "--network", "none", ...args]);

async function inspect(store: string, ref: string) {
  return JSON.parse(await skiffOk(store, ["inspect", ref]))[0];
}

/** What the store keeps of unfinished work: no container, nothing in tmp/. */
async function assertNothingLeft(store: string): Promise<void> {
  assert.equal((await skiffOk(store, ["ps", "-aq"])).trim(), "", "no container is left");
  assert.deepEqual(
    entries(`${store}/tmp`).filter((e) => !e.startsWith("pin-")),
    [],
    "no staging dir is left",
  );
}

const MULTI = `# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM \${BASE} AS build
ARG GREETING=hello
ENV WHO=world
WORKDIR /src
COPY app/ ./
RUN echo "$GREETING $WHO" > greeting && \\
    cat greeting
RUN <<EOF
echo from-heredoc > /src/heredoc
EOF

FROM busybox
COPY --from=build /src /opt/app
COPY <<EOF /etc/motd
motd for \${BASE:-none}
EOF
ENV A=1 B="two words"
LABEL org.example.name="skiff test" version=1
EXPOSE 8080 53/udp
VOLUME /data
WORKDIR /opt/app
CMD ["cat", "greeting"]
ENTRYPOINT ["/bin/sh", "-c"]
USER 1000:1000
STOPSIGNAL SIGINT
`;

test("build makes a multi-stage image: its files, its config, its history", async () => {
  await withStore(async (store) => {
    await withContext(
      { Dockerfile: MULTI, "app/main.sh": "echo main\n", "app/lib/x": "x\n" },
      async (ctx) => {
        const r = await build(store, ["-t", "app:1", "-t", "app:latest", ctx]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /\[1\/2\] STEP 1\/7: FROM \$\{BASE\} AS build/);
        assert.match(r.stdout, /\[2\/2\] STEP 12\/12: STOPSIGNAL SIGINT/);
        assert.match(r.stdout, /^hello world$/m, "RUN's output is shown");
        assert.match(
          r.stdout,
          /Successfully tagged localhost\/app:1\nSuccessfully tagged localhost\/app:latest\n[0-9a-f]{64}\n$/,
        );
        const id = r.stdout.trim().split("\n").at(-1)!;
        const image = await inspect(store, "app:1");
        assert.equal(image.Id, `sha256:${id}`);
        const c = image.config;
        assert.deepEqual(c.Env.slice(-2), ["A=1", "B=two words"]);
        assert.deepEqual(c.Labels, { "org.example.name": "skiff test", version: "1" });
        assert.deepEqual(c.ExposedPorts, { "8080/tcp": {}, "53/udp": {} });
        assert.deepEqual(c.Volumes, { "/data": {} });
        assert.equal(c.WorkingDir, "/opt/app");
        assert.deepEqual(c.Cmd, ["cat", "greeting"], "a CMD of the stage itself stays after ENTRYPOINT");
        assert.deepEqual(c.Entrypoint, ["/bin/sh", "-c"]);
        assert.equal(c.User, "1000:1000");
        assert.equal(c.StopSignal, "SIGINT");
        // busybox's layer plus two COPY layers; the rest are empty_layer entries
        assert.equal(image.rootfs.diff_ids.length, 3);
        const layered = image.history.filter((h: { empty_layer?: boolean }) => !h.empty_layer);
        assert.equal(layered.length, 3);
        const out = await skiffOk(store, [
          "run",
          "--rm",
          "--entrypoint",
          "",
          "app:1",
          "sh",
          "-c",
          "cat /opt/app/greeting /opt/app/heredoc /opt/app/main.sh /opt/app/lib/x /etc/motd; pwd",
        ]);
        assert.equal(out, "hello world\nfrom-heredoc\necho main\nx\nmotd for none\n/opt/app\n");
        await assertNothingLeft(store);
      },
    );
  });
});

test("a second build is all cache hits with the same id; a changed file rebuilds from its COPY; --no-cache rebuilds all", async () => {
  await withStore(async (store) => {
    const dockerfile =
      'FROM busybox\nCOPY a /a\nRUN cat /a > /b\nCOPY c /c\nRUN cat /c >> /b\nCMD ["cat", "/b"]\n';
    await withContext({ Dockerfile: dockerfile, a: "one\n", c: "three\n" }, async (ctx) => {
      const first = await build(store, ["-t", "cached", ctx]);
      assert.equal(first.code, 0, first.stderr);
      assert.doesNotMatch(first.stdout, /Using cache/);
      const id = first.stdout.trim().split("\n").at(-1);
      const again = await build(store, ["-t", "cached", ctx]);
      assert.equal(again.stdout.match(/--> Using cache/g)?.length, 5, again.stdout);
      assert.equal(again.stdout.trim().split("\n").at(-1), id, "the same image id");
      // mtime alone is not a change
      await Deno.utime(`${ctx}/a`, new Date(0), new Date(0));
      assert.equal((await build(store, ["-q", ctx])).stdout.trim(), id);
      await Deno.writeTextFile(`${ctx}/c`, "changed\n");
      const changed = await build(store, ["-t", "cached", ctx]);
      assert.equal(changed.stdout.match(/--> Using cache/g)?.length, 2, changed.stdout);
      assert.match(changed.stdout, /STEP 4\/6: COPY c \/c\n--> [0-9a-f]{12}\n/);
      assert.equal(await skiffOk(store, ["run", "--rm", "cached"]), "one\nchanged\n");
      const none = await build(store, ["--no-cache", "-t", "cached", ctx]);
      assert.equal(none.code, 0, none.stderr);
      assert.doesNotMatch(none.stdout, /Using cache/);
      // image prune drops the cache with the other dangling images
      await skiffOk(store, ["image", "prune", "-f"]);
      const pruned = await build(store, [ctx]);
      assert.doesNotMatch(pruned.stdout, /Using cache/);
    });
  });
});

test("COPY and ADD: globs, dir contents, .dockerignore with !, --chown, --chmod, a local tar unpacked", async () => {
  await withStore(async (store) => {
    const files = {
      Dockerfile: [
        "FROM busybox",
        "COPY *.txt /globbed/",
        "COPY dir /contents",
        "COPY --chown=12:34 --chmod=0640 dir/one /owned",
        "COPY --chown=nobody dir/one /by-name",
        "ADD pack.tar.gz /unpacked/",
        "COPY . /all/",
      ].join("\n"),
      "a.txt": "a\n",
      "b.txt": "b\n",
      "c.md": "c\n",
      "dir/one": "1\n",
      "dir/sub/two": "2\n",
      "logs/x.log": "x\n",
      "logs/keep.log": "k\n",
      ".dockerignore": "*.md\nlogs\n!logs/keep.log\n",
    };
    await withContext(files, async (ctx) => {
      await Deno.mkdir(`${ctx}/pkg`);
      await Deno.writeTextFile(`${ctx}/pkg/inside`, "in\n");
      const tar = await new Deno.Command("tar", { args: ["-czf", `${ctx}/pack.tar.gz`, "-C", ctx, "pkg"] })
        .output();
      assert.equal(tar.code, 0);
      await Deno.remove(`${ctx}/pkg`, { recursive: true });
      const r = await build(store, ["-t", "copies", ctx]);
      assert.equal(r.code, 0, r.stderr);
      const script =
        'cd / && stat -c "%A %u:%g %n" globbed/* contents contents/* owned by-name unpacked/pkg/inside; ls -A all';
      const out = await skiffOk(store, ["run", "--rm", "copies", "sh", "-c", script]);
      assert.equal(
        out,
        [
          "-rw-r--r-- 0:0 globbed/a.txt",
          "-rw-r--r-- 0:0 globbed/b.txt",
          "drwxr-xr-x 0:0 contents",
          "-rw-r--r-- 0:0 contents/one",
          "drwxr-xr-x 0:0 contents/sub",
          "-rw-r----- 12:34 owned",
          "-rw-r--r-- 65534:65534 by-name",
          "-rw-r--r-- 0:0 unpacked/pkg/inside",
          ".dockerignore",
          "Dockerfile",
          "a.txt",
          "b.txt",
          "dir",
          "logs",
          "pack.tar.gz",
          "",
        ].join("\n"),
      );
      const kept = await skiffOk(store, ["run", "--rm", "copies", "ls", "/all/logs"]);
      assert.equal(kept, "keep.log\n", "! re-includes a file inside an excluded directory");
    });
  });
});

test("ARG scope: a meta ARG only in FROM unless declared again; --build-arg overrides; ENV wins over ARG", async () => {
  await withStore(async (store) => {
    const dockerfile = [
      "ARG IMG=busybox",
      "ARG V=meta",
      "FROM $IMG",
      'RUN echo "before:[$V]"',
      "ARG V",
      'RUN echo "after:[$V]"',
      "ARG X=default",
      'RUN echo "x:[$X]"',
      "ENV X=from-env",
      'RUN echo "env:[$X]"',
      "ARG UNUSEDDEFAULT",
      'ENV SEEN="${UNUSEDDEFAULT:-unset}"',
    ].join("\n");
    await withContext({ Dockerfile: dockerfile }, async (ctx) => {
      const r = await build(store, ["--build-arg", "X=given", "--build-arg", "NOBODY=1", "-t", "args", ctx]);
      assert.equal(r.code, 0, r.stderr);
      for (const line of ["before:[]", "after:[meta]", "x:[given]", "env:[from-env]"]) {
        assert.match(r.stdout, new RegExp(`^${line.replace(/[[\]]/g, "\\$&")}$`, "m"));
      }
      assert.match(r.stderr, /warning: the build arg "NOBODY" was not consumed/);
      const image = await inspect(store, "args");
      assert.ok(image.config.Env.includes("SEEN=unset"));
      assert.ok(!image.config.Env.some((e: string) => e.startsWith("V=")), "ARGs are not kept in the image");
    });
  });
});

test("-f - reads the Dockerfile from stdin, -q prints only the id, --target stops at a stage", async () => {
  await withStore(async (store) => {
    await withContext({}, async (ctx) => {
      const text =
        'FROM busybox AS one\nRUN echo quiet-run\nENV STAGE=one\nCMD ["x"]\nFROM one AS two\nENV STAGE=two\nENTRYPOINT ["echo"]\n';
      const r = await skiff(store, ["build", "-q", "-f", "-", "--target", "one", "-t", "staged", ctx], {
        stdin: text,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^[0-9a-f]{64}\n$/, "not even RUN's output");
      assert.ok((await inspect(store, "staged")).config.Env.includes("STAGE=one"));
      const all = await skiff(store, ["build", "-q", "-f", "-", "-t", "whole", ctx], { stdin: text });
      const whole = (await inspect(store, "whole")).config;
      assert.equal(all.code, 0, all.stderr);
      assert.ok(whole.Env.includes("STAGE=two"));
      assert.equal(whole.Cmd, undefined, "ENTRYPOINT resets the CMD the stage inherited, as docker");
    });
  });
});

test("bad input: one line naming what is wrong, a non-zero exit, nothing tagged or left", async () => {
  await withStore(async (store) => {
    await withContext({ "inside/f": "f\n" }, async (ctx) => {
      await Deno.symlink("/etc/passwd", `${ctx}/out`);
      // a tar whose member goes through a symlink to a host directory
      const victim = `${ctx}/victim`; // removed with the context
      await Deno.mkdir(victim);
      const py = [
        "import tarfile, io, sys",
        "t = tarfile.open(sys.argv[1], 'w')",
        "i = tarfile.TarInfo('l'); i.type = tarfile.SYMTYPE; i.linkname = sys.argv[2]; t.addfile(i)",
        "d = b'pwned'; i = tarfile.TarInfo('l/x'); i.size = len(d); t.addfile(i, io.BytesIO(d))",
        "t.close()",
      ].join("\n");
      const made = await new Deno.Command("python3", { args: ["-c", py, `${ctx}/evil.tar`, victim] })
        .output();
      assert.equal(made.code, 0);
      const cases: [string, RegExp, number][] = [
        [
          "FROM busybox\nRUN echo failing; exit 3\n",
          /^skiff: STEP 2\/2 RUN echo failing; exit 3: exit code 3\n$/,
          1,
        ],
        [
          "FROM busybox\nCOPY ../etc/passwd /\n",
          /^skiff: Dockerfile:2: Cannot copy "..\/etc\/passwd": it is outside the build context\n$/,
          125,
        ],
        [
          "FROM busybox\nCOPY out /\n",
          /^skiff: Dockerfile:2: Cannot copy "out": the symlink "out" points out of the build context/,
          125,
        ],
        [
          "FROM busybox\nCOPY nothing* /\n",
          /^skiff: Dockerfile:2: Cannot copy "nothing\*": no such file or directory in the build context\n$/,
          125,
        ],
        [
          "FROM busybox\nCOPY inside/f inside/f /file\n",
          /with more than one source the destination must be a directory/,
          125,
        ],
        ["FROM busybox\n\nBOGUS x\n", /^skiff: Dockerfile:3: unknown instruction: BOGUS\n$/, 125],
        ["FROM busybox\nRUN <<EOF\necho\n", /^skiff: Dockerfile:2: the heredoc "EOF" is not terminated/, 125],
        ["ENV A=1\nFROM busybox\n", /^skiff: Dockerfile:1: ENV before the first FROM/, 125],
        [
          "FROM busybox\nADD evil.tar /e/\n",
          /^skiff: Dockerfile:2: ADD failed: .*Cannot unpack .*Not a directory/,
          125,
        ],
      ];
      for (const [text, message, code] of cases) {
        const got = await skiff(store, ["build", "--network", "none", "-f", "-", "-t", "bad", ctx], {
          stdin: text,
        });
        assert.equal(got.code, code, `${text}: ${got.stderr}`);
        assert.match(got.stderr, message, text);
        if (code === 1) assert.match(got.stdout, /^failing$/m, "the failing step's output is shown");
      }
      const target = await skiff(store, ["build", "-f", "-", "--target", "nope", ctx], {
        stdin: "FROM busybox\n",
      });
      assert.match(target.stderr, /^skiff: Target stage "nope" not found in Dockerfile\n$/);
      assert.notEqual(target.code, 0);
      const missing = await build(store, [`${ctx}/inside`]);
      assert.match(
        missing.stderr,
        /^skiff: Cannot build: no Dockerfile or Containerfile in ".*inside"; give one with -f\n$/,
      );
      const noContext = await build(store, [`${ctx}/nowhere`]);
      assert.match(noContext.stderr, /^skiff: Cannot build: the context ".*nowhere" does not exist/);
      assert.equal((await skiff(store, ["inspect", "bad"])).code !== 0, true, "nothing is tagged");
      assert.deepEqual(entries(victim), [], "nothing was written through the archive's symlink");
      await assertNothingLeft(store);
    });
  });
});

test("FROM an image that is not stored pulls it through skiff's registry code", async () => {
  const { startRegistry } = await import("./_registry.ts");
  const registry = await startRegistry();
  const client = await Deno.makeTempDir({ prefix: "skiff-build-client-" });
  const env = {
    REGISTRY_AUTH_FILE: `${client}/auth.json`,
    CONTAINERS_REGISTRIES_CONF: `${client}/registries.conf`,
  };
  try {
    await Deno.writeTextFile(
      env.CONTAINERS_REGISTRIES_CONF,
      'unqualified-search-registries = ["docker.io"]\n',
    );
    const name = `${registry.host}/lib/base:1`;
    await withStore(async (store) => {
      await skiffOk(store, ["push", "-q", "busybox", name], { env });
    });
    await withStore(async (store) => {
      await withContext({ Dockerfile: `FROM ${name}\nRUN echo pulled > /p\n` }, async (ctx) => {
        const r = await skiff(store, ["build", "--network", "none", "-t", "frompulled", ctx], { env });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(await skiffOk(store, ["run", "--rm", "frompulled", "cat", "/p"]), "pulled\n");
        assert.match(await skiffOk(store, ["images"]), new RegExp(`${registry.host}/lib/base`));
      });
    }, { empty: true });
  } finally {
    await registry.stop();
    await Deno.remove(client, { recursive: true });
  }
});

test("a build removes the RUN containers a killed build left, never a live build's", async () => {
  await withStore(async (store) => {
    await skiffOk(store, ["run", "--name", "skiff-build-999999999-1-left", "busybox", "true"]);
    // named as a build of this (live) test process names its RUN containers
    const live = `skiff-build-${Deno.pid}-${processStartTime(Deno.pid)}-live`;
    await skiffOk(store, ["run", "--name", live, "busybox", "true"]);
    await withContext({ Dockerfile: "FROM busybox\nRUN true\n" }, async (ctx) => {
      const r = await build(store, ["-q", ctx]);
      assert.equal(r.code, 0, r.stderr);
    });
    const names = (await skiffOk(store, ["ps", "-a", "--format", "json"])).trim().split("\n")
      .map((l) => JSON.parse(l).name);
    assert.deepEqual(names, [live]);
  });
});

test("ADD fetches a URL (mode 0600, not unpacked) and checks --checksum", async () => {
  const body = "served\n";
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(body, { headers: { "last-modified": "Wed, 21 Oct 2015 07:28:00 GMT" } }),
  );
  const url = `http://127.0.0.1:${server.addr.port}/dir/file.txt`;
  const digest = `sha256:${
    [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)))]
      .map((b) => b.toString(16).padStart(2, "0")).join("")
  }`;
  try {
    await withStore(async (store) => {
      const dockerfile = `FROM busybox\nADD ${url} /srv/\nADD --checksum=${digest} ${url} /checked\n`;
      await withContext({ Dockerfile: dockerfile }, async (ctx) => {
        const r = await build(store, ["-t", "fetched", ctx]);
        assert.equal(r.code, 0, r.stderr);
        const out = await skiffOk(store, [
          "run",
          "--rm",
          "fetched",
          "sh",
          "-c",
          'stat -c "%a %u:%g %Y %n" /srv/file.txt /checked; cat /checked',
        ]);
        assert.equal(out, `600 0:0 1445412480 /srv/file.txt\n600 0:0 1445412480 /checked\n${body}`);
        const wrong = `sha256:${"0".repeat(64)}`;
        const bad = await skiff(store, ["build", "-f", "-", ctx], {
          stdin: `FROM busybox\nADD --checksum=${wrong} ${url} /x\n`,
        });
        assert.equal(bad.code, 125);
        assert.match(bad.stderr, new RegExp(`its digest is ${digest}, not the --checksum ${wrong}`));
        await assertNothingLeft(store);
      });
    });
  } finally {
    await server.shutdown();
  }
});

test("RUN on run's default network sees its /etc files, and its layer leaves the bound ones out", async () => {
  // in a namespace that plays the host (tests/_netns.ts): the bridge is made there, not on the real host
  const { withNetSandbox } = await import("./_netns.ts");
  await withStore((store) =>
    withNetSandbox(store, async (s) => {
      const dockerfile =
        "FROM scratch\nCOPY --from=busybox / /\nRUN --network=none rm -f /etc/hosts /etc/hostname\nRUN test -s /etc/resolv.conf && test -s /etc/hosts && echo made > /made\n";
      await withContext({ Dockerfile: dockerfile }, async (ctx) => {
        const r = await s.skiff(["build", "-t", "onnet", ctx]);
        assert.equal(r.code, 0, r.stderr);
        const image = JSON.parse(await s.skiffOk(["inspect", "onnet"]))[0];
        const last = image.rootfs.diff_ids.at(-1).slice(7);
        const tar = await new Deno.Command("tar", { args: ["-tf", `${store}/blobs/sha256/${last}`] })
          .output();
        // etc/ itself is there: making the mount points copied it up, as overlay does
        assert.deepEqual(new TextDecoder().decode(tar.stdout).trim().split("\n"), ["etc/", "made"]);
        const files = await s.skiffOk(["run", "--rm", "--network", "none", "onnet", "ls", "/etc"]);
        assert.doesNotMatch(files, /hosts|hostname|resolv/, "no mount point was kept as a file");
      });
    })
  );
});
