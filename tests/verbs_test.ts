/**
 * End-to-end tests, as root, of the everyday verbs scripts use (issue 18):
 * wait, rename, pause and unpause, top, diff, history and the prunes, with
 * output matched to docker's format.
 */

import assert from "node:assert/strict";
import { childrenOf, isAlive, processStartTime } from "../lib/host/proc.ts";
import { exists } from "../lib/store/store.ts";
import { background, ROOT_ONLY, skiff, skiffOk, underScript, waitFor, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

/** A container command that exits `code` once `/go` exists (made with exec). */
const UNTIL_GO = (code: number) => `until [ -e /go ]; do sleep 0.05; done; exit ${code}`;

/** Kills every container left running in the store (its teardown). */
async function stopAll(store: string): Promise<void> {
  const ids = (await skiffOk(store, ["ps", "-q"])).trim().split("\n").filter((i) => i !== "");
  if (ids.length > 0) await skiff(store, ["rm", "-f", ...ids]);
}

test("wait prints each container's exit code in order, once it exits, and exits 0", async () => {
  await withStore(async (store) => {
    try {
      await skiffOk(store, ["run", "-d", "--name", "three", "busybox", "sh", "-c", "exit 3"]);
      await skiffOk(store, ["run", "-d", "--name", "later", "busybox", "sh", "-c", UNTIL_GO(5)]);
      const waiting = background(store, ["wait", "later", "three"], "piped");
      try {
        // still waiting for "later", which runs until /go exists
        assert.match(await skiffOk(store, ["ps"]), /Up .+later\n/);
        await skiffOk(store, ["exec", "later", "touch", "/go"]);
        const { code, stdout } = await waiting.child.output();
        assert.equal(new TextDecoder().decode(stdout), "5\n3\n");
        assert.equal(code, 0);
      } finally {
        await waiting.stop().catch(() => {});
      }
      assert.equal(await skiffOk(store, ["wait", "three"]), "3\n", "an exited container: at once");
    } finally {
      await stopAll(store);
    }
  });
});

test("wait for an unknown container says so, one line, and exits 1 after the others", async () => {
  await withStore(async (store) => {
    assert.equal((await skiff(store, ["run", "--name", "seven", "busybox", "sh", "-c", "exit 7"])).code, 7);
    const r = await skiff(store, ["wait", "nosuch", "seven"]);
    assert.equal(r.stdout, "7\n");
    assert.equal(r.stderr, "skiff: No such container: nosuch\n");
    assert.equal(r.code, 1);
  });
});

test("rename renames a running container; a name in use, the same name or a bad one change nothing", async () => {
  await withStore(async (store) => {
    try {
      const id = (await skiffOk(store, ["run", "-d", "--name", "old", "busybox", "sleep", "300"])).trim();
      await skiffOk(store, ["run", "--name", "taken", "busybox", "true"]);
      const names = async () =>
        (await skiffOk(store, ["ps", "-a", "--format", "json"])).trim().split("\n")
          .map((l) => JSON.parse(l).name).sort();

      const inUse = await skiff(store, ["rename", "old", "taken"]);
      assert.equal(inUse.code, 125);
      assert.match(
        inUse.stderr,
        /^skiff: The container name "taken" is already in use by container [0-9a-f]{12}; remove it or choose another name\n$/,
      );
      const same = await skiff(store, ["rename", "old", "old"]);
      assert.equal(
        same.stderr,
        'skiff: Renaming a container with the same name as its current name: "old"\n',
      );
      assert.equal(same.code, 125);
      const bad = await skiff(store, ["rename", "old", "-x"]);
      assert.equal(bad.code, 125);
      assert.equal(bad.stderr.split("\n").length, 2, "one line");
      const unknown = await skiff(store, ["rename", "nosuch", "new"]);
      assert.equal(unknown.stderr, "skiff: No such container: nosuch\n");
      assert.equal(unknown.code, 125);
      assert.deepEqual(await names(), ["old", "taken"], "nothing changed");

      assert.equal(await skiffOk(store, ["rename", id.slice(0, 12), "new"]), "");
      assert.deepEqual(await names(), ["new", "taken"]);
      assert.match(await skiffOk(store, ["ps"]), new RegExp(`${id.slice(0, 12)} .+Up .+ new\\n`));
      assert.equal((await skiffOk(store, ["exec", "new", "hostname"])).trim(), id.slice(0, 12));
      await skiffOk(store, ["run", "-d", "--name", "old", "busybox", "true"]); // the old name is free again
    } finally {
      await stopAll(store);
    }
  });
});

const FREEZER = "/sys/fs/cgroup/freezer";
/** A container command that counts in /n, so a test sees whether it runs. */
const COUNTER = "i=0; while true; do i=$((i+1)); echo $i > /n; sleep 0.05; done";

/** The record `inspect` shows. */
async function inspect(store: string, ref: string): Promise<{ id: string; status: string; pid?: number }> {
  return JSON.parse(await skiffOk(store, ["inspect", ref]))[0];
}

const freezerState = (id: string) =>
  Deno.readTextFileSync(`${FREEZER}/skiff-pause-${id}/freezer.state`).trim();

test("pause freezes a container until unpause, and survives the sweep of a dead commit's freezer", async () => {
  await withStore(async (store) => {
    const orphan = `${FREEZER}/skiff-freeze-999999999-1-1`; // a commit by a skiff that is gone
    try {
      const id = (await skiffOk(store, ["run", "-d", "--name", "counter", "busybox", "sh", "-c", COUNTER]))
        .trim();
      const n = `${store}/containers/${id}/upper/n`;
      await waitFor(() => exists(n), "the counter to start");
      assert.equal(await skiffOk(store, ["pause", "counter"]), "counter\n");
      const pid1 = childrenOf((await inspect(store, "counter")).pid!)[0];
      assert.equal(freezerState(id), "FROZEN");
      assert.ok(Deno.readTextFileSync(`${FREEZER}/skiff-pause-${id}/cgroup.procs`).includes(`${pid1}\n`));

      Deno.mkdirSync(orphan);
      assert.match(
        await skiffOk(store, ["ps"]),
        new RegExp(`${id.slice(0, 12)} .+ Up .+ \\(Paused\\)\\s+counter\\n`),
      );
      assert.ok(!exists(orphan), "the sweep ran");
      assert.equal((await inspect(store, "counter")).status, "paused");
      // a commit reads the paused container as it is, and leaves it paused
      await skiffOk(store, ["commit", "counter", "counted:1"]);
      assert.equal(freezerState(id), "FROZEN", "still frozen after the sweep and a commit");
      assert.equal((await inspect(store, "counter")).status, "paused");
      const frozenAt = Deno.readTextFileSync(n);
      assert.equal(
        await skiffOk(store, ["run", "--rm", "counted:1", "cat", "/n"]),
        frozenAt,
        "the commit saw the frozen moment",
      );

      assert.equal(await skiffOk(store, ["unpause", "counter"]), "counter\n");
      assert.ok(!exists(`${FREEZER}/skiff-pause-${id}`), "its freezer cgroup is gone");
      await waitFor(() => Deno.readTextFileSync(n) !== frozenAt, "the counter to count again");
      assert.match(await skiffOk(store, ["ps"]), new RegExp(`Up [^(\\n]+counter\\n`));
      assert.equal((await inspect(store, "counter")).status, "running");
    } finally {
      if (exists(orphan)) Deno.removeSync(orphan);
      await stopAll(store);
    }
  });
});

test("pause and unpause refuse a container in the wrong state, changing nothing; exec refuses a paused one", async () => {
  await withStore(async (store) => {
    try {
      await skiffOk(store, ["run", "--name", "done", "busybox", "true"]);
      await skiffOk(store, ["run", "-d", "--name", "up", "busybox", "sleep", "300"]);
      const refused = async (args: string[], message: string) => {
        const r = await skiff(store, args);
        assert.equal(r.stderr, `skiff: ${message}\n`);
        assert.equal(r.code, 1, args.join(" "));
        assert.equal(r.stdout, "");
      };
      await refused(["pause", "done"], 'Container "done" is not running');
      await refused(["unpause", "up"], 'Container "up" is not paused');
      await refused(["pause", "nosuch"], "No such container: nosuch");
      assert.equal((await inspect(store, "done")).status, "exited");
      assert.equal((await inspect(store, "up")).status, "running");
      await skiffOk(store, ["pause", "up"]);
      await refused(["pause", "up"], 'Container "up" is already paused');
      const exec = await skiff(store, ["exec", "up", "true"]);
      assert.equal(exec.stderr, 'skiff: Container "up" is paused, unpause the container before exec\n');
      assert.equal(exec.code, 125);
      assert.equal((await inspect(store, "up")).status, "paused");
    } finally {
      await stopAll(store);
    }
  });
});

test("stop, kill and rm -f of a paused container thaw it and end it", async () => {
  await withStore(async (store) => {
    try {
      const ids: Record<string, string> = {};
      for (const name of ["stopped", "killed", "removed"]) {
        const trap = "trap 'exit 7' TERM; while true; do sleep 0.05; done";
        ids[name] = (await skiffOk(store, ["run", "-d", "--name", name, "busybox", "sh", "-c", trap])).trim();
        await skiffOk(store, ["pause", name]);
      }
      assert.equal(await skiffOk(store, ["stop", "stopped"]), "stopped\n");
      assert.equal(await skiffOk(store, ["kill", "killed"]), "killed\n");
      assert.equal(await skiffOk(store, ["rm", "-f", "removed"]), "removed\n");
      assert.equal(
        await skiffOk(store, ["wait", "stopped", "killed"]),
        "7\n137\n",
        "SIGTERM reached the trap",
      );
      const ps = await skiffOk(store, ["ps", "-a"]);
      assert.doesNotMatch(ps, /removed/);
      for (const id of Object.values(ids)) {
        assert.ok(!exists(`${FREEZER}/skiff-pause-${id}`), "no freezer left");
      }
    } finally {
      await stopAll(store);
    }
  });
});

test("top shows the container's processes as docker's ps -ef table, or with the ps options given", async () => {
  await withStore(async (store) => {
    try {
      await skiffOk(store, ["run", "-d", "--name", "two", "busybox", "sh", "-c", "sleep 300 & wait"]);
      const keeper = (await inspect(store, "two")).pid!;
      const pid1 = childrenOf(keeper)[0];
      await waitFor(() => childrenOf(pid1).length === 1, "the sleep to start");
      const sleep = childrenOf(pid1)[0];
      await waitFor(() => Deno.readTextFileSync(`/proc/${sleep}/comm`) === "sleep\n", "sleep to exec");
      const lines = (await skiffOk(store, ["top", "two"])).split("\n");
      assert.equal(
        lines[0],
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"].map((t, i) => i === 7 ? t : t.padEnd(20))
          .join(""),
      );
      const row = (pid: number, ppid: number, cmd: string) =>
        new RegExp(`^root {16}${pid} +${ppid} +\\d+ +\\S+ +\\? +\\d\\d:\\d\\d:\\d\\d +${cmd}$`);
      assert.match(lines[1], row(pid1, keeper, "sh -c sleep 300 & wait"));
      assert.match(lines[2], row(sleep, pid1, "sleep 300"));
      assert.deepEqual(lines.slice(3), [""]);
      assert.equal(
        await skiffOk(store, ["top", "two", "-o", "pid,comm"]),
        `PID                 COMMAND\n${String(pid1).padEnd(20)}sh\n${String(sleep).padEnd(20)}sleep\n`,
      );

      const bad = await skiff(store, ["top", "two", "--no-such-option"]);
      assert.match(bad.stderr, /^skiff: Error running ps: .+ \(ps exited with status 1\)\n$/);
      assert.equal(bad.code, 125);
      await skiffOk(store, ["run", "--name", "done", "busybox", "true"]);
      const stopped = await skiff(store, ["top", "done"]);
      assert.equal(stopped.stderr, 'skiff: Container "done" is not running\n');
      assert.equal(stopped.code, 125);
    } finally {
      await stopAll(store);
    }
  });
});

test("diff lists a container's changes as docker does: whiteouts and opaque dirs as D, mount points left out", async () => {
  await withStore(async (store) => {
    const volume = await Deno.makeTempDir({ prefix: "skiff-diff-vol-" });
    try {
      const changes =
        "echo hi > /tmp/x; rm /bin/ls; mkdir -p /etc/new; rm -rf /root; mkdir /root; touch /root/r";
      await skiffOk(store, [
        "run",
        "--name",
        "changed",
        "-v",
        `${volume}:/data`,
        "busybox",
        "sh",
        "-c",
        changes,
      ]);
      assert.equal(
        await skiffOk(store, ["diff", "changed"]),
        "C /bin\nD /bin/ls\nC /etc\nA /etc/new\nD /root\nA /root/r\nC /tmp\nA /tmp/x\n",
      );
      await skiffOk(store, [
        "run",
        "-d",
        "--name",
        "live",
        "busybox",
        "sh",
        "-c",
        `touch /new; ${UNTIL_GO(0)}`,
      ]);
      await waitFor(
        async () => (await skiffOk(store, ["diff", "live"])) === "A /new\n",
        "the running one's change",
      );
      const unknown = await skiff(store, ["diff", "nosuch"]);
      assert.equal(unknown.stderr, "skiff: No such container: nosuch\n");
      assert.equal(unknown.code, 125);
    } finally {
      await stopAll(store);
      await Deno.remove(volume, { recursive: true });
    }
  });
});

test("history shows an image's entries newest first, in docker's columns; -q, --no-trunc, and an unknown image", async () => {
  await withStore(async (store) => {
    await skiffOk(store, ["run", "--name", "c", "busybox", "sh", "-c", "echo hi > /x"]);
    const id = (await skiffOk(store, ["commit", "-m", "add x", "c", "mine:1"])).trim().slice(7);
    const tar = `${store}/a-rootfs-tarball-with-a-rather-long-name.tar`;
    await skiffOk(store, ["export", "-o", tar, "c"]);
    await skiffOk(store, ["import", tar, "long:1"]);

    const lines = (await skiffOk(store, ["history", "mine:1"])).split("\n");
    // columns as wide as their widest cell plus 3, at least 10; CREATED's varies with the time
    assert.match(lines[0], /^IMAGE {10}CREATED {3,}CREATED BY {34}SIZE {6}COMMENT$/);
    const cid = (await inspect(store, "c")).id.slice(0, 12);
    const size = "[\\d.]+(B|kB|MB)";
    assert.match(lines[1], new RegExp(`^${id.slice(0, 12)}   .+ ago +skiff commit ${cid} +${size} +add x$`));
    assert.match(
      lines[2],
      new RegExp(`^<missing>      .+ ago +skiff images/busybox.ts from /bin/busybox +${size} +$`),
    );
    assert.deepEqual(lines.slice(3), [""]);
    assert.equal(await skiffOk(store, ["history", "-q", "mine:1"]), `${id.slice(0, 12)}\n<missing>\n`);
    assert.equal(
      await skiffOk(store, ["history", "-q", "--no-trunc", "mine:1"]),
      `sha256:${id}\n<missing>\n`,
    );

    const [long] = (await skiffOk(store, ["history", "long:1"])).split("\n").slice(1);
    const createdBy = long.split(/ {3,}/)[2];
    assert.equal([...createdBy].length, 45, "cut to 45 characters");
    assert.ok(createdBy.endsWith("…"));
    assert.ok(
      (await skiffOk(store, ["history", "--no-trunc", "long:1"])).includes(tar),
      "whole with --no-trunc",
    );

    const unknown = await skiff(store, ["history", "nosuch"]);
    assert.equal(unknown.stderr, "skiff: No such image: nosuch\n");
    assert.equal(unknown.code, 125);
  });
});

const ids = async (store: string) =>
  (await skiffOk(store, ["ps", "-aq", "--no-trunc"])).trim().split("\n").sort();

test("container prune removes the exited containers only, printing their ids and the space of their layers", async () => {
  await withStore(async (store) => {
    try {
      const wrote = (await skiffOk(store, ["run", "-d", "busybox", "sh", "-c", "echo hello > /f"])).trim();
      const idle = (await skiffOk(store, ["run", "-d", "busybox", "true"])).trim();
      const up = (await skiffOk(store, ["run", "-d", "busybox", "sleep", "300"])).trim();
      await skiffOk(store, ["wait", wrote, idle]);

      const refused = await skiff(store, ["container", "prune"]);
      assert.equal(
        refused.stderr,
        'skiff: "skiff container prune" asks before it removes anything, and stdin is not a terminal: use -f to prune without asking\n',
      );
      assert.equal(refused.code, 125);
      assert.deepEqual(await ids(store), [wrote, idle, up].sort(), "nothing removed");

      const no = (await underScript(store, "skiff container prune", "n\n")).out;
      // the terminal echoes the answer when it is typed, before or after the prompt
      assert.ok(
        no.includes(
          "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ",
        ),
        no,
      );
      assert.doesNotMatch(no, /Deleted|Total/);
      assert.deepEqual(await ids(store), [wrote, idle, up].sort(), "a no removes nothing");

      const out = await skiffOk(store, ["container", "prune", "-f"]);
      const [title, ...rest] = out.split("\n");
      assert.equal(title, "Deleted Containers:");
      assert.deepEqual(rest.slice(0, 2).sort(), [wrote, idle].sort());
      assert.deepEqual(rest.slice(2), ["", "Total reclaimed space: 6B", ""], "hello\\n is 6 bytes");
      assert.deepEqual(await ids(store), [up], "the running one stays");
      assert.equal(await skiffOk(store, ["container", "prune", "-f"]), "Total reclaimed space: 0B\n");

      await skiffOk(store, ["stop", "-t", "0", up]);
      const yes = (await underScript(store, "skiff container prune", "y\n")).out;
      assert.match(yes, new RegExp(`Deleted Containers:\n${up}\n\nTotal reclaimed space: 0B\n$`));
      assert.equal(await skiffOk(store, ["ps", "-aq"]), "");
    } finally {
      await stopAll(store);
    }
  });
});

test("volume prune removes the volumes no container uses, running or not, and never one in use", async () => {
  await withStore(async (store) => {
    try {
      for (const v of ["free1", "free2", "kept-exited", "kept-running"]) {
        await skiffOk(store, ["volume", "create", v]);
      }
      await skiffOk(store, ["run", "--rm", "-v", "free1:/d", "busybox", "sh", "-c", "echo data > /d/f"]);
      await skiffOk(store, ["run", "-v", "kept-exited:/d", "busybox", "sh", "-c", "echo more > /d/f"]);
      await skiffOk(store, ["run", "-d", "-v", "kept-running:/d", "busybox", "sleep", "300"]);

      const refused = await skiff(store, ["volume", "prune"]);
      assert.match(
        refused.stderr,
        /^skiff: "skiff volume prune" asks before it removes anything.+use -f.+\n$/,
      );
      assert.equal(refused.code, 125);

      assert.equal(
        await skiffOk(store, ["volume", "prune", "-f"]),
        "Deleted Volumes:\nfree1\nfree2\n\nTotal reclaimed space: 5B\n",
      );
      const left = (await skiffOk(store, ["volume", "ls"])).trim().split("\n").slice(1).map((l) =>
        l.split(/\s+/)[1]
      );
      assert.deepEqual(left, ["kept-exited", "kept-running"]);
      assert.equal(await skiffOk(store, ["volume", "prune", "-f"]), "Total reclaimed space: 0B\n");
    } finally {
      await stopAll(store);
    }
  });
});

test("a paused container whose supervisor is SIGKILLed is thawed by the next command, so it dies and is recorded", async () => {
  await withStore(async (store) => {
    await skiffOk(store, ["run", "-d", "--name", "orphan", "busybox", "sleep", "300"]);
    await skiffOk(store, ["pause", "orphan"]);
    const [record] = JSON.parse(await skiffOk(store, ["inspect", "orphan"]));
    const pid1 = childrenOf(record.pid)[0];
    const pid1Start = processStartTime(pid1)!;
    Deno.kill(record.owner.pid, "SIGKILL");
    await waitFor(() => !isAlive(record.owner.pid, record.owner.startTime), "the supervisor to die");
    assert.match(await skiffOk(store, ["ps", "-a"]), /Exited \(137\) .+orphan\n/);
    assert.ok(!exists(`${FREEZER}/skiff-pause-${record.id}`), "its freezer cgroup is gone");
    await waitFor(() => !isAlive(pid1, pid1Start), "the thawed PID 1 to take its SIGKILL");
  });
});
