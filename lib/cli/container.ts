/**
 * The container verbs: run, ps, logs, exec, start, stop, restart, kill, rm,
 * inspect, stats, commit and export. Each parses, calls the library and
 * prints; verbs other than run load their modules when called, since every
 * module is start-up time on the path of `run`.
 *
 * @module
 */

import {
  type ContainerRecord,
  findContainer,
  isRunning,
  listContainers,
  listDamaged,
  newId,
  removeContainer,
  renameContainer,
} from "../container/containers.ts";
import { describeError, NotFoundError, UsageError } from "../errors.ts";
import type { Parsed } from "./args.ts";
import { ellipsis, escapeControls, humanBytes, humanDuration, humanSize, table, timeAgo } from "./format.ts";
import { parseLimits } from "../host/cgroup/cgroups.ts";
import { findImage } from "../image/images.ts";
import { repoDigests } from "../image/registry/digests.ts";
import { launchedBy, runInside, StartFromOutside, startInside } from "../container/inside.ts";
import type { PullPolicy } from "../container/resolve_image.ts";
import type { RunOptions } from "../container/run.ts";
import type { Store } from "../store/store.ts";
import { parseMountFlag, parseVolumeFlag } from "../container/volumes.ts";
import { parseSecurityFlags } from "../container/security.ts";
import { inspectFields } from "../container/host_config.ts";
import { parseEnvFile } from "../container/env.ts";
import {
  ENV,
  forEachName,
  HELP,
  INTERACTIVE,
  prune,
  seconds,
  STOP_TIME,
  TTY,
  USER,
  type Verb,
  WORKDIR,
} from "./verb.ts";
import { NETWORK_OPTIONS, networkOptions } from "./network.ts";
import { networkSettingsView, portsColumn } from "../container/network.ts";
import { later } from "../host/later.ts";

const run: Verb = {
  usage: "run [OPTIONS] IMAGE [COMMAND [ARG...]]",
  summary: "Run a command in a new container",
  stopAtPositional: true,
  args: { min: 1 },
  options: [
    INTERACTIVE,
    TTY,
    { long: "rm", kind: "flag", help: "Remove the container when it exits" },
    { long: "detach", short: "d", kind: "flag", help: "Run in the background and print the container's id" },
    { long: "name", kind: "value", arg: "NAME", help: "Name the container" },
    ENV,
    WORKDIR,
    { long: "hostname", kind: "value", arg: "NAME", help: "Hostname (default: the short container id)" },
    {
      long: "volume",
      short: "v",
      kind: "list",
      arg: "SRC:DEST[:ro]",
      help: "Bind a host path or a named volume (repeatable)",
    },
    {
      long: "mount",
      kind: "list",
      arg: "type=bind,source=S,target=T[,readonly]",
      help: "Bind a mount, docker's long form (repeatable)",
    },
    {
      long: "memory",
      short: "m",
      kind: "value",
      arg: "BYTES",
      help: "Memory limit, e.g. 100m (units b, k, m, g)",
    },
    {
      long: "memory-swap",
      kind: "value",
      arg: "BYTES",
      help: "Memory plus swap limit; -1 for unlimited swap",
    },
    { long: "cpus", kind: "value", arg: "N", help: "CPU time limit in CPUs, e.g. 0.5" },
    { long: "cpu-shares", kind: "value", arg: "N", help: "Relative CPU weight (default 1024)" },
    { long: "cpuset-cpus", kind: "value", arg: "LIST", help: "CPUs to run on, e.g. 0 or 0-1" },
    { long: "pids-limit", kind: "value", arg: "N", help: "Maximum number of processes" },
    {
      long: "pull",
      kind: "value",
      arg: "missing|always|never",
      help: "Pull the image when missing (default), always, or never",
    },
    { long: "security-opt", kind: "list", arg: "OPT", help: "seccomp=unconfined|FILE, no-new-privileges" },
    { long: "cap-add", kind: "list", arg: "CAP", help: "Keep a capability too, e.g. NET_ADMIN, or ALL" },
    { long: "cap-drop", kind: "list", arg: "CAP", help: "Drop a capability of the default set, or ALL" },
    { long: "privileged", kind: "flag", help: "All capabilities, no seccomp, /sys and /proc writable" },
    { long: "read-only", kind: "flag", help: "Mount the container's root read-only" },
    USER,
    { long: "group-add", kind: "list", arg: "GROUP", help: "Add a supplementary group (name or id)" },
    { long: "ulimit", kind: "list", arg: "NAME=SOFT[:HARD]", help: "A resource limit, e.g. nofile=1024" },
    { long: "sysctl", kind: "list", arg: "KEY=VALUE", help: "A namespaced sysctl (net.*, kernel.shm*...)" },
    { long: "oom-score-adj", kind: "value", arg: "N", help: "The OOM killer's preference, -1000 to 1000" },
    { long: "device", kind: "list", arg: "HOST[:CONTAINER][:rwm]", help: "Give the container a host device" },
    { long: "entrypoint", kind: "value", arg: "CMD", help: "Replace the image's entrypoint (and its CMD)" },
    { long: "stop-signal", kind: "value", arg: "SIGNAL", help: "What stop sends first (default SIGTERM)" },
    {
      long: "stop-timeout",
      kind: "value",
      arg: "SECONDS",
      help: "Seconds stop waits before SIGKILL (default 10)",
    },
    { long: "env-file", kind: "list", arg: "FILE", help: "Read KEY=VALUE lines into the environment" },
    { long: "label", short: "l", kind: "list", arg: "KEY=VALUE", help: "Set a label on the container" },
    { long: "label-file", kind: "list", arg: "FILE", help: "Read KEY=VALUE lines as labels" },
    {
      long: "cidfile",
      kind: "value",
      arg: "FILE",
      help: "Write the container's id to FILE (which must not exist)",
    },
    {
      long: "restart",
      kind: "value",
      arg: "POLICY",
      help: "no, on-failure[:N], always or unless-stopped: restarts a detached container when it exits",
    },
    {
      long: "tmpfs",
      kind: "list",
      arg: "PATH[:OPTS]",
      help: "A tmpfs on PATH (noexec,nosuid,nodev; OPTS: ro, exec, size=64m, mode=1777...)",
    },
    ...NETWORK_OPTIONS,
    HELP,
  ],
  async action(store, { options: o, positionals: [image, ...command] }) {
    const options = await runOptionsOf(o, image, command);
    // --cidfile: the id chosen and written first; the file goes again if the container is not made
    const cidfile = o.cidfile === undefined ? undefined : String(o.cidfile);
    if (cidfile !== undefined) options.id = writeCidfile(cidfile);
    try {
      return await runVerb(
        store,
        options,
        Boolean(o.detach),
        () => cidfile !== undefined && Deno.removeSync(cidfile),
      );
    } catch (e) {
      if (cidfile !== undefined && !(await containerExists(store, options.id!))) Deno.removeSync(cidfile);
      throw e;
    }
  },
};

const create: Verb = {
  usage: "create [OPTIONS] IMAGE [COMMAND [ARG...]]",
  summary: "Create a container, its record and writable layer, without starting it (start does)",
  stopAtPositional: true,
  args: { min: 1 },
  // run's, but for what only a running container has
  options: run.options.filter((spec) => !["detach", "rm", "interactive", "tty"].includes(spec.long)),
  async action(store, { options: o, positionals: [image, ...command] }) {
    const options = await runOptionsOf(o, image, command);
    const cidfile = o.cidfile === undefined ? undefined : String(o.cidfile);
    if (cidfile !== undefined) options.id = writeCidfile(cidfile);
    const { createOnly } = await later<typeof import("../container/create.ts")>(
      "../container/create.ts",
      import.meta.url,
    );
    try {
      console.log(await createOnly(store, options));
    } catch (e) {
      if (cidfile !== undefined) Deno.removeSync(cidfile);
      throw e;
    }
    return 0;
  },
};

/** What run's (and create's) options ask for, parsed and read (env and label files). */
async function runOptionsOf(o: Parsed["options"], image: string, command: string[]) {
  const mounts = [
    ...((o.volume as string[] | undefined) ?? []).map(parseVolumeFlag),
    ...((o.mount as string[] | undefined) ?? []).map(parseMountFlag),
  ];
  const limits = parseLimits({
    memory: o.memory as string | undefined,
    memorySwap: o["memory-swap"] as string | undefined,
    cpus: o.cpus as string | undefined,
    cpuShares: o["cpu-shares"] as string | undefined,
    cpusetCpus: o["cpuset-cpus"] as string | undefined,
    pidsLimit: o["pids-limit"] as string | undefined,
  }, navigator.hardwareConcurrency);
  const security = await parseSecurityFlags({
    securityOpt: o["security-opt"] as string[] | undefined,
    capAdd: o["cap-add"] as string[] | undefined,
    capDrop: o["cap-drop"] as string[] | undefined,
    privileged: Boolean(o.privileged),
    user: o.user as string | undefined,
    groupAdd: o["group-add"] as string[] | undefined,
    ulimit: o.ulimit as string[] | undefined,
    sysctl: o.sysctl as string[] | undefined,
    oomScoreAdj: o["oom-score-adj"] as string | undefined,
    device: o.device as string[] | undefined,
  });
  const options = {
    mounts,
    limits,
    security,
    image,
    command,
    name: o.name as string | undefined,
    env: [
      ...readEnvFiles(o["env-file"] as string[] | undefined),
      ...((o.env as string[] | undefined) ?? []),
    ],
    workdir: o.workdir as string | undefined,
    hostname: o.hostname as string | undefined,
    entrypoint: o.entrypoint as string | undefined,
    stopSignal: o["stop-signal"] as string | undefined,
    stopTimeout: o["stop-timeout"] === undefined ? undefined : seconds("--stop-timeout", o["stop-timeout"]),
    labels: readLabels(o.label as string[] | undefined, o["label-file"] as string[] | undefined),
    readOnly: Boolean(o["read-only"]),
    tmpfs: o.tmpfs as string[] | undefined,
    network: networkOptions(o),
    interactive: Boolean(o.interactive),
    tty: Boolean(o.tty),
    remove: Boolean(o.rm),
    pull: o.pull as PullPolicy | undefined,
    id: undefined as string | undefined,
    restart: o.restart as string | undefined,
  };
  return options;
}

/** run's last step (`handOff` undoes what the action did when the run goes outside): inside the container's namespaces when the launcher started us, else from outside. */
async function runVerb(
  store: Store,
  options: RunOptions,
  detach: boolean,
  handOff: () => void,
): Promise<number> {
  // Started by lib/container/launcher.sh in the container's namespaces:
  // this process becomes the container (lib/container/inside.ts).
  const supervisor = launchedBy();
  if (supervisor) {
    try {
      return await runInside(store, options, detach, supervisor);
    } catch (e) {
      if (!(e instanceof StartFromOutside)) throw e;
      handOff(); // the CLI the launcher starts outside begins again
      supervisor.send("B");
      return 0;
    }
  }
  const { runContainer, runDetached } = await later<typeof import("../container/outside.ts")>(
    "../container/outside.ts",
    import.meta.url,
  );
  if (!detach) return await runContainer(store, options);
  console.log(await runDetached(store, options));
  return 0;
}

/**
 * `--cidfile`: a new id, written to a file made for it (O_EXCL), as
 * docker refuses a file that exists.
 *
 * @throws {UsageError} docker's `Container ID file found, make sure the other container isn't running or delete FILE`
 */
function writeCidfile(path: string): string {
  const id = newId();
  try {
    Deno.writeTextFileSync(path, id, { createNew: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new UsageError(
        `Container ID file found, make sure the other container isn't running or delete ${path}`,
      );
    }
    throw new UsageError(
      `Cannot write --cidfile "${path}": ${(e as Error).message.replace(/ \(os error \d+\).*/, "")}`,
    );
  }
  return id;
}

async function containerExists(store: Store, id: string): Promise<boolean> {
  return (await listContainers(store)).some((r) => r.id === id);
}

/** A file a flag names, read whole, or a one-line error naming the flag. */
function readFlagFile(flag: string, file: string): string {
  try {
    return Deno.readTextFileSync(file);
  } catch (e) {
    throw new UsageError(
      `Cannot read ${flag} "${file}": ${(e as Error).message.replace(/ \(os error \d+\).*/, "")}`,
    );
  }
}

/** `--env-file`s, in order, as docker reads them (lib/container/env.ts). */
function readEnvFiles(files: string[] = []): string[] {
  return files.flatMap((f) => parseEnvFile(readFlagFile("--env-file", f), f, (k) => Deno.env.get(k)));
}

/** `--label-file`s, then `--label`s: `KEY=VALUE`, or `KEY` for an empty value, as docker takes them. */
function readLabels(labels: string[] = [], files: string[] = []): Record<string, string> | undefined {
  const entries = [
    ...files.flatMap((f) => parseEnvFile(readFlagFile("--label-file", f), f, () => "")),
    ...labels,
  ];
  if (entries.length === 0) return undefined;
  return Object.fromEntries(entries.map((l) => {
    const eq = l.indexOf("=");
    return eq === -1 ? [l, ""] : [l.slice(0, eq), l.slice(eq + 1)];
  }));
}

const ps: Verb = {
  usage: "ps [OPTIONS]",
  summary: "List containers (running ones unless -a)",
  args: { min: 0, max: 0 },
  options: [
    { long: "all", short: "a", kind: "flag", help: "Show all containers, not only running ones" },
    { long: "quiet", short: "q", kind: "flag", help: "Show only ids" },
    { long: "no-trunc", kind: "flag", help: "Do not truncate ids and commands" },
    {
      long: "format",
      kind: "value",
      arg: "json|TEMPLATE",
      help: "One JSON object per container, or a Go template (table TEMPLATE: columns)",
    },
    {
      long: "filter",
      short: "f",
      kind: "list",
      arg: "KEY=VALUE",
      help: "id, name, label, status, exited, ancestor, before, since, volume",
    },
    { long: "last", short: "n", kind: "value", arg: "N", help: "The N last created containers (all states)" },
    { long: "latest", short: "l", kind: "flag", help: "The last created container (all states)" },
    {
      long: "size",
      short: "s",
      kind: "flag",
      help: "Show the writable layer's size (and the image's: virtual)",
    },
    HELP,
  ],
  async action(store, { options: o }) {
    const template = o.format !== undefined && o.format !== "json";
    // what goes beyond the plain table is loaded only when asked for
    const more = o.filter || o.last !== undefined || o.latest || o.size || template
      ? await later<typeof import("./listing.ts")>("./listing.ts", import.meta.url)
      : null;
    const listed = await listContainers(store);
    const records = more
      ? await more.selectContainers(store, listed, o)
      : listed.filter((r) => o.all || isRunning(r));
    // A record that cannot be parsed: shown (with -a) so that rm -f can take it.
    const damaged = o.all && !more ? await listDamaged(store) : [];
    if (template) {
      await more!.printPsFormat(store, records, o, (r) => statusText(r));
      return 0;
    }
    if (o.format !== undefined) {
      if (o.format !== "json") throw new UsageError(`Unknown format "${o.format}": use --format json`);
      for (const r of records) console.log(JSON.stringify({ ...r, Status: statusText(r) }));
      for (const d of damaged) console.log(JSON.stringify({ id: d.id, Status: "Damaged", file: d.file }));
      return 0;
    }
    const full = Boolean(o["no-trunc"]);
    const id = (r: { id: string }) => (full ? r.id : r.id.slice(0, 12));
    if (o.quiet) {
      for (const r of [...records, ...damaged]) console.log(id(r));
      return 0;
    }
    const sizes = o.size ? await more!.sizesOf(store, records) : undefined;
    const rows = records.map((r) => {
      const command = r.command.join(" ");
      const shown = full ? command : ellipsis(command, 20);
      const row = [id(r), r.image, `"${shown}"`, timeAgo(r.created), statusText(r), portsColumn(r), r.name];
      const size = sizes?.get(r.id);
      return size ? [...row, `${humanSize(size.rw)} (virtual ${humanSize(size.rw + size.image)})`] : row;
    });
    for (const d of damaged) rows.push([id(d), "?", "?", "?", "Damaged (rm -f to remove)", "", "?"]);
    const head = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"];
    console.log(table(sizes ? [...head, "SIZE"] : head, rows));
    return 0;
  },
};

/** "Up 3 minutes", "Up 3 minutes (Paused)", "Exited (0) 2 minutes ago" or "Created", as docker's. */
function statusText(r: ContainerRecord, now = Date.now()): string {
  const up = `Up ${humanDuration(now - Date.parse(r.startedAt ?? r.created))}`;
  if (r.status === "running") return up;
  if (r.status === "paused") return `${up} (Paused)`;
  if (r.status === "exited") return `Exited (${r.exitCode}) ${timeAgo(r.finishedAt ?? r.created, now)}`;
  return "Created";
}

const rm: Verb = {
  usage: "rm [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Remove containers (their record and their writable layer)",
  args: { min: 1 },
  options: [{ long: "force", short: "f", kind: "flag", help: "Kill a running container first" }, HELP],
  async action(store, { options: o, positionals }) {
    return await forEachName(positionals, (ref) => removeContainer(store, ref, Boolean(o.force)));
  },
};

const logs: Verb = {
  usage: "logs [-f] [--tail N] [-t] [--since TIME] [--until TIME] CONTAINER",
  summary: "Show a detached container's output: stdout to stdout, stderr to stderr",
  args: { min: 1, max: 1 },
  options: [
    { long: "follow", short: "f", kind: "flag", help: "Keep printing until the container exits" },
    { long: "tail", kind: "value", arg: "N", help: "Only the last N lines" },
    { long: "timestamps", short: "t", kind: "flag", help: "Prefix each line with its time (RFC 3339)" },
    {
      long: "since",
      kind: "value",
      arg: "TIME",
      help: "Lines from TIME on: RFC 3339, Unix seconds, or 10m ago",
    },
    { long: "until", kind: "value", arg: "TIME", help: "Lines before TIME (and -f stops there)" },
    HELP,
  ],
  async action(store, { options: o, positionals: [container] }) {
    const { containerLogs } = await later<typeof import("../container/lifecycle.ts")>(
      "../container/lifecycle.ts",
      import.meta.url,
    );
    const { parseTimestamp } = await later<typeof import("./when.ts")>("./when.ts", import.meta.url);
    const when = (flag: "since" | "until") =>
      o[flag] === undefined ? undefined : parseTimestamp(String(o[flag]), flag);
    const { logTime } = await later<typeof import("../container/supervise.ts")>(
      "../container/supervise.ts",
      import.meta.url,
    );
    const tail = o.tail === undefined ? undefined : Number(o.tail);
    if (tail !== undefined && !(Number.isInteger(tail) && tail >= 0)) {
      throw new UsageError(`Invalid --tail "${o.tail}": use a whole number of lines`);
    }
    const encoder = new TextEncoder();
    const opts = { follow: Boolean(o.follow), tail, since: when("since"), until: when("until") };
    await containerLogs(store, container, opts, (line) => {
      const text = `${o.timestamps ? `${logTime(line.time)} ` : ""}${line.text}\n`;
      (line.stream === "stdout" ? Deno.stdout : Deno.stderr).writeSync(encoder.encode(text));
    });
    return 0;
  },
};

const exec: Verb = {
  outsideUserNamespace: true,
  usage: "exec [-d] [-i] [-t] [-u USER] [--privileged] [-e KEY=VALUE] [-w DIR] CONTAINER COMMAND [ARG...]",
  summary: "Run a command in a running container",
  stopAtPositional: true,
  args: { min: 2 },
  options: [
    { long: "detach", short: "d", kind: "flag", help: "Run it in the background, output discarded" },
    INTERACTIVE,
    TTY,
    ENV,
    WORKDIR,
    USER,
    { long: "privileged", kind: "flag", help: "Every capability (the container's seccomp filter stays)" },
    HELP,
  ],
  async action(store, { options: o, positionals: [container, ...command] }) {
    const { execInContainer } = await later<typeof import("../container/exec.ts")>(
      "../container/exec.ts",
      import.meta.url,
    );
    return await execInContainer(store, container, {
      command,
      user: o.user as string | undefined,
      privileged: Boolean(o.privileged),
      env: o.env as string[] | undefined,
      workdir: o.workdir as string | undefined,
      interactive: Boolean(o.interactive),
      tty: Boolean(o.tty),
      detach: Boolean(o.detach),
    });
  },
};

const stop: Verb = {
  usage: "stop [-t SECONDS] CONTAINER...",
  summary: "Stop containers: SIGTERM, then SIGKILL after the timeout (default 10 s)",
  args: { min: 1 },
  options: [STOP_TIME, HELP],
  async action(store, { options: o, positionals }) {
    const { stopContainer } = await later<typeof import("../container/lifecycle.ts")>(
      "../container/lifecycle.ts",
      import.meta.url,
    );
    // without -t, each container's own --stop-timeout (else 10)
    const timeout = o.time === undefined ? undefined : seconds("-t", o.time);
    return await forEachName(positionals, (ref) => stopContainer(store, ref, timeout));
  },
};

const start: Verb = {
  usage: "start [-a] CONTAINER...",
  summary: "Start exited containers again, on their kept writable layer (detached unless -a)",
  args: { min: 1 },
  options: [{
    long: "attach",
    short: "a",
    kind: "flag",
    help: "Wait, with its output, and exit with its code",
  }, HELP],
  async action(store, { options: o, positionals }) {
    // Started by lib/container/launcher.sh (one container) in its namespaces.
    const supervisor = launchedBy();
    if (supervisor && positionals.length === 1) {
      return await startInside(store, positionals[0], Boolean(o.attach), supervisor);
    }
    const { startContainer } = await later<typeof import("../container/outside.ts")>(
      "../container/outside.ts",
      import.meta.url,
    );
    if (o.attach) {
      if (positionals.length > 1) throw new UsageError('"skiff start -a" takes one container');
      return await startContainer(store, positionals[0], true);
    }
    return await forEachName(positionals, (ref) => startContainer(store, ref));
  },
};

const restart: Verb = {
  usage: "restart [-t SECONDS] CONTAINER...",
  summary: "Stop containers (as stop does) and start them again, detached",
  args: { min: 1 },
  options: [STOP_TIME, HELP],
  async action(store, { options: o, positionals }) {
    const { stopContainer } = await later<typeof import("../container/lifecycle.ts")>(
      "../container/lifecycle.ts",
      import.meta.url,
    );
    const { startContainer } = await later<typeof import("../container/outside.ts")>(
      "../container/outside.ts",
      import.meta.url,
    );
    const timeout = o.time === undefined ? undefined : seconds("-t", o.time);
    return await forEachName(positionals, async (ref) => {
      await stopContainer(store, ref, timeout);
      await startContainer(store, ref);
    });
  },
};

const kill: Verb = {
  usage: "kill [-s SIGNAL] CONTAINER...",
  summary: "Send a signal (default KILL) to containers' PID 1",
  args: { min: 1 },
  options: [{ long: "signal", short: "s", kind: "value", arg: "SIGNAL", help: "e.g. TERM, HUP, 9" }, HELP],
  async action(store, { options: o, positionals }) {
    const { killContainer } = await later<typeof import("../container/lifecycle.ts")>(
      "../container/lifecycle.ts",
      import.meta.url,
    );
    return await forEachName(positionals, (ref) => killContainer(store, ref, (o.signal as string) ?? "KILL"));
  },
};

const stats: Verb = {
  usage: "stats [--no-stream] [--format TEMPLATE] [CONTAINER...]",
  summary: "Show running containers' CPU, memory and process use (every second unless --no-stream)",
  args: { min: 0 },
  options: [
    { long: "no-stream", kind: "flag", help: "Print one sample and exit" },
    { long: "format", kind: "value", arg: "TEMPLATE", help: "A Go template (table TEMPLATE: columns)" },
    HELP,
  ],
  async action(store, { options: o, positionals }) {
    const { sampleStats } = await later<typeof import("../container/stats.ts")>(
      "../container/stats.ts",
      import.meta.url,
    );
    const pick = async () => {
      const running = (await listContainers(store)).filter((r) => isRunning(r) && r.cgroup);
      return positionals.length === 0 ? running : positionals.map((ref) => findContainer(running, ref));
    };
    do {
      const samples = await sampleStats(await pick(), 1000);
      if (o.format !== undefined) {
        const c = await later<typeof import("./contexts.ts")>("./contexts.ts", import.meta.url);
        c.printFormatted(String(o.format), samples.map(c.statsContext), c.STATS_HEADERS, c.STATS_TABLE);
        continue;
      }
      const rows = samples.map((s) => [
        s.record.id.slice(0, 12),
        s.record.name,
        `${s.cpuPercent.toFixed(2)}%`,
        `${humanBytes(s.memoryBytes)} / ${humanBytes(s.memoryLimit)}`,
        `${((s.memoryBytes / s.memoryLimit) * 100).toFixed(2)}%`,
        String(s.pids),
      ]);
      console.log(table(["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"], rows));
    } while (!o["no-stream"] && (await pick()).length > 0);
    return 0;
  },
};

const inspect: Verb = {
  usage: "inspect [-f TEMPLATE] CONTAINER|IMAGE...",
  summary: "Show a container's record (state, config, mounts) or an image's config, as JSON",
  args: { min: 1 },
  options: [
    {
      long: "format",
      short: "f",
      kind: "value",
      arg: "TEMPLATE",
      help: "A Go template over docker's fields, each result on a line",
    },
    HELP,
  ],
  async action(store, { options: o, positionals }) {
    const records = await listContainers(store);
    const found: unknown[] = [];
    const contexts = o.format === undefined
      ? null
      : await later<typeof import("./contexts.ts")>("./contexts.ts", import.meta.url);
    for (const ref of positionals) {
      try {
        const record = findContainer(records, ref);
        const fields = inspectFields(record);
        const view = contexts ? contexts.inspectView(record) : record;
        const config = (view as { Config?: Record<string, unknown> }).Config;
        found.push({
          ...view,
          ...fields,
          Config: { ...config, ...fields.Config },
          NetworkSettings: networkSettingsView(record),
        });
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
        const image = await findImage(store, ref);
        if (!image) throw new NotFoundError(`No such container or image: ${ref}`);
        const digests = await repoDigests(store, image.id);
        found.push({
          Id: `sha256:${image.id}`,
          RepoTags: [image.ref],
          RepoDigests: digests,
          Size: image.size,
          ...image.config,
        });
      }
    }
    if (contexts) contexts.printFormatted(String(o.format), found, {}, "");
    else console.log(JSON.stringify(found, null, 2));
    return 0;
  },
};

const commit: Verb = {
  usage: "commit [OPTIONS] CONTAINER NAME[:TAG]",
  summary:
    "Make an image of a container (a running one is paused meanwhile): its image plus one layer of its changes",
  args: { min: 2, max: 2 },
  options: [
    { long: "message", short: "m", kind: "value", arg: "MSG", help: "A comment for the image's history" },
    {
      long: "change",
      short: "c",
      kind: "list",
      arg: "INSTRUCTION",
      help: "Set CMD, ENTRYPOINT, ENV, USER or WORKDIR, e.g. -c 'CMD [\"sh\"]' (repeatable)",
    },
    HELP,
  ],
  async action(store, { options: o, positionals: [container, ref] }) {
    const { commitContainer } = await later<typeof import("../container/commit.ts")>(
      "../container/commit.ts",
      import.meta.url,
    );
    const image = await commitContainer(store, {
      container,
      ref,
      message: o.message as string | undefined,
      changes: o.change as string[] | undefined,
    });
    console.log(`sha256:${image.id}`);
    return 0;
  },
};

const exportVerb: Verb = {
  usage: "export [-o FILE] CONTAINER",
  summary: "Write a container's whole tree, flattened, as a tar (to stdout unless -o)",
  args: { min: 1, max: 1 },
  options: [{ long: "output", short: "o", kind: "value", arg: "FILE", help: "Write to FILE" }, HELP],
  async action(store, { options: o, positionals: [container] }) {
    const { exportContainer } = await later<typeof import("../container/export.ts")>(
      "../container/export.ts",
      import.meta.url,
    );
    const path = o.output as string | undefined;
    if (path === undefined) {
      if (Deno.stdout.isTerminal()) {
        throw new UsageError("Refusing to write a tar to the terminal: use -o FILE or redirect stdout");
      }
      await exportContainer(store, container, "inherit");
      return 0;
    }
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    try {
      await exportContainer(store, container, file);
    } catch (e) {
      await Deno.remove(path).catch(() => {});
      throw e;
    }
    return 0;
  },
};

const wait: Verb = {
  usage: "wait CONTAINER...",
  summary: "Wait until containers exit, and print their exit codes",
  args: { min: 1 },
  options: [HELP],
  async action(store, { positionals }) {
    const { waitContainer } = await later<typeof import("../container/lifecycle.ts")>(
      "../container/lifecycle.ts",
      import.meta.url,
    );
    return await forEachName(positionals, (ref) => waitContainer(store, ref), (_, code) => String(code));
  },
};

const rename: Verb = {
  usage: "rename CONTAINER NEW_NAME",
  summary: "Rename a container",
  args: { min: 2, max: 2 },
  options: [HELP],
  async action(store, { positionals: [container, name] }) {
    await renameContainer(store, container, name);
    return 0;
  },
};

const top: Verb = {
  usage: "top CONTAINER [ps OPTIONS]",
  summary: "Show a running container's processes: the host's ps (-ef unless given) over them",
  stopAtPositional: true,
  args: { min: 1 },
  options: [HELP],
  async action(store, { positionals: [container, ...psArgs] }) {
    const { containerTop, DEFAULT_PS_ARGS } = await later<typeof import("../container/top.ts")>(
      "../container/top.ts",
      import.meta.url,
    );
    const { titles, processes } = await containerTop(
      store,
      container,
      psArgs.length > 0 ? psArgs : DEFAULT_PS_ARGS,
    );
    console.log(table(titles, processes, { minWidth: 20 }));
    return 0;
  },
};

const diff: Verb = {
  usage: "diff CONTAINER",
  summary: "Show a container's changes to its image's files: A added, C changed, D deleted",
  args: { min: 1, max: 1 },
  options: [HELP],
  async action(store, { positionals: [container] }) {
    const { containerDiff } = await later<typeof import("../container/diff.ts")>(
      "../container/diff.ts",
      import.meta.url,
    );
    // one change a line: a path's control characters (a newline among them) escaped
    for (const c of await containerDiff(store, container)) console.log(`${c.kind} ${escapeControls(c.path)}`);
    return 0;
  },
};

const cp: Verb = {
  usage: "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-  or  cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
  summary: "Copy files between a container and the host; - is a tar on stdin or stdout",
  args: { min: 2, max: 2 },
  options: [
    { long: "archive", short: "a", kind: "flag", help: "Keep the source's owners (uid and gid)" },
    { long: "follow-link", short: "L", kind: "flag", help: "Follow a symlink SRC_PATH" },
    { long: "quiet", short: "q", kind: "flag", help: "No progress (skiff prints none)" },
    HELP,
  ],
  async action(store, { options: o, positionals: [src, dst] }) {
    const { copy, parseCpArg } = await later<typeof import("../container/cp.ts")>(
      "../container/cp.ts",
      import.meta.url,
    );
    if (dst === "-" && Deno.stdout.isTerminal()) {
      throw new UsageError("Refusing to write a tar to the terminal: redirect stdout");
    }
    try {
      await copy(store, parseCpArg(src), parseCpArg(dst), {
        archive: Boolean(o.archive),
        followLink: Boolean(o["follow-link"]),
      });
    } catch (e) {
      // docker's cp exits 1 when it fails
      console.error(`skiff: ${describeError(e)}`);
      return 1;
    }
    return 0;
  },
};

const container: Verb = {
  usage: "container prune [-f]",
  summary: "container prune: remove all stopped containers (asking first unless -f)",
  args: { min: 1, max: 1 },
  options: [{ long: "force", short: "f", kind: "flag", help: "Do not ask for confirmation" }, HELP],
  async action(store, { options: o, positionals: [sub] }) {
    if (sub !== "prune") throw new UsageError(`Unknown container command "${sub}"; use prune`);
    return await prune(store, "container", Boolean(o.force));
  },
};

/** pause and unpause: one call of lib/container/lifecycle.ts per container. */
function freezerVerb(name: "pause" | "unpause", summary: string): Verb {
  return {
    usage: `${name} CONTAINER...`,
    summary,
    args: { min: 1 },
    options: [HELP],
    async action(store, { positionals }) {
      const lifecycle = await later<typeof import("../container/lifecycle.ts")>(
        "../container/lifecycle.ts",
        import.meta.url,
      );
      lifecycle.refuseRootless(name); // once, not once per container
      const fn = name === "pause" ? lifecycle.pauseContainer : lifecycle.unpauseContainer;
      return await forEachName(positionals, (ref) => fn(store, ref));
    },
  };
}

const pause = freezerVerb("pause", "Pause all processes of running containers (the cgroup freezer)");
const unpause = freezerVerb("unpause", "Unpause paused containers");

/** The container verbs, in the order help lists them. */
export const CONTAINER_VERBS: Record<string, Verb> = {
  run,
  create,
  ps,
  logs,
  exec,
  start,
  stop,
  restart,
  kill,
  rm,
  inspect,
  stats,
  commit,
  export: exportVerb,
  wait,
  rename,
  pause,
  unpause,
  top,
  diff,
  cp,
  container,
};
