/**
 * End-to-end tests of what goes wrong: bad input, skiff killed mid-run,
 * signals, and many runs at once. After each, nothing may be left: no
 * record, no directory, no mount, no process.
 */

import assert from "node:assert/strict";
import {
  background,
  chainOf,
  entries,
  killChain,
  mountsUnder,
  ROOT_ONLY,
  skiff,
  skiffArgv,
  skiffOk,
  waitFor,
  withStore,
} from "./helpers.ts";
import { childrenOf } from "../lib/host/proc.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

/** Everything in a store that a failed command could have left. */
function snapshot(store: string): string {
  return JSON.stringify({
    containers: entries(`${store}/containers`),
    tmp: entries(`${store}/tmp`),
    layers: entries(`${store}/layers`),
    blobs: entries(`${store}/blobs/sha256`),
    index: Deno.readTextFileSync(`${store}/images/index.json`),
    mounts: mountsUnder(store),
  });
}

test("bad input gets a one-line error, exit 125, and leaves nothing behind", async () => {
  await withStore(async (store) => {
    await skiffOk(store, ["run", "--name", "taken", "busybox", "true"]);
    const notTar = await Deno.makeTempFile({ suffix: ".tar" });
    await Deno.writeTextFile(notTar, "this is not a tarball\n".repeat(100));
    try {
      const cases: [string[], string][] = [
        [["run", "nosuchimage"], 'Unable to find image "nosuchimage"'],
        [["run", notTar, "true"], `Cannot import "${notTar}": it is not a tar archive`],
        [["import", notTar, "x"], `Cannot import "${notTar}": it is not a tar archive`],
        [["run", "/no/such.tar"], 'Cannot import "/no/such.tar": no such file'],
        [["run", "-e", "FOO", "busybox", "true"], 'Invalid environment variable "FOO": use -e KEY=VALUE'],
        [["run", "--name", "taken", "busybox", "true"], 'The container name "taken" is already in use'],
        [["run", "--name", "no/slash", "busybox", "true"], 'Invalid container name "no/slash"'],
        [["run", "--hostname", "bad host", "busybox", "true"], 'Invalid hostname "bad host"'],
        [["run", "-w", "relative", "busybox", "true"], 'Invalid working directory "relative"'],
        [["run", "--bogus", "busybox"], 'Unknown option "--bogus" for "skiff run"'],
        [["run"], '"skiff run" takes [OPTIONS] IMAGE [COMMAND [ARG...]]'],
        [["run", "Bad:Image"], 'Invalid image reference "Bad:Image"'],
        [["frobnicate"], 'Unknown command "frobnicate"'],
      ];
      const before = snapshot(store);
      for (const [args, message] of cases) {
        const r = await skiff(store, args);
        assert.equal(r.code, 125, `${args.join(" ")}: exit ${r.code}`);
        assert.ok(r.stderr.startsWith(`skiff: ${message}`), `${args.join(" ")}: ${r.stderr}`);
        assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
        assert.equal(snapshot(store), before, `${args.join(" ")} left something behind`);
      }
      const notFound = await skiff(store, ["run", "busybox", "nosuch"]);
      assert.equal(notFound.code, 127);
      assert.equal(snapshot(store), before, "a command not found leaves no container");
    } finally {
      await Deno.remove(notTar);
    }
  });
});

test("a supervisor killed with SIGKILL mid-run leaves no mount and no process, and the record shows exited", async () => {
  await withStore(async (store) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: skiffArgv(store, ["run", "--name", "victim", "busybox", "sleep", "300"]),
      stdout: "null",
      stderr: "null",
    }).spawn();
    let sleeper: number | undefined;
    try {
      await waitFor(() => {
        sleeper = chainOf(child.pid).pid1;
        return sleeper !== undefined && Deno.readTextFileSync(`/proc/${sleeper}/comm`) === "sleep\n";
      }, "the container's sleep");
      Deno.kill(chainOf(child.pid).supervisor!, "SIGKILL");
      await waitFor(() => !processExists(sleeper!), "the container to die with its supervisor");
      assert.deepEqual(mountsUnder(store), []);
      const ps = await skiffOk(store, ["ps", "-a"]);
      assert.match(ps, /"sleep 300"\s+.+\s+Exited \(137\) .+victim/);
      assert.equal(await skiffOk(store, ["ps", "-q"]), "", "nothing shows as running");
    } finally {
      if (sleeper !== undefined && processExists(sleeper)) Deno.kill(sleeper, "SIGKILL");
      const { launcher } = chainOf(child.pid);
      if (launcher) await killChain(child.pid, launcher);
      await child.status;
    }
  });
});

test("a launcher killed with SIGKILL leaves its container running under its supervisor, as docker's CLI does", async () => {
  await withStore(async (store) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: skiffArgv(store, ["run", "--rm", "--name", "orphan", "busybox", "sleep", "300"]),
      stdout: "null",
      stderr: "null",
    }).spawn();
    let chain: ReturnType<typeof chainOf> = {};
    try {
      await waitFor(() => {
        chain = chainOf(child.pid);
        return chain.pid1 !== undefined && Deno.readTextFileSync(`/proc/${chain.pid1}/comm`) === "sleep\n";
      }, "the container's sleep");
      Deno.kill(chain.launcher!, "SIGKILL");
      await child.status;
      assert.match(await skiffOk(store, ["ps"]), /orphan/, "still running");
      await skiffOk(store, ["rm", "-f", "orphan"]);
      await waitFor(() => !processExists(chain.supervisor!), "the supervisor to finish");
      assert.deepEqual(entries(`${store}/containers`), []);
      assert.deepEqual(entries(`${store}/tmp`), []);
      assert.deepEqual(mountsUnder(store), []);
    } finally {
      for (const pid of [chain.pid1, chain.supervisor]) {
        if (pid !== undefined && processExists(pid)) Deno.kill(pid, "SIGKILL");
      }
      await child.status;
    }
  });
});

test("a supervisor killed with SIGKILL mid-run of a --rm container leaves nothing at the next command", async () => {
  await withStore(async (store) => {
    const run = background(store, ["run", "--rm", "busybox", "sleep", "300"]);
    try {
      await waitFor(() => entries(`${store}/containers`).length === 1 && hasRunningRecord(store));
      await run.stop();
      await waitFor(async () => (await skiffOk(store, ["ps", "-aq"])) === "");
      assert.deepEqual(entries(`${store}/containers`), []);
      assert.deepEqual(entries(`${store}/tmp`), []);
    } finally {
      await run.stop();
    }
  });
});

function hasRunningRecord(store: string): boolean {
  return entries(`${store}/containers`).some((id) => {
    try {
      return JSON.parse(Deno.readTextFileSync(`${store}/containers/${id}/config.json`)).status === "running";
    } catch {
      return false;
    }
  });
}

function processExists(pid: number): boolean {
  try {
    const state = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1][0];
    return state !== "Z";
  } catch {
    return false;
  }
}

test("SIGTERM to skiff reaches the container's PID 1, and the run exits with its code", async () => {
  await withStore(async (store) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: skiffArgv(store, [
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got TERM; exit 7' TERM; echo ready; while true; do sleep 0.1; done",
      ]),
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      assert.equal((await reader.read()).value, "ready\n");
      const [skiffPid] = childrenOf(child.pid);
      Deno.kill(skiffPid, "SIGTERM");
      assert.equal((await reader.read()).value, "got TERM\n");
      assert.equal((await child.status).code, 7);
    } finally {
      reader.releaseLock();
      const [skiffPid] = childrenOf(child.pid);
      if (skiffPid) await killChain(child.pid, skiffPid);
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await child.stderr.cancel();
    }
  });
});

test("a container killed from outside makes run exit 128 + the signal", async () => {
  await withStore(async (store) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: skiffArgv(store, ["run", "--rm", "busybox", "sleep", "300"]),
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      let sleeper: number | undefined;
      await waitFor(() => {
        sleeper = chainOf(child.pid).pid1;
        return sleeper !== undefined && Deno.readTextFileSync(`/proc/${sleeper}/comm`) === "sleep\n";
      }, "the container's sleep");
      Deno.kill(sleeper!, "SIGKILL");
      assert.equal((await child.status).code, 137);
    } finally {
      const [skiffPid] = childrenOf(child.pid);
      if (skiffPid) await killChain(child.pid, skiffPid);
      await child.status;
    }
  });
});

test("20 simultaneous runs on a fresh store all succeed, with distinct ids, leaving nothing", async () => {
  await withStore(async (store) => {
    const runs = await Promise.all(
      Array.from(
        { length: 20 },
        () => skiff(store, ["run", "--rm", "busybox", "sh", "-c", "echo $HOSTNAME"]),
      ),
    );
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const ids = new Set(runs.map((r) => r.stdout.trim()));
    assert.equal(ids.size, 20);
    for (const id of ids) assert.match(id, /^[0-9a-f]{12}$/);
    assert.deepEqual(entries(`${store}/containers`), []);
    assert.deepEqual(entries(`${store}/tmp`), []);
    assert.equal(entries(`${store}/layers`).length, 1, "busybox was built once");
    assert.deepEqual(mountsUnder(store), []);
  }, { empty: true });
});

test("a secret passed with -e appears in no process's command line", async () => {
  await withStore(async (store) => {
    const secret = `hunter2-${crypto.randomUUID()}`;
    const child = new Deno.Command(Deno.execPath(), {
      args: skiffArgv(store, [
        "run",
        "--rm",
        "-e",
        `TOKEN=${secret}`,
        "busybox",
        "sh",
        "-c",
        "echo up; sleep 30",
      ]),
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      assert.equal((await reader.read()).value, "up\n");
      const leaks = [...Deno.readDirSync("/proc")].filter((e) => /^\d+$/.test(e.name)).filter((e) => {
        try {
          return Deno.readTextFileSync(`/proc/${e.name}/cmdline`).includes(secret);
        } catch {
          return false;
        }
      });
      // deno task's own argv holds it, as any CLI's does; skiff's children must not
      const [skiffPid] = childrenOf(child.pid);
      const beyondSkiff = leaks.map((e) => Number(e.name)).filter((p) => p !== child.pid && p !== skiffPid);
      assert.deepEqual(beyondSkiff, []);
    } finally {
      reader.releaseLock();
      const [skiffPid] = childrenOf(child.pid);
      if (skiffPid) await killChain(child.pid, skiffPid);
      await child.status;
      await child.stdout.cancel().catch(() => {});
    }
  });
});

/**
 * The moments of a foreground `run` a fault test kills at, in the order
 * they come, each told by what it leaves to see (deno task -> launcher ->
 * supervisor -> keeper -> PID 1: the CLI, which execs the command). A
 * moment counts as reached once it or a later one is seen: a start is
 * faster than any poll.
 */
const PHASES: { name: string; reached(start: Start): boolean }[] = [
  { name: "launcher started", reached: () => true },
  { name: "supervisor started", reached: (r) => chainOf(r.task).supervisor !== undefined },
  { name: "keeper forked", reached: (r) => chainOf(r.task).keeper !== undefined },
  { name: "CLI started", reached: (r) => chainOf(r.task).pid1 !== undefined },
  {
    name: "record written",
    reached: (r) => entries(`${r.store}/containers`).some((id) => !r.recordsBefore.has(id)),
  },
  { name: "command running", reached: (r) => commandRuns(r.marker) },
];

/** The process a fault test kills: one of the chain's. */
const VICTIMS = ["launcher", "supervisor", "keeper", "pid1"] as const;

/** One start a fault test watches. */
interface Start {
  store: string;
  /** The records there before it (a killed --rm run's stays until the next command). */
  recordsBefore: Set<string>;
  /** deno task's pid. */
  task: number;
  /** Its command is `sleep MARKER`. */
  marker: string;
}

/** Whether a `sleep MARKER` process is alive. */
function commandRuns(marker: string): boolean {
  return [...Deno.readDirSync("/proc")].some((e) => {
    try {
      return /^\d+$/.test(e.name) &&
        Deno.readTextFileSync(`/proc/${e.name}/cmdline`) === `sleep\0${marker}\0` &&
        processExists(Number(e.name));
    } catch {
      return false;
    }
  });
}

/** mulberry32: a small seeded generator, so a failing sequence of faults can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("any process of the chain killed at any moment of a start leaves nothing behind", async () => {
  const given = Deno.env.get("SKIFF_FAULT_SEED");
  const seed = given !== undefined ? Number(given) : crypto.getRandomValues(new Uint32Array(1))[0];
  assert.ok(Number.isInteger(seed), `SKIFF_FAULT_SEED must be a whole number, not "${given}"`);
  console.log(`faults: SKIFF_FAULT_SEED=${seed} replays this sequence of kills`);
  const random = seeded(seed);
  // the containers' cgroups: none of this test's may outlive it (the suite
  // runs one test at a time, so a new one here is this test's)
  const cgroupsBefore = new Set(containerCgroups());
  await withStore(async (store) => {
    for (let i = 0; i < 16; i++) {
      const phase = PHASES[Math.floor(random() * PHASES.length)];
      const victim = VICTIMS[Math.floor(random() * VICTIMS.length)];
      const detach = random() < 0.5;
      // a duration no other process uses, to find this container's PID 1 by
      const marker = String(7_000_000 + Math.floor(random() * 1_000_000));
      const where = `SKIFF_FAULT_SEED=${seed}, kill ${i + 1}: the ${victim} at "${phase.name}"${
        detach ? " (-d)" : ""
      }`;
      const recordsBefore = new Set(entries(`${store}/containers`));
      const run = background(store, ["run", ...(detach ? ["-d"] : []), "--rm", "busybox", "sleep", marker]);
      try {
        await waitFor(() => run.skiffPid() !== undefined, `${where}: skiff to start`);
        const start = { store, recordsBefore, task: run.child.pid, marker };
        await waitFor(() => run.skiffPid() === undefined || phase.reached(start), `${where} to come`);
        const chain = chainOf(run.child.pid);
        const pid = chain[victim];
        if (pid === undefined) await run.stop();
        else {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch { /* gone already */ }
        }
        await run.child.status;
        // A detached container, or one whose launcher alone died, runs on under its supervisor.
        // Until the supervisor is done: its CLI may create the container after any look.
        await waitFor(async () => {
          const ids = (await skiffOk(store, ["ps", "-aq"])).split("\n").filter(Boolean);
          const supervising = chain.supervisor !== undefined && processExists(chain.supervisor);
          if (ids.length === 0 && !supervising) return true;
          if (ids.length > 0) await skiff(store, ["rm", "-f", ...ids]); // one still starting says "try again"
          return false;
        }, `${where}: rm -f of what runs on, and its supervisor's end`);
        await waitFor(() => !commandRuns(marker), `${where}: the container's command to go`);
      } catch (e) {
        throw new Error(where, { cause: e });
      } finally {
        await run.stop();
      }
    }
    await waitFor(
      async () => (await skiffOk(store, ["ps", "-aq"])) === "",
      `seed ${seed}: no container listed`,
    );
    assert.deepEqual(entries(`${store}/containers`), [], `SKIFF_FAULT_SEED=${seed}`);
    assert.deepEqual(entries(`${store}/tmp`), [], `SKIFF_FAULT_SEED=${seed}`);
    assert.deepEqual(mountsUnder(store), [], `SKIFF_FAULT_SEED=${seed}`);
    await waitFor(
      () => containerCgroups().every((c) => cgroupsBefore.has(c)),
      `seed ${seed}: no cgroup left of its containers`,
    ).catch(() => {}); // the assertion below names them
    assert.deepEqual(containerCgroups().filter((c) => !cgroupsBefore.has(c)), [], `SKIFF_FAULT_SEED=${seed}`);
  });
});

/** Every container cgroup skiff has in the host's v1 hierarchies, as HIERARCHY/ID. */
function containerCgroups(): string[] {
  const found: string[] = [];
  for (const h of Deno.readDirSync("/sys/fs/cgroup")) {
    try {
      for (const c of Deno.readDirSync(`/sys/fs/cgroup/${h.name}/skiff`)) {
        if (c.isDirectory && /^[0-9a-f]{64}$/.test(c.name)) found.push(`${h.name}/${c.name}`);
      }
    } catch { /* no skiff cgroup in this hierarchy */ }
  }
  return found;
}
