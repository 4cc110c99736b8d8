/**
 * Helpers for end-to-end tests: drive the CLI through `deno task` as a
 * user would, each test in a store of its own that is removed afterwards,
 * with a check that nothing stayed mounted.
 *
 * @module
 */

import assert from "node:assert/strict";
import { childrenOf, isAlive, processStartTime } from "../lib/host/proc.ts";

/** The repository's deno.json: `deno task` is how users run skiff. */
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** Root-only tests are skipped, with this in their name, when not root. */
export const ROOT_ONLY = { ignore: Deno.uid() !== 0 };
if (ROOT_ONLY.ignore) console.warn("skiff: not root, so end-to-end tests that need root are skipped");

/** What a finished skiff command left. */
export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for one skiff command. */
export interface SkiffOptions {
  stdin?: string;
  env?: Record<string, string>;
}

/**
 * The argv that runs skiff with a store: `deno task -q skiff --root STORE ...`.
 * A `run`, `create` or `build` gets `--network none` unless it names a network:
 * only the network tests, inside namespaces of their own
 * (tests/network_test.ts), may touch a network, never the real host's.
 */
export function skiffArgv(store: string, args: string[]): string[] {
  return ["task", "-q", "--config", CONFIG, "skiff", "--root", store, ...withoutNetwork(args)];
}

/** `args` with `--network none` after a leading `run`, `create` or `build` that names no network. */
export function withoutNetwork(args: string[]): string[] {
  const verb = args.findIndex((a) => a === "run" || a === "create" || a === "build");
  // (after global options only: --root DIR, --runroot DIR)
  const global = args.slice(0, verb).every((a, i) => i % 2 === 1 || a === "--root" || a === "--runroot");
  if (verb < 0 || !global || args.some((a) => /^--net(work)?(=|$)/.test(a))) return args;
  return [...args.slice(0, verb + 1), "--network", "none", ...args.slice(verb + 1)];
}

/**
 * A shell function `skiff` that runs the CLI with a store, with
 * {@link withoutNetwork}'s default for `run`, `create` and `build`.
 */
export function skiffFunction(store: string): string {
  const cmd = [Deno.execPath(), ...skiffArgv(store, [])].map(quote).join(" ");
  return `skiff() { case " $* " in *" --network"*|*" --net"*) ;; *) case $1 in run|create|build) v=$1; shift; set -- "$v" --network none "$@" ;; esac ;; esac; ${cmd} "$@"; }`;
}

/** Runs skiff to completion and collects its output. */
export async function skiff(store: string, args: string[], opts: SkiffOptions = {}): Promise<Result> {
  const child = new Deno.Command(Deno.execPath(), {
    args: skiffArgv(store, args),
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: opts.env,
  }).spawn();
  if (opts.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(opts.stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

/**
 * Runs skiff holding a descriptor it did not open, as a careless parent
 * passes one: fd 7, on the host's `/`. Nothing in a container may see it.
 */
export async function skiffWithStrayFd(store: string, args: string[]): Promise<Result> {
  const { code, stdout, stderr } = await new Deno.Command("sh", {
    args: ["-c", 'exec 7< / && exec "$@"', "sh", Deno.execPath(), ...skiffArgv(store, args)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

/** Runs skiff and fails the test unless it exits 0; returns its stdout. */
export async function skiffOk(store: string, args: string[], opts?: SkiffOptions): Promise<string> {
  const r = await skiff(store, args, opts);
  assert.equal(r.code, 0, `skiff ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** The host's mounts whose line mentions `path`. */
export function mountsUnder(path: string): string[] {
  return Deno.readTextFileSync("/proc/self/mountinfo").split("\n").filter((l) => l.includes(path));
}

/** Entries of a store directory, or [] when it does not exist. */
export function entries(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

const TMP = Deno.env.get("TMPDIR") ?? "/tmp";

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Removes the seeds of test processes that have exited. */
function sweepSeeds(): void {
  for (const entry of Deno.readDirSync(TMP)) {
    const m = entry.name.match(/^skiff-seed-(\d+)-(\d+)(-|\.ready$|$)/); // -RANDOM: an older naming
    if (m && !isAlive(Number(m[1]), Number(m[2]))) {
      Deno.removeSync(`${TMP}/${entry.name}`, { recursive: true });
    }
  }
}

/** The busybox image of the first store, tarred, to seed others quickly. */
let seed: string | undefined;

/**
 * Runs `fn` with a fresh store (busybox already imported unless `empty`),
 * then checks no mount was left and removes the store.
 */
export async function withStore(
  fn: (store: string) => Promise<void>,
  { empty = false } = {},
): Promise<void> {
  const store = await Deno.makeTempDir({ prefix: "skiff-e2e-" });
  try {
    if (!empty) await seedBusybox(store);
    await fn(store);
    assert.deepEqual(mountsUnder(store), [], "no mount is left on the host");
  } finally {
    // A test that killed a skiff leaves its bookkeeping (the cgroup, say)
    // to the next command: give it one, and remove every container (a
    // failed test may leave one running) before the store goes.
    const ids = (await skiff(store, ["ps", "-aq", "--no-trunc"]).catch(() => ({ stdout: "" }))).stdout
      .split("\n").filter((id) => id !== "");
    if (ids.length > 0) await skiff(store, ["rm", "-f", ...ids]).catch(() => {});
    // Only mounts we made could be here; they would block removal.
    for (const _ of mountsUnder(store)) {
      await new Deno.Command("umount", { args: ["-R", "-l", store] }).output();
    }
    await Deno.remove(store, { recursive: true });
  }
}

/** Copies a busybox image into `store` (built once per test process). */
async function seedBusybox(store: string): Promise<void> {
  if (seed === undefined) {
    // deno test fires no unload event, so a seed cannot remove itself at
    // exit: it is named after its test process, and the next one removes
    // the seeds of processes that are gone. Test modules run one after
    // another in one process, each with its own copy of this module: the
    // first makes the seed, the others find it ready and share it.
    sweepSeeds();
    const dir = `${TMP}/skiff-seed-${Deno.pid}-${processStartTime(Deno.pid)}`;
    if (!isFile(`${dir}.ready`)) {
      await Deno.remove(dir, { recursive: true }).catch(() => {}); // a module that failed while making it
      await Deno.mkdir(dir, { mode: 0o700 });
      await skiffOk(dir, ["run", "--rm", "busybox", "true"]);
      Deno.writeTextFileSync(`${dir}.ready`, "");
    }
    seed = dir;
  }
  const cp = await new Deno.Command("cp", { args: ["-a", `${seed}/.`, store] }).output();
  assert.equal(cp.code, 0);
}

/**
 * The processes of a `run` under deno task's pid `task` (see
 * docs/process-model.md): the launcher (deno task's child), its supervisor,
 * the supervisor's keeper, and the keeper's child, PID 1 of the container
 * (the CLI, then the command). Each is undefined until it exists.
 */
export function chainOf(
  task: number,
): { launcher?: number; supervisor?: number; keeper?: number; pid1?: number } {
  const cmdline = (pid: number) => {
    try {
      return Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    } catch {
      return "";
    }
  };
  const launcher = childrenOf(task)[0];
  const supervisor = launcher === undefined
    ? undefined
    : childrenOf(launcher).find((p) => cmdline(p).includes("supervise.sh"));
  // the keeper's argv names it; the relays' do not
  const keeper = supervisor === undefined
    ? undefined
    : childrenOf(supervisor).find((p) => cmdline(p).includes("\0keeper\0"));
  const pid1 = keeper === undefined ? undefined : childrenOf(keeper)[0];
  return { launcher, supervisor, keeper, pid1 };
}

/** A skiff started in the background, through deno task. */
export interface Background {
  child: Deno.ChildProcess;
  /** skiff's own pid (deno task's child: the launcher), once it has started. */
  skiffPid(): number | undefined;
  /**
   * SIGKILLs skiff, once started: its supervisor (the container dies with
   * it) and its launcher, and waits for deno task.
   */
  stop(): Promise<void>;
}

/** Starts `skiff args` in the background, its output discarded unless `stdout: "piped"`. */
export function background(store: string, args: string[], stdout: "null" | "piped" = "null"): Background {
  const child = new Deno.Command(Deno.execPath(), { args: skiffArgv(store, args), stdout, stderr: "null" })
    .spawn();
  const skiffPid = () => childrenOf(child.pid)[0];
  let exited = false;
  child.status.then(() => exited = true);
  return {
    child,
    skiffPid,
    async stop() {
      // deno task may not have started skiff yet: killing nothing would wait out the whole run
      await waitFor(() => exited || skiffPid() !== undefined, "skiff to start, to stop it");
      const pid = skiffPid();
      if (pid !== undefined) await killChain(child.pid, pid);
      await child.status;
      if (stdout === "piped") await child.stdout.cancel().catch(() => {});
    },
  };
}

/**
 * SIGKILLs a run's supervisor and launcher: the launcher is stopped first,
 * so that it starts no supervisor that would be missed.
 */
export async function killChain(task: number, launcher: number): Promise<void> {
  const signal = (pid: number | undefined, sig: Deno.Signal) => {
    try {
      if (pid !== undefined) Deno.kill(pid, sig);
    } catch { /* already gone */ }
  };
  signal(launcher, "SIGSTOP");
  await waitFor(() => {
    try {
      const stat = Deno.readTextFileSync(`/proc/${launcher}/stat`);
      return /^\S+ \(.*\) [TZX]/.test(stat);
    } catch {
      return true;
    }
  }, "the launcher to stop");
  signal(chainOf(task).supervisor, "SIGKILL");
  signal(launcher, "SIGKILL");
}

/**
 * Polls `check` every 20 ms until it is true. Tests wait for conditions,
 * never for a time, and assert no durations: the guard only ends a test
 * that would hang (a condition that never comes), naming `what` it waited
 * for; it is set far above any wait on a loaded machine, not a speed limit.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what = "the condition",
): Promise<void> {
  const guard = Date.now() + HANG_GUARD_MS;
  while (!(await check())) {
    if (Date.now() > guard) {
      throw new Error(`Still waiting for ${what} after ${HANG_GUARD_MS / 1000} s: hung`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** How long {@link waitFor} waits before calling a test hung. */
const HANG_GUARD_MS = 120_000;

/** A shell word for `sh -c` and script(1)'s command: single-quoted. */
export const quote = (s: string) => `'${s.replaceAll("'", `'"'"'`)}'`;

/**
 * Runs `shell` (sh syntax, with a `skiff` function for the CLI) under
 * script(1), on a new terminal, on which `typed` is typed (an answer to a
 * prompt).
 */
export async function underScript(
  store: string,
  shell: string,
  typed = "",
): Promise<{ code: number; out: string }> {
  // script's stdin stays open: at its EOF script types an end-of-file
  // character on the terminal, which the command would read.
  const child = new Deno.Command("script", {
    args: ["-qec", `${skiffFunction(store)}; ${shell}`, "/dev/null"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    if (typed !== "") {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(typed));
      writer.releaseLock();
    }
    const [stdout, stderr, status] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.status,
    ]);
    return { code: status.code, out: stdout.replaceAll("\r", "") + stderr };
  } finally {
    await child.stdin.close().catch(() => {});
  }
}
