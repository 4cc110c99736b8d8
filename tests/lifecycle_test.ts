/**
 * End-to-end tests of detached containers as root: run -d, ps, logs, stop,
 * kill, and a supervisor killed with SIGKILL.
 */

import assert from "node:assert/strict";
import { isAlive } from "../lib/host/proc.ts";
import { entries, ROOT_ONLY, skiff, skiffArgv, skiffOk, waitFor, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

const TICKER = "i=0; while true; do i=$((i+1)); echo tick $i; echo warn $i >&2; sleep 0.1; done";

/** Kills every container left running in the store (its teardown). */
async function stopAll(store: string): Promise<void> {
  const ids = (await skiffOk(store, ["ps", "-q"])).trim().split("\n").filter((i) => i !== "");
  if (ids.length > 0) await skiff(store, ["stop", "-t", "0", ...ids]);
}

test("run -d prints the id, returns, and ps, logs and logs -t show the container", async () => {
  await withStore(async (store) => {
    try {
      const id = (await skiffOk(store, ["run", "-d", "--name", "ticker", "busybox", "sh", "-c", TICKER]))
        .trim();
      assert.match(id, /^[0-9a-f]{64}$/);
      assert.match(
        await skiffOk(store, ["ps"]),
        new RegExp(`\\n${id.slice(0, 12)}\\s+busybox\\s+.+\\s+Up .+ticker\\n`),
      );
      await waitFor(async () => (await skiffOk(store, ["logs", "ticker"])).includes("tick 3\n"));
      const logs = await skiff(store, ["logs", "ticker"]);
      assert.ok(logs.stdout.startsWith("tick 1\ntick 2\ntick 3\n"), logs.stdout);
      assert.ok(logs.stderr.startsWith("warn 1\nwarn 2\n"), "stderr lines go to stderr");
      const tail = await skiff(store, ["logs", "--tail", "2", "-t", "ticker"]);
      const lines = (tail.stdout + tail.stderr).trim().split("\n");
      assert.equal(lines.length, 2);
      for (const line of lines) {
        assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z (tick|warn) \d+$/);
      }
    } finally {
      await stopAll(store);
    }
  });
});

test("logs -f streams until the container stops", async () => {
  await withStore(async (store) => {
    try {
      await skiffOk(store, ["run", "-d", "--name", "ticker", "busybox", "sh", "-c", TICKER]);
      const follow = new Deno.Command(Deno.execPath(), {
        args: skiffArgv(store, ["logs", "-f", "ticker"]),
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = follow.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      while (!seen.includes("tick 5\n")) seen += (await reader.read()).value ?? "";
      await skiffOk(store, ["stop", "-t", "0", "ticker"]);
      for (let r = await reader.read(); !r.done; r = await reader.read()) seen += r.value;
      assert.equal((await follow.status).code, 0, "logs -f ended by itself");
      assert.match(seen, /^tick 1\ntick 2\n/);
    } finally {
      await stopAll(store);
    }
  });
});

test("stop -t 1 sends SIGTERM, then SIGKILL to a PID 1 that outlasts the grace, and exit codes are recorded", async () => {
  await withStore(async (store) => {
    try {
      // It notes the SIGTERM, then would take 5 s to exit cleanly (exit 0):
      // within the default 10 s grace, not within -t 1.
      const id = (await skiffOk(store, [
        "run",
        "-d",
        "--name",
        "stubborn",
        "busybox",
        "sh",
        "-c",
        "trap 'echo TERM > /got-term; sleep 5; exit 0' TERM; echo up > /up; while true; do sleep 0.1; done",
      ])).trim();
      const upper = `${store}/containers/${id}/upper`;
      await waitFor(() => entries(upper).includes("up"), "the trap to be set");
      await skiffOk(store, [
        "run",
        "-d",
        "--name",
        "polite",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 7' TERM; while true; do sleep 0.1; done",
      ]);
      await skiffOk(store, ["run", "-d", "--name", "three", "busybox", "sh", "-c", "exit 3"]);
      assert.equal(await skiffOk(store, ["stop", "-t", "1", "stubborn"]), "stubborn\n");
      assert.equal(Deno.readTextFileSync(`${upper}/got-term`), "TERM\n", "SIGTERM came first");
      await skiffOk(store, ["stop", "polite"]);
      await waitFor(async () => /Exited \(3\)/.test(await skiffOk(store, ["ps", "-a"])));
      const ps = await skiffOk(store, ["ps", "-a"]);
      assert.match(ps, /Exited \(137\) .+stubborn/, "SIGKILLed before its clean exit: -t 1 was honoured");
      const [stubborn] = JSON.parse(await skiffOk(store, ["inspect", "stubborn"]));
      const termAt = Deno.statSync(`${upper}/got-term`).mtime!.getTime();
      // The trap ran within one `sleep 0.1` of the SIGTERM; the SIGKILL came a grace later.
      assert.ok(Date.parse(stubborn.finishedAt) - termAt >= 500, "the grace was given before SIGKILL");
      assert.match(ps, /Exited \(7\) .+polite/);
      assert.match(ps, /Exited \(3\) .+three/);
      const [record] = JSON.parse(await skiffOk(store, ["inspect", "polite"]));
      assert.equal(record.exitCode, 7);
      assert.ok(record.finishedAt);
    } finally {
      await stopAll(store);
    }
  });
});

test("kill sends the signal to PID 1; a detached --rm container is removed when it exits", async () => {
  await withStore(async (store) => {
    try {
      await skiffOk(store, [
        "run",
        "-d",
        "--rm",
        "--name",
        "hup",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 5' HUP; while true; do sleep 0.1; done",
      ]);
      assert.equal(await skiffOk(store, ["kill", "-s", "HUP", "hup"]), "hup\n");
      await waitFor(() => entries(`${store}/containers`).length === 0);
      const bad = await skiff(store, ["kill", "-s", "BOGUS", "x"]);
      assert.match(bad.stderr, /^skiff: Unknown signal "BOGUS"/);
    } finally {
      await stopAll(store);
    }
  });
});

test("a detached command that cannot start exits 127 and leaves nothing", async () => {
  await withStore(async (store) => {
    const r = await skiff(store, ["run", "-d", "busybox", "nosuchcommand"]);
    assert.equal(r.code, 127);
    assert.equal(r.stderr, 'skiff: exec: "nosuchcommand": executable file not found in $PATH\n');
    assert.equal(r.stdout, "");
    assert.deepEqual(entries(`${store}/containers`), []);
    const fg = await skiff(store, ["run", "--name", "fg", "busybox", "true"]);
    assert.equal(fg.code, 0);
    const logs = await skiff(store, ["logs", "fg"]);
    assert.match(logs.stderr, /^skiff: No logs for container "fg": it ran in the foreground/);
  });
});

test("a supervisor killed with SIGKILL takes its container down; the next command shows the truth", async () => {
  await withStore(async (store) => {
    await skiffOk(store, ["run", "-d", "--name", "orphan", "--pids-limit", "10", "busybox", "sleep", "300"]);
    const [record] = JSON.parse(await skiffOk(store, ["inspect", "orphan"]));
    const { pid: keeper, pidStartTime } = record;
    Deno.kill(record.owner.pid, "SIGKILL");
    await waitFor(() => !isAlive(keeper, pidStartTime));
    assert.match(await skiffOk(store, ["ps", "-a"]), /Exited \(137\) .+orphan/);
    for (const dir of record.cgroup.own) assert.throws(() => Deno.statSync(dir), Deno.errors.NotFound);
  });
});

test("start runs an exited container again on its kept writable layer; restart and ps --format json", async () => {
  await withStore(async (store) => {
    try {
      const count = "n=$(cat /n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /n; echo run $n; exit $n";
      assert.equal((await skiff(store, ["run", "--name", "c", "busybox", "sh", "-c", count])).code, 1);
      const again = await skiff(store, ["start", "-a", "c"]);
      assert.equal(again.code, 2, "the file from the first run is still there");
      assert.equal(again.stdout, "run 2\n");
      assert.equal(await skiffOk(store, ["start", "c"]), "c\n");
      await waitFor(async () => /Exited \(3\)/.test(await skiffOk(store, ["ps", "-a"])));
      assert.equal(await skiffOk(store, ["logs", "c"]), "run 3\n");

      await skiffOk(store, [
        "run",
        "-d",
        "--name",
        "svc",
        "--pids-limit",
        "33",
        "busybox",
        "sh",
        "-c",
        "echo up; sleep 100",
      ]);
      const [before] = JSON.parse(await skiffOk(store, ["inspect", "svc"]));
      const refused = await skiff(store, ["start", "svc"]);
      assert.match(refused.stderr, /^skiff: Cannot start container "svc": it is running/);
      await skiffOk(store, ["restart", "-t", "0", "svc"]);
      const json = (await skiffOk(store, ["ps", "--format", "json"])).trim().split("\n").map((l) =>
        JSON.parse(l)
      );
      assert.equal(json.length, 1);
      assert.equal(json[0].name, "svc");
      assert.match(json[0].Status, /^Up /);
      assert.notEqual(json[0].pid, before.pid, "a new keeper");
      const pidsMax = `/sys/fs/cgroup/pids/skiff/${json[0].id}/pids.max`;
      assert.equal(Deno.readTextFileSync(pidsMax).trim(), "33", "the limit is kept for start");
      await waitFor(async () => (await skiffOk(store, ["logs", "svc"])) === "up\nup\n");
    } finally {
      await stopAll(store);
    }
  });
});

test("start goes the launcher's way: its supervisor's, the CLI its command's PID 1; a start killed midway keeps the container", async () => {
  await withStore(async (store) => {
    try {
      // the first run ends at once; a start finds /ran and stays
      const script = "echo $$; [ -e /ran ] && exec sleep 300; touch /ran";
      await skiffOk(store, ["run", "--name", "s", "busybox", "sh", "-c", script]);
      assert.equal(await skiffOk(store, ["start", "s"]), "s\n");
      const [record] = JSON.parse(await skiffOk(store, ["inspect", "s"]));
      assert.equal(record.status, "running");
      const cmdline = (pid: number) => Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
      assert.ok(
        cmdline(record.owner.pid).some((a) => a.endsWith("lib/container/supervise.sh")),
        "the supervisor",
      );
      await waitFor(
        async () => (await skiffOk(store, ["logs", "s"])) === "1\n",
        "the command's output: PID 1",
      );
      await skiffOk(store, ["stop", "-t", "0", "s"]);

      // Held before its command, the start's supervisor is killed: the
      // container stays, exited, as it was made.
      const fifo = `${store}/hold.fifo`;
      assert.equal((await new Deno.Command("mkfifo", { args: [fifo] }).output()).code, 0);
      const start = new Deno.Command(Deno.execPath(), {
        args: skiffArgv(store, ["start", "s"]),
        env: { SKIFF_TEST_HOLD_INIT: fifo },
        stdout: "null",
        stderr: "null",
      }).spawn();
      const hold = await Deno.open(fifo, { write: true }); // init holds now
      try {
        const [held] = JSON.parse(await skiffOk(store, ["inspect", "s"]));
        Deno.kill(held.owner.pid, "SIGKILL");
        assert.equal((await start.status).code, 137);
      } finally {
        hold.close();
      }
      assert.match(await skiffOk(store, ["ps", "-a"]), /Exited \(137\) .+ s\n/);
      assert.ok(entries(`${store}/containers`).length === 1, "its directory is kept");
      assert.equal(await skiffOk(store, ["start", "s"]), "s\n", "and it starts again");
    } finally {
      await stopAll(store);
      await skiff(store, ["rm", "-f", "s"]);
    }
  });
});

test("20 parallel stop, rm and start calls on a few containers leave consistent records", async () => {
  await withStore(async (store) => {
    try {
      const names = ["a", "b", "c"];
      const ids: string[] = [];
      for (const name of names) {
        ids.push((await skiffOk(store, ["run", "-d", "--name", name, "busybox", "sleep", "300"])).trim());
      }
      const verbs = [["stop", "-t", "0"], ["start"], ["rm", "-f"], ["restart", "-t", "0"]];
      await Promise.all(Array.from({ length: 20 }, (_, i) => skiff(store, [...verbs[i % 4], names[i % 3]])));
      const list = async () =>
        (await skiffOk(store, ["ps", "-a", "--format", "json"])).trim().split("\n")
          .filter((l) => l !== "").map((l) => JSON.parse(l));
      // A supervisor may still be writing down its keeper's exit: wait until
      // each record's status matches its keeper, then check everything.
      const settled = (r: { status: string; pid?: number; pidStartTime?: number }) =>
        (r.status === "running") === (r.pid !== undefined && isAlive(r.pid, r.pidStartTime!));
      await waitFor(async () => (await list()).every(settled), "every record to match its keeper");
      const records = await list();
      for (const r of records) {
        assert.ok(r.status === "running" || r.status === "exited", `${r.name}: ${r.status}`);
        const keeperAlive = r.pid !== undefined && isAlive(r.pid, r.pidStartTime);
        assert.equal(keeperAlive, r.status === "running", `${r.name}: the record says ${r.status}`);
        assert.deepEqual(entries(`${store}/containers/${r.id}`).filter((e) => e.endsWith(".tmp")), []);
      }
      assert.equal(entries(`${store}/containers`).length, records.length, "no directory without a record");
      for (const id of ids.filter((id) => !records.some((r) => r.id === id))) {
        // a removed container left no cgroup, so no process either
        assert.throws(() => Deno.statSync(`/sys/fs/cgroup/pids/skiff/${id}`), Deno.errors.NotFound, id);
      }
    } finally {
      await stopAll(store);
    }
  });
});

test("ps on a store not made yet lists nothing, as a new user's first command", async () => {
  await withStore(async (store) => {
    const fresh = `${store}/not-yet`;
    assert.equal(
      await skiffOk(fresh, ["ps", "-a"]),
      "CONTAINER ID   IMAGE   COMMAND   CREATED   STATUS   PORTS   NAMES\n",
    );
  }, { empty: true });
});

test("--stop-signal and --stop-timeout are what stop uses without -t; a bad one is one line and no container", async () => {
  await withStore(async (store) => {
    try {
      const loop = "while :; do sleep 0.1; done";
      await skiffOk(store, [
        "run",
        "-d",
        "--name",
        "hup",
        "--stop-signal",
        "HUP",
        "busybox",
        "sh",
        "-c",
        `trap "exit 7" HUP; ${loop}`,
      ]);
      // TERM ignored: only the SIGKILL after its own timeout of 1 s ends it (the default would be 10)
      await skiffOk(store, [
        "run",
        "-d",
        "--name",
        "deaf",
        "--stop-timeout",
        "1",
        "busybox",
        "sh",
        "-c",
        `trap "" TERM; ${loop}`,
      ]);
      assert.equal(await skiffOk(store, ["stop", "hup", "deaf"]), "hup\ndeaf\n");
      const ps = await skiffOk(store, ["ps", "-a"]);
      assert.match(ps, /Exited \(7\) .+ hup\n/);
      assert.match(ps, /Exited \(137\) .+ deaf\n/);
      const [record] = JSON.parse(await skiffOk(store, ["inspect", "hup"]));
      assert.equal(record.stopSignal, "SIGHUP");
    } finally {
      await stopAll(store);
      await skiff(store, ["rm", "-f", "hup", "deaf"]);
    }
    for (const [flag, value] of [["--stop-signal", "NOPE"], ["--stop-timeout", "soon"]]) {
      const r = await skiff(store, ["run", "--rm", flag, value, "busybox", "true"]);
      assert.equal(r.code, 125);
      assert.match(r.stderr, new RegExp(`^skiff: Invalid ${flag} "${value}": use a `));
      assert.equal(r.stderr.trim().split("\n").length, 1);
      assert.equal(await skiffOk(store, ["ps", "-aq"]), "", "no container");
    }
  });
});
