/**
 * End-to-end tests of `exec`, `kill`, `stop` and `logs` against hostile
 * or stale state, as root: an environment made to be misread, a record
 * whose pid now names another process, a log that cannot be read.
 */

import assert from "node:assert/strict";
import { processStartTime } from "../lib/host/proc.ts";
import { exists } from "../lib/store/store.ts";
import { ROOT_ONLY, skiff, skiffOk, waitFor, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

const TICKER = "while true; do echo tick; sleep 0.1; done";

/** Runs `fn` with a detached ticker named "c" in a fresh store, removed afterwards. */
function withTicker(fn: (store: string, id: string) => Promise<void>, runArgs: string[] = []) {
  return withStore(async (store) => {
    const id = (await skiffOk(store, ["run", "-d", "--name", "c", ...runArgs, "busybox", "sh", "-c", TICKER]))
      .trim();
    try {
      await fn(store, id);
    } finally {
      await skiff(store, ["rm", "-f", "c"]);
    }
  });
}

/** The container's record, as skiff keeps it. */
const recordPath = (store: string, id: string) => `${store}/containers/${id}/config.json`;

/** Rewrites the container's record with `edit`, and returns a function that puts the original back. */
function editRecord(store: string, id: string, edit: (r: Record<string, unknown>) => void): () => void {
  const original = Deno.readTextFileSync(recordPath(store, id));
  const record = JSON.parse(original);
  edit(record);
  Deno.writeTextFileSync(recordPath(store, id), JSON.stringify(record));
  return () => Deno.writeTextFileSync(recordPath(store, id), original);
}

const capEff = (status: string) => /^CapEff:\s+(\S+)$/m.exec(status)?.[1];

test("exec runs nothing of the image before the command, whatever the container's Env holds", async () => {
  await withTicker(async (store, id) => {
    // /bin/pwn records the capabilities it runs with. An Env entry without
    // "=" ("pwn", as an image may carry it) was once taken by `env` for the
    // command to run, with CAP_SYS_ADMIN still held; a key that looks like
    // an option was taken for one.
    await skiffOk(store, [
      "exec",
      "c",
      "sh",
      "-c",
      "printf '#!/bin/sh\\ngrep CapEff /proc/self/status >> /pwned\\n' > /bin/pwn && chmod +x /bin/pwn",
    ]);
    const restore = editRecord(store, id, (r) => {
      (r.env as string[]).push("pwn", "-u=PATH", "-i");
    });
    try {
      const out = await skiffOk(store, ["exec", "c", "sh", "-c", "grep CapEff /proc/self/status; env"]);
      const pid1 = await skiffOk(store, ["exec", "c", "grep", "CapEff", "/proc/1/status"]);
      const pwned = `${store}/containers/${id}/upper/pwned`;
      assert.ok(
        !exists(pwned),
        `the image's /bin/pwn ran, with ${exists(pwned) ? Deno.readTextFileSync(pwned).trim() : ""}`,
      );
      assert.equal(capEff(out), capEff(pid1), "the command has the capabilities of the container's PID 1");
      assert.match(out, /^PATH=\//m, "an entry that looks like an option is data: PATH is still set");
    } finally {
      restore();
    }
  });
});

test("exec passes the environment verbatim: spaces, =, quotes, $(...) and odd keys", async () => {
  await withTicker(async (store, id) => {
    const value = `a b=c "d" 'e' $(touch /injected) \`touch /injected\` \\n $HOME`;
    const out = await skiffOk(store, [
      "exec",
      "-e",
      `V=${value}`,
      "-e",
      "A.B=dotted",
      "-e",
      "EMPTY=",
      "c",
      "cat",
      "/proc/self/environ",
    ]);
    const env = out.split("\0");
    assert.ok(env.includes(`V=${value}`), `V reaches the command as given: ${JSON.stringify(env)}`);
    assert.ok(env.includes("A.B=dotted"), "a key that is no shell name is passed on, as docker does");
    assert.ok(env.includes("EMPTY="), "an empty value is a value");
    assert.ok(env.includes("MODE=run's"), "run's -e is there too");
    assert.ok(!exists(`${store}/containers/${id}/upper/injected`), "nothing of the value was run");
  }, ["-e", "MODE=run's"]);
});

test("-e is KEY=VALUE: a bare KEY, a newline, NUL or empty key is refused in one line, for exec and run", async () => {
  await withTicker(async (store) => {
    // A bare -e KEY is refused (docker would pass on the caller's value):
    // skiff takes only what the command line spells out.
    for (const bad of ["FROM_CALLER", "A=b\nc", "A\nB=c", "=value", "="]) {
      const r = await skiff(store, ["exec", "-e", bad, "c", "true"], { env: { FROM_CALLER: "x" } });
      assert.equal(r.code, 125, bad);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /^skiff: Invalid environment variable ".+": use -e KEY=VALUE \(.+\)\n$/, bad);
      assert.equal(r.stderr.split("\n").length, 2, `one line: ${r.stderr}`);
    }
    const run = await skiff(store, ["run", "--rm", "-e", "A=b\nc", "busybox", "true"]);
    assert.equal(run.code, 125);
    assert.match(
      run.stderr,
      /^skiff: Invalid environment variable "A=b\\nc": use -e KEY=VALUE \(it holds a newline\)\n$/,
    );
  });
});

test("commit -c ENV is held to KEY=VALUE on one line, and a refused change makes no image", async () => {
  await withTicker(async (store) => {
    for (const change of ["ENV A=x\ny", "ENV A\nB=c", "ENV =x"]) {
      const r = await skiff(store, ["commit", "-c", change, "c", "refused"]);
      assert.equal(r.code, 125, change);
      assert.match(r.stderr, /^skiff: Invalid change .+\n$/, change);
      assert.equal(r.stderr.split("\n").length, 2, `one line: ${r.stderr}`);
    }
    assert.doesNotMatch(await skiffOk(store, ["images"]), /refused/);
    await skiffOk(store, ["commit", "-c", "ENV A=x y", "c", "kept"]);
    assert.match(await skiffOk(store, ["run", "--rm", "kept", "env"]), /^A=x y$/m);
  });
});

/**
 * Starts an innocent process with a child, standing for whatever reused
 * the pid of a container's keeper: `kill` and `stop` must leave it alone.
 */
function innocent(): { pid: number; child: () => number | undefined; stop: () => Promise<void> } {
  const proc = new Deno.Command("/bin/busybox", {
    args: ["sh", "-c", "sleep 1000 & wait"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const child = () => {
    try {
      const children = Deno.readTextFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`).trim();
      return children === "" ? undefined : Number(children.split(" ")[0]);
    } catch {
      return undefined;
    }
  };
  return {
    pid: proc.pid,
    child,
    async stop() {
      const grandchild = child();
      for (const pid of [grandchild, proc.pid]) {
        try {
          if (pid !== undefined) Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
      await proc.status;
    },
  };
}

test("kill and stop check the keeper's identity: a reused pid is not signalled", async () => {
  await withTicker(async (store, id) => {
    const other = innocent();
    let restore = () => {};
    try {
      await waitFor(() => other.child() !== undefined);
      const sleeper = other.child()!;
      const startTime = processStartTime(other.pid)!;
      // The record names the innocent process with another start time: the
      // keeper died and its pid was given to this one.
      restore = editRecord(store, id, (r) => {
        r.pid = other.pid;
        r.pidStartTime = startTime + 1;
      });
      const kill = await skiff(store, ["kill", "-s", "TERM", "c"]);
      assert.equal(kill.code, 1);
      assert.equal(kill.stderr, 'skiff: Cannot kill container "c": it is not running\n');
      assert.equal(await skiffOk(store, ["stop", "-t", "0", "c"]), "c\n", "nothing to stop");
      assert.equal(processStartTime(sleeper) !== null, true, "the innocent process lives");
      assert.equal(other.child(), sleeper);
    } finally {
      restore();
      await other.stop();
    }
  });
});

test("kill names the container in its errors", async () => {
  await withTicker(async (store) => {
    await skiffOk(store, ["stop", "-t", "0", "c"]);
    const r = await skiff(store, ["kill", "c"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'skiff: Cannot kill container "c": it is not running\n');
    const bad = await skiff(store, ["kill", "-s", "NOPE", "c"]);
    assert.match(bad.stderr, /^skiff: Unknown signal "NOPE": .+\n$/);
  });
});

test("logs says what failed: no log of a foreground container, an unreadable or damaged log", async () => {
  await withStore(async (store) => {
    try {
      await skiffOk(store, ["run", "--name", "fg", "busybox", "true"]);
      const fg = await skiff(store, ["logs", "fg"]);
      assert.equal(fg.code, 125);
      assert.match(fg.stderr, /^skiff: No logs for container "fg": it ran in the foreground/);

      const id =
        (await skiffOk(store, ["run", "-d", "--name", "bg", "busybox", "sh", "-c", "echo one; echo two"]))
          .trim();
      await waitFor(async () => (await skiffOk(store, ["ps", "-a"])).includes("Exited"));
      assert.equal(await skiffOk(store, ["logs", "bg"]), "one\ntwo\n");
      const log = `${store}/containers/${id}/log`;
      const good = Deno.readTextFileSync(log);

      Deno.writeTextFileSync(log, good.replace("\n", "\n\x00garbage line\n"));
      const damaged = await skiff(store, ["logs", "bg"]);
      assert.equal(damaged.code, 125);
      assert.match(
        damaged.stderr,
        /^skiff: Cannot read the logs of container "bg": line 2 of .+log is damaged/,
      );
      assert.equal(damaged.stderr.split("\n").length, 2, `one line: ${damaged.stderr}`);

      Deno.removeSync(log);
      Deno.symlinkSync("log", log); // a loop: open fails with ELOOP, not "no such file"
      const looped = await skiff(store, ["logs", "bg"]);
      assert.equal(looped.code, 125);
      assert.match(looped.stderr, /^skiff: Cannot read the logs of container "bg": .*symbolic links/);
      assert.doesNotMatch(looped.stderr, /foreground/);

      Deno.removeSync(log);
      Deno.mkdirSync(log);
      const dir = await skiff(store, ["logs", "bg"]);
      assert.equal(dir.code, 125);
      assert.match(dir.stderr, /^skiff: Cannot read the logs of container "bg": .*directory/i);
    } finally {
      await skiff(store, ["rm", "-f", "fg", "bg"]);
    }
  });
});

test("run's and exec's commands start with no signal ignored or blocked (Deno ignores SIGPIPE)", async () => {
  await withTicker(async (store) => {
    const fields = (status: string) => status.split("\n").filter((l) => /^Sig(Ign|Blk):/.test(l));
    const zero = ["SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"];
    const exec = await skiffOk(store, ["exec", "c", "cat", "/proc/self/status"]);
    assert.deepEqual(fields(exec), zero, "exec");
    const run = await skiffOk(store, ["run", "--rm", "busybox", "cat", "/proc/self/status"]);
    assert.deepEqual(fields(run), zero, "run");
  });
});

test("exec's own machinery does not count against the container's pids limit; the command does", async () => {
  await withStore(async (store) => {
    const id =
      (await skiffOk(store, ["run", "-d", "--name", "p", "--pids-limit", "3", "busybox", "sleep", "300"]))
        .trim();
    try {
      const out = await skiffOk(store, ["exec", "p", "cat", "/proc/self/cgroup"]);
      assert.match(out, new RegExp(`pids:/skiff/${id}$`, "m"), "the command is in the container's cgroup");
      const forks = await skiff(store, ["exec", "p", "sh", "-c", "sleep 1 & sleep 1 & sleep 1 & wait"]);
      assert.notEqual(forks.code, 0, "the limit holds for what the command starts");
    } finally {
      await skiff(store, ["rm", "-f", "p"]);
    }
  });
});
