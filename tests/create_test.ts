/**
 * End-to-end tests, as root, of `create` + `start` and `--restart` (issue
 * 18): a created container has a record and a layer and no process until
 * started; a detached container's supervisor restarts it by its policy.
 */

import assert from "node:assert/strict";
import { ROOT_ONLY, skiff, skiffOk, waitFor, withStore } from "./helpers.ts";
import { isAlive } from "../lib/host/proc.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

test("create makes a record and a layer, no process; start runs it; rm takes a created one", async () => {
  await withStore(async (store) => {
    const id = (await skiffOk(store, [
      "create",
      "--network",
      "none",
      "--name",
      "c",
      "-e",
      "A=1",
      "busybox",
      "sh",
      "-c",
      "echo hi $A; exit 4",
    ]))
      .trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(await skiffOk(store, ["ps", "-q"]), "", "not running");
    assert.match(await skiffOk(store, ["ps", "-a"]), / {3}Created {3,}c\n$/);
    assert.equal(
      await skiffOk(store, ["inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "c"]),
      "created 0\n",
    );
    assert.ok(Deno.statSync(`${store}/containers/${id}/upper`).isDirectory, "its writable layer");
    assert.deepEqual(
      await skiffOk(store, ["ps", "-aq", "--filter", "status=created"]),
      `${id.slice(0, 12)}\n`,
    );
    const started = await skiff(store, ["start", "-a", "c"]);
    assert.deepEqual([started.code, started.stdout], [4, "hi 1\n"]);
    assert.match(await skiffOk(store, ["ps", "-a"]), /Exited \(4\) .+c\n$/);

    await skiffOk(store, ["create", "--network", "none", "--name", "gone", "busybox", "true"]);
    assert.equal(await skiffOk(store, ["rm", "gone"]), "gone\n", "no -f needed: nothing runs");
    const bad = await skiff(store, [
      "create",
      "--network",
      "none",
      "--restart",
      "sometimes",
      "busybox",
      "true",
    ]);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /^skiff: invalid restart policy: unknown policy 'sometimes'/);
    assert.equal(
      (await skiffOk(store, ["ps", "-aq"])).trim().split("\n").length,
      1,
      "nothing left by a refusal",
    );
  });
});

/** The container's record as plain inspect prints it. */
async function recordOf(store: string, ref: string): Promise<Record<string, unknown>> {
  return JSON.parse(await skiffOk(store, ["inspect", ref]))[0];
}

/** Whether the process a record names as its owner (the supervisor) is gone. */
async function supervisorGone(store: string, ref: string): Promise<boolean> {
  const { owner } = await recordOf(store, ref) as { owner?: { pid: number; startTime: number } };
  return owner === undefined || !isAlive(owner.pid, owner.startTime);
}

test("--restart on-failure:3 restarts a failing container three times, then leaves it exited", async () => {
  await withStore(async (store) => {
    await skiffOk(store, [
      "run",
      "--network",
      "none",
      "-d",
      "--name",
      "r",
      "--restart",
      "on-failure:3",
      "busybox",
      "sh",
      "-c",
      "echo run; exit 2",
    ]);
    await waitFor(() => supervisorGone(store, "r"), "the supervisor to give up");
    assert.equal(await skiffOk(store, ["logs", "r"]), "run\n".repeat(4), "the first run and three restarts");
    assert.equal(
      await skiffOk(store, ["inspect", "-f", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}", "r"]),
      "3 exited 2\n",
    );
    // a success ends on-failure's loop at once
    await skiffOk(store, [
      "run",
      "--network",
      "none",
      "-d",
      "--name",
      "ok",
      "--restart",
      "on-failure",
      "busybox",
      "true",
    ]);
    await waitFor(() => supervisorGone(store, "ok"), "the supervisor to end");
    assert.equal(await skiffOk(store, ["inspect", "-f", "{{.RestartCount}}", "ok"]), "0\n");
  });
});

test("stop ends a restart loop, between two runs or during one; start by hand begins it again", async () => {
  await withStore(async (store) => {
    await skiffOk(store, [
      "run",
      "--network",
      "none",
      "-d",
      "--name",
      "loop",
      "--restart",
      "always",
      "busybox",
      "sh",
      "-c",
      "echo run; exit 1",
    ]);
    let state = "";
    await waitFor(async () => {
      state = await skiffOk(store, ["inspect", "loop"]);
      return (JSON.parse(state)[0].restartCount ?? 0) >= 2;
    }, "two restarts").catch((e) => {
      throw new Error(`${e.message}; the record: ${state}`);
    });
    assert.match(await skiffOk(store, ["stop", "loop"]), /^loop\n$/);
    assert.ok(await supervisorGone(store, "loop"), "stopped: no supervisor is left to restart it");
    const count = await skiffOk(store, ["inspect", "-f", "{{.RestartCount}} {{.State.Status}}", "loop"]);
    assert.match(count, /^\d+ exited\n$/);
    assert.equal(
      Deno.statSync(`${store}/containers/${(await recordOf(store, "loop")).id}/norestart`).isFile,
      true,
    );

    await skiffOk(store, [
      "run",
      "--network",
      "none",
      "-d",
      "--name",
      "long",
      "--restart",
      "unless-stopped",
      "busybox",
      "sleep",
      "300",
    ]);
    await skiffOk(store, ["stop", "-t", "0", "long"]);
    await waitFor(() => supervisorGone(store, "long"), "the supervisor to end");
    assert.equal(
      await skiffOk(store, ["inspect", "-f", "{{.RestartCount}} {{.State.Status}}", "long"]),
      "0 exited\n",
    );
    await skiffOk(store, ["start", "long"]);
    assert.equal(await skiffOk(store, ["inspect", "-f", "{{.State.Status}}", "long"]), "running\n");
    await skiffOk(store, ["rm", "-f", "long"]);
  });
});

test("--restart is refused with --rm and without -d, as docker's conflicts", async () => {
  await withStore(async (store) => {
    const rm = await skiff(store, [
      "run",
      "--network",
      "none",
      "-d",
      "--rm",
      "--restart",
      "always",
      "busybox",
      "true",
    ]);
    assert.deepEqual([rm.code, rm.stderr], [125, "skiff: Conflicting options: --restart and --rm\n"]);
    const fg = await skiff(store, [
      "run",
      "--network",
      "none",
      "--restart",
      "on-failure:x",
      "busybox",
      "true",
    ]);
    assert.equal(fg.stderr, "skiff: invalid restart policy format: maximum retry count must be an integer\n");
    assert.equal(await skiffOk(store, ["ps", "-aq"]), "");
  });
});
