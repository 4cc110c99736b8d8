/**
 * The command lines that start a container, as pure functions so they can
 * be checked as data, and the one way skiff runs its helper tools (tar,
 * gzip, openssl, find, cp): tied to skiff's life, their failures told with
 * their own words and exit status.
 *
 * Namespaces come from util-linux `unshare`, not from unshare(2) through
 * FFI: a Deno process is multi-threaded from the start, and the kernel
 * refuses or half-applies namespace changes to such a process (DESIGN.md).
 *
 * @module
 */

/**
 * A namespace, by util-linux's name for it: `unshare --NAME` makes one,
 * `nsenter --NAME` joins one.
 */
export type Namespace = "mount" | "uts" | "ipc" | "net" | "pid" | "cgroup" | "time" | "user";

/**
 * The namespaces every container gets: the one list `run` makes and `exec`
 * joins (a namespace left out of a container must be left out here, or
 * exec would join the host's).
 */
export const NAMESPACES: readonly Namespace[] = ["mount", "uts", "ipc", "net", "pid"];

/** The util-linux flag for a namespace: `--mount`. */
export function namespaceFlag(ns: Namespace): string {
  return `--${ns}`;
}

/** The namespace's entry under /proc/PID/ns/. */
export function namespaceFile(ns: Namespace): string {
  return ns === "mount" ? "mnt" : ns;
}

/**
 * `deno run` of a module of skiff's, with only the permissions it names;
 * no config, lock file or prompt (it runs in a container's namespaces).
 */
export function denoArgv(deno: string, module: string, permissions: string[], args: string[]): string[] {
  return [deno, "run", "--quiet", "--no-config", "--no-lock", "--no-prompt", ...permissions, module, ...args];
}

/** What {@link containerArgv} needs. */
export interface SpawnSpec {
  /** The Deno binary that runs init. */
  deno: string;
  /** Path or URL of lib/init.ts. */
  initModule: string;
  /** The init spec's file (JSON). */
  initSpec: string;
  /** The namespaces to make: {@link NAMESPACES} but the network's (init makes or joins that one) unless given. */
  namespaces?: readonly Namespace[];
}

/**
 * argv for starting a container's init. One process, the container's
 * keeper, becomes in turn:
 *
 * - `setpriv --pdeathsig SIGKILL`: the keeper dies with the skiff that
 *   started it, even under SIGKILL;
 * - `unshare ... --propagation private`: the new namespaces; with `--pid`
 *   and no `--fork`, the keeper's first child is PID 1 of the new one.
 *   Nothing mounted inside reaches the host;
 * - `timeout --foreground 0`: forks that child and waits for it, reporting
 *   a death by signal faithfully (no time limit: 0). `unshare --fork` would
 *   do both, but util-linux 2.38 turns a child's SIGKILL into "sigprocmask
 *   unblock failed" and exit 1, and SIGKILL is how containers die of OOM;
 * - the child, via `setpriv --pdeathsig SIGKILL`, dies with the keeper,
 *   taking its pid namespace, and so every mount, down with it.
 */
export function containerArgv(spec: SpawnSpec): string[] {
  return [
    "setpriv",
    "--pdeathsig",
    "SIGKILL",
    "--",
    "unshare",
    ...(spec.namespaces ?? NAMESPACES.filter((ns) => ns !== "net")).map(namespaceFlag),
    "--propagation",
    "private",
    "--",
    "timeout",
    "--foreground",
    "0",
    "setpriv",
    "--pdeathsig",
    "SIGKILL",
    "--",
    ...denoArgv(
      spec.deno,
      spec.initModule,
      [
        "--allow-read",
        "--allow-write",
        "--allow-ffi",
        // ip and nft, for a bridge's veth and address (lib/container/network.ts)
        "--allow-run",
        "--allow-env=SKIFF_KEEPER_PARENT,SKIFF_TEST_HOLD_INIT",
      ],
      [spec.initSpec],
    ),
  ];
}

/**
 * The absolute path of a command along PATH, as execvp would find it, or
 * the name itself when none is found (the spawn then fails with NotFound).
 * Needed where a shell would prefer a builtin of the same name: busybox's
 * sh runs its own `setpriv` applet before PATH's.
 */
export function findCommand(name: string, path = Deno.env.get("PATH") ?? "/usr/bin:/bin"): string {
  for (const dir of path.split(":")) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch {
      // not in this directory
    }
  }
  return name;
}

/**
 * argv that runs a helper tool (tar, gzip, openssl, find, cp, ...) so that
 * it dies with skiff, even when skiff is SIGKILLed: `setpriv --pdeathsig
 * SIGKILL -- CMD ARGS`. `Deno.Command` cannot set a parent-death signal
 * (DESIGN.md). The kernel sends it when the *thread* that forked the
 * helper ends: Deno forks on its main thread, which lives as long as skiff
 * (measured here: a helper outlived 25 s of async file work, past the 10 s
 * after which tokio's idle worker threads exit). A helper that forks
 * children of its own (gzip under sh) must exec, not fork, to keep it.
 */
export function helperArgv(cmd: string, args: string[]): string[] {
  return ["setpriv", "--pdeathsig", "SIGKILL", "--", cmd, ...args];
}

/** A `Deno.Command` for a helper tool, tied to skiff's life ({@link helperArgv}). */
export function helperCommand(cmd: string, options: Deno.CommandOptions = {}): Deno.Command {
  const [setpriv, ...args] = helperArgv(cmd, options.args?.map(String) ?? []);
  return new Deno.Command(setpriv, { ...options, args });
}

/** How a helper ended, as far as its failure's message needs. */
export interface HelperEnd {
  code: number;
  signal: Deno.Signal | null;
  stderr: Uint8Array | string;
}

/**
 * A failed helper in one line: the first line it wrote to stderr, then how
 * it ended, e.g. `tar: x: Cannot open: No such file or directory (tar
 * exited with status 2)`. A helper that said nothing is named by its end
 * alone, and one that setpriv could not start says so.
 *
 * @param name the tool as the user knows it (`gzip`, not the `sh` around it)
 */
export function helperFailure(name: string, end: HelperEnd): string {
  const text = typeof end.stderr === "string" ? end.stderr : new TextDecoder().decode(end.stderr);
  const said = text.split("\n").map((l) => l.trim()).find((l) => l !== "");
  const how = end.signal ? `${name} was killed by ${end.signal}` : `${name} exited with status ${end.code}`;
  return said ? `${said} (${how})` : how;
}

/**
 * Runs a helper tool to completion ({@link helperCommand}), its stdin
 * closed (or fed `stdin`), checking its exit status.
 *
 * @param context what skiff was doing, put in front of the failure
 * @returns its stdout when `stdout` is true, else an empty array
 * @throws {Error} `context: first stderr line (CMD exited with status N)`
 */
export async function runHelper(
  cmd: string,
  args: string[],
  context: string,
  { stdout = false, name = cmd, stdin }: { stdout?: boolean; name?: string; stdin?: string } = {},
): Promise<Uint8Array> {
  const child = helperCommand(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: stdout ? "piped" : "null",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  if (!out.success) throw new Error(`${context}: ${helperFailure(name, out)}`);
  return stdout ? out.stdout : new Uint8Array();
}
