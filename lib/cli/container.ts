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
  removeContainer,
  renameContainer,
} from "../container/containers.ts";
import { NotFoundError, UsageError } from "../errors.ts";
import { ellipsis, escapeControls, humanBytes, humanDuration, table, timeAgo } from "./format.ts";
import { parseLimits } from "../host/cgroup/cgroups.ts";
import { findImage } from "../image/images.ts";
import { repoDigests } from "../image/registry/digests.ts";
import { launchedBy, runInside, StartFromOutside, startInside } from "../container/inside.ts";
import type { PullPolicy } from "../container/resolve_image.ts";
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
      long: "tmpfs",
      kind: "list",
      arg: "PATH[:OPTS]",
      help: "A tmpfs on PATH (noexec,nosuid,nodev; OPTS: ro, exec, size=64m, mode=1777...)",
    },
    ...NETWORK_OPTIONS,
    HELP,
  ],
  async action(store, { options: o, positionals: [image, ...command] }) {
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
    };
    // Started by lib/container/launcher.sh in the container's namespaces:
    // this process becomes the container (lib/container/inside.ts).
    const supervisor = launchedBy();
    if (supervisor) {
      try {
        return await runInside(store, options, Boolean(o.detach), supervisor);
      } catch (e) {
        if (!(e instanceof StartFromOutside)) throw e;
        supervisor.send("B");
        return 0;
      }
    }
    const { runContainer, runDetached } = await import("../container/outside.ts");
    if (!o.detach) return await runContainer(store, options);
    console.log(await runDetached(store, options));
    return 0;
  },
};

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
    { long: "format", kind: "value", arg: "json", help: "Print one JSON object per container" },
    HELP,
  ],
  async action(store, { options: o }) {
    const records = (await listContainers(store)).filter((r) => o.all || isRunning(r));
    // A record that cannot be parsed: shown (with -a) so that rm -f can take it.
    const damaged = o.all ? await listDamaged(store) : [];
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
    const rows = records.map((r) => {
      const command = r.command.join(" ");
      const shown = full ? command : ellipsis(command, 20);
      return [id(r), r.image, `"${shown}"`, timeAgo(r.created), statusText(r), portsColumn(r), r.name];
    });
    for (const d of damaged) rows.push([id(d), "?", "?", "?", "Damaged (rm -f to remove)", "", "?"]);
    console.log(table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], rows));
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
  usage: "logs [-f] [--tail N] [-t] CONTAINER",
  summary: "Show a detached container's output: stdout to stdout, stderr to stderr",
  args: { min: 1, max: 1 },
  options: [
    { long: "follow", short: "f", kind: "flag", help: "Keep printing until the container exits" },
    { long: "tail", kind: "value", arg: "N", help: "Only the last N lines" },
    { long: "timestamps", short: "t", kind: "flag", help: "Prefix each line with its time (RFC 3339)" },
    HELP,
  ],
  async action(store, { options: o, positionals: [container] }) {
    const { containerLogs } = await import("../container/lifecycle.ts");
    const { logTime } = await import("../container/supervise.ts");
    const tail = o.tail === undefined ? undefined : Number(o.tail);
    if (tail !== undefined && !(Number.isInteger(tail) && tail >= 0)) {
      throw new UsageError(`Invalid --tail "${o.tail}": use a whole number of lines`);
    }
    const encoder = new TextEncoder();
    await containerLogs(store, container, { follow: Boolean(o.follow), tail }, (line) => {
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
    const { execInContainer } = await import("../container/exec.ts");
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
    const { stopContainer } = await import("../container/lifecycle.ts");
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
    const { startContainer } = await import("../container/outside.ts");
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
    const { stopContainer } = await import("../container/lifecycle.ts");
    const { startContainer } = await import("../container/outside.ts");
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
    const { killContainer } = await import("../container/lifecycle.ts");
    return await forEachName(positionals, (ref) => killContainer(store, ref, (o.signal as string) ?? "KILL"));
  },
};

const stats: Verb = {
  usage: "stats [--no-stream] [CONTAINER...]",
  summary: "Show running containers' CPU, memory and process use (every second unless --no-stream)",
  args: { min: 0 },
  options: [{ long: "no-stream", kind: "flag", help: "Print one sample and exit" }, HELP],
  async action(store, { options: o, positionals }) {
    const { sampleStats } = await import("../container/stats.ts");
    const pick = async () => {
      const running = (await listContainers(store)).filter((r) => isRunning(r) && r.cgroup);
      return positionals.length === 0 ? running : positionals.map((ref) => findContainer(running, ref));
    };
    do {
      const samples = await sampleStats(await pick(), 1000);
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
  usage: "inspect CONTAINER|IMAGE...",
  summary: "Show a container's record (state, config, mounts) or an image's config, as JSON",
  args: { min: 1 },
  options: [HELP],
  async action(store, { positionals }) {
    const records = await listContainers(store);
    const found: unknown[] = [];
    for (const ref of positionals) {
      try {
        const record = findContainer(records, ref);
        found.push({ ...record, ...inspectFields(record), NetworkSettings: networkSettingsView(record) });
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
    console.log(JSON.stringify(found, null, 2));
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
    const { commitContainer } = await import("../container/commit.ts");
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
    const { exportContainer } = await import("../container/export.ts");
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
    const { waitContainer } = await import("../container/lifecycle.ts");
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
    const { containerTop, DEFAULT_PS_ARGS } = await import("../container/top.ts");
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
    const { containerDiff } = await import("../container/diff.ts");
    // one change a line: a path's control characters (a newline among them) escaped
    for (const c of await containerDiff(store, container)) console.log(`${c.kind} ${escapeControls(c.path)}`);
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
      const lifecycle = await import("../container/lifecycle.ts");
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
  container,
};
