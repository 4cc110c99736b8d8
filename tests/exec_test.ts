/**
 * End-to-end tests of `exec` as root: the command runs in the container's
 * namespaces, root, cgroup, environment and capabilities, and nothing of
 * the host reaches it.
 */

import assert from "node:assert/strict";
import { background, ROOT_ONLY, skiff, skiffOk, skiffWithStrayFd, waitFor, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

const TICKER = "while true; do echo tick; sleep 0.1; done";

/** Runs `fn` with a detached ticker named "c" in a fresh store, stopped afterwards. */
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

/** A field of /proc/PID/status as the container sees it. */
const statusField = (status: string, field: string) =>
  new RegExp(`^${field}:\\s+(\\S+)$`, "m").exec(status)?.[1];

test("exec runs in the container's pid, uts and mount namespaces and returns the exit code", async () => {
  await withTicker(async (store, id) => {
    const ps = await skiffOk(store, ["exec", "c", "ps", "-o", "pid,comm"]);
    assert.match(ps, /^\s*1 sh$/m, "the container's PID 1 is its command");
    assert.match(ps, /^\s*\d+ ps$/m);
    assert.equal(await skiffOk(store, ["exec", "c", "hostname"]), `${id.slice(0, 12)}\n`);
    await skiffOk(store, ["exec", "c", "sh", "-c", "echo made > /made-by-exec"]);
    assert.equal(
      Deno.readTextFileSync(`${store}/containers/${id}/upper/made-by-exec`),
      "made\n",
      "the write lands in the container's writable layer",
    );
    assert.equal((await skiff(store, ["exec", "c", "sh", "-c", "exit 7"])).code, 7);
    assert.equal((await skiff(store, ["exec", "c", "sh", "-c", "kill -TERM $$"])).code, 143);
  });
});

test("exec gets the container's environment and working dir, -e and -w over them, stdin with -i", async () => {
  await withTicker(async (store, id) => {
    const env = await skiffOk(store, ["exec", "c", "env"]);
    assert.match(env, /^MODE=ticking$/m, "run's -e");
    assert.match(env, new RegExp(`^HOSTNAME=${id.slice(0, 12)}$`, "m"));
    assert.doesNotMatch(env, /^TERM=/m, "no terminal, no TERM");
    assert.doesNotMatch(env, /^(SKIFF|DENO)_/m, "nothing of skiff's environment");
    const over = await skiffOk(store, [
      "exec",
      "-e",
      "MODE=other",
      "-w",
      "/etc",
      "c",
      "sh",
      "-c",
      "pwd; echo $MODE",
    ]);
    assert.equal(over, "/etc\nother\n");
    assert.equal(await skiffOk(store, ["exec", "c", "pwd"]), "/tmp\n", "run's -w is the default");
    assert.equal(
      await skiffOk(store, ["exec", "-i", "c", "cat"], { stdin: "typed\n" }),
      "typed\n",
      "-i: stdin",
    );
    assert.equal(await skiffOk(store, ["exec", "c", "cat"], { stdin: "typed\n" }), "", "no -i: no stdin");
  }, ["-e", "MODE=ticking", "-w", "/tmp"]);
});

test("exec has the container's capabilities, its cgroup, and no descriptor of the host", async () => {
  await withTicker(async (store, id) => {
    const pid1 = await skiffOk(store, ["exec", "c", "cat", "/proc/1/status"]);
    const own = await skiffOk(store, ["exec", "c", "cat", "/proc/self/status"]);
    for (const field of ["CapBnd", "CapPrm", "CapEff"]) {
      assert.equal(statusField(own, field), statusField(pid1, field), field);
    }
    assert.equal(statusField(own, "CapInh"), "0000000000000000");
    assert.equal(statusField(own, "CapAmb"), "0000000000000000");
    const denied = await skiff(store, ["exec", "c", "mount", "-t", "tmpfs", "x", "/mnt"]);
    assert.notEqual(denied.code, 0, "no CAP_SYS_ADMIN: mount is refused");
    assert.match(
      await skiffOk(store, ["exec", "c", "cat", "/proc/self/cgroup"]),
      new RegExp(`pids:/skiff/${id}$`, "m"),
    );
    const fds = await skiffWithStrayFd(store, ["exec", "c", "sh", "-c", "ls /proc/$$/fd; true"]);
    assert.equal(fds.stdout, "0\n1\n2\n", "only stdin, stdout and stderr");
  });
});

test("exec runs the container's own command, not busybox's applet of the same name", async () => {
  await withTicker(async (store) => {
    await skiffOk(store, [
      "exec",
      "c",
      "sh",
      "-c",
      "mkdir -p /usr/local/bin && printf '#!/bin/sh\\necho container-ls\\n' > /usr/local/bin/ls && chmod +x /usr/local/bin/ls",
    ]);
    assert.equal(await skiffOk(store, ["exec", "c", "ls"]), "container-ls\n");
  });
});

test("exec -d returns at once and the command runs on in the container", async () => {
  await withTicker(async (store, id) => {
    // the command finishes only once the test lets it: no race with a timer
    const script = "until [ -e /go ]; do sleep 0.05; done; echo done > /detached";
    assert.equal(await skiffOk(store, ["exec", "-d", "c", "sh", "-c", script]), "");
    const upper = `${store}/containers/${id}/upper/detached`;
    assert.throws(() => Deno.statSync(upper), Deno.errors.NotFound, "returned before the command finished");
    await skiffOk(store, ["exec", "c", "touch", "/go"]);
    await waitFor(() => {
      try {
        return Deno.readTextFileSync(upper) === "done\n";
      } catch {
        return false;
      }
    });
    const bad = await skiff(store, ["exec", "-d", "-i", "c", "true"]);
    assert.match(bad.stderr, /^skiff: A detached exec takes no terminal or stdin/);
  });
});

test("exec's errors: a stopped or unknown container, a missing command or directory", async () => {
  await withTicker(async (store) => {
    const missing = await skiff(store, ["exec", "c", "nosuchcommand"]);
    assert.equal(missing.code, 127);
    assert.equal(missing.stderr, 'skiff: exec: "nosuchcommand": executable file not found in $PATH\n');
    const noDir = await skiff(store, ["exec", "-w", "/nowhere", "c", "true"]);
    assert.equal(noDir.code, 126);
    assert.match(noDir.stderr, /^skiff: Cannot exec in container "c": no directory "\/nowhere" in it; .+\n$/);
    const unknown = await skiff(store, ["exec", "nosuch", "true"]);
    assert.equal(unknown.code, 125);
    assert.equal(unknown.stderr, "skiff: No such container: nosuch\n");
    await skiffOk(store, ["stop", "-t", "0", "c"]);
    const stopped = await skiff(store, ["exec", "c", "true"]);
    assert.equal(stopped.code, 125);
    assert.match(stopped.stderr, /^skiff: Cannot exec in container "c": it is not running; .+\n$/);
  });
});

test("an exec'd process ends with its container", async () => {
  await withTicker(async (store) => {
    const exec = background(store, ["exec", "c", "sleep", "300"]);
    try {
      await waitFor(async () => /sleep 300/.test(await skiffOk(store, ["exec", "c", "ps", "-o", "args"])));
      await skiffOk(store, ["stop", "-t", "0", "c"]);
      assert.equal((await exec.child.status).code, 137, "killed with the container's pid namespace");
    } finally {
      await exec.stop();
    }
  });
});
