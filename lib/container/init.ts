/**
 * The container's init: started as PID 1 of the container's new
 * namespaces, it builds the root the CLI planned, pivots into it and
 * execve()s the user's command, which then is PID 1.
 *
 * Kept small on purpose: it is the second Deno start-up on the path of
 * `run`, so it imports nothing but `ffi/`, the plan executor and the
 * default PATH.
 *
 * The CLI learns how the start went from the status file, opened before the
 * pivot (so it stays reachable) and closed by execve (Deno opens files
 * O_CLOEXEC): empty means init died early, `exec` means the command was
 * reached, and JSON means init failed and says why.
 *
 * @module
 */

import {
  capbsetDrop,
  closeOnExecFrom,
  execve,
  MNT_DETACH,
  pivotRoot,
  readFile,
  sethostname,
  umount2,
  writeFile,
} from "../../ffi/libc.ts";
import { InvalidArgument, NotFound } from "../../ffi/errors.ts";
import { resetSignals } from "../../ffi/ns.ts";
import { describeError } from "../errors.ts";
import { DEFAULT_PATH } from "../image/default_path.ts";
import { applyRootfs, type Step } from "./rootfs.ts";
import { interfaceUp, realSys } from "./sys.ts";

/** Everything init needs, planned by the CLI and passed as a JSON file named in argv. */
export interface InitSpec {
  /** Host path of the merged overlay: the new `/`. */
  root: string;
  /** The mounts to make before the pivot. */
  steps: Step[];
  hostname: string;
  /** The working directory inside the container; created when missing. */
  cwd: string;
  argv: string[];
  env: string[];
  /** Capabilities to remove from the bounding set before execve. */
  dropCaps: number[];
  /** cgroup.procs files to join (write 0 to) before anything else. */
  cgroupProcs: string[];
  /** The pid the keeper's parent must have: the foreground skiff (a detached
   * container's supervisor passes its own in $SKIFF_KEEPER_PARENT). */
  keeperParent?: number;
  /** Host path of the status file (see the module doc). */
  statusFile: string;
}

/** How a start failed: the message and the exit code `run` returns. */
export interface StartFailure {
  message: string;
  exitCode: number;
}

/** Exit codes as docker's: skiff failed, command not runnable, not found. */
export const EXIT_SKIFF = 125;
export const EXIT_CANNOT_EXECUTE = 126;
export const EXIT_NOT_FOUND = 127;

/** The command can't be started: the message and exit code `run` and `exec` give. */
export class InitFailure extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/**
 * Finds the command as execvp would, but up front so that "not found" and
 * "not executable" get docker's exit codes and messages.
 */
export function resolveCommand(
  name: string,
  env: string[],
  stat: (path: string) => Deno.FileInfo | null,
): string {
  const candidates = name.includes("/") ? [name] : (env.findLast((e) => e.startsWith("PATH="))
    ?.slice(5) ?? DEFAULT_PATH).split(":").filter((d) => d !== "").map((d) => `${d}/${name}`);
  for (const path of candidates) {
    const info = stat(path);
    if (info === null) continue;
    if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return path;
    if (name.includes("/")) {
      throw new InitFailure(`exec: "${name}": permission denied`, EXIT_CANNOT_EXECUTE);
    }
  }
  const where = name.includes("/") ? "no such file or directory" : "executable file not found in $PATH";
  throw new InitFailure(`exec: "${name}": ${where}`, EXIT_NOT_FOUND);
}

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

/**
 * Whether the keeper that forked us still lives, and still has its parent.
 * setpriv arms a parent-death signal before each exec in the chain, but a
 * parent that died before the arming sends none, and we would run on as an
 * orphan. So look, once armed: our parent in the host's /proc (still
 * mounted: this runs before the pivot) must be `timeout`, and its parent
 * the skiff that planned us. (Through libc: Deno reads /proc/self only
 * with --allow-all.)
 */
export function keeperAlive(
  keeperParent: number | undefined,
  read: (path: string) => string = readFile,
): boolean {
  const ppidOf = (stat: string) => Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  try {
    const keeper = ppidOf(read("/proc/self/stat"));
    if (read(`/proc/${keeper}/comm`).trim() !== "timeout") return false;
    return keeperParent === undefined || ppidOf(read(`/proc/${keeper}/stat`)) === keeperParent;
  } catch {
    return false;
  }
}

function start(spec: InitSpec, status: Deno.FsFile): never {
  // A detached keeper's parent is its supervisor, which says so in the environment.
  const supervisor = Deno.env.get("SKIFF_KEEPER_PARENT");
  if (!keeperAlive(spec.keeperParent ?? (supervisor ? Number(supervisor) : undefined))) {
    throw new Error("The container's keeper or its skiff is gone (killed while it started)");
  }
  // Join the container's cgroup first (and before the pivot hides
  // /sys/fs/cgroup): everything the command forks stays in it.
  // (Through libc: Deno lets only --allow-all write under /sys.)
  for (const procs of spec.cgroupProcs) writeFile(procs, "0");
  applyRootfs(spec.steps, realSys);
  // pivot_root(".", ".") stacks the old root on top of the new one, so no
  // put_old directory has to be made in the image (runc does the same).
  Deno.chdir(spec.root);
  pivotRoot(".", ".");
  umount2(".", MNT_DETACH);
  Deno.chdir("/");
  sethostname(spec.hostname);
  interfaceUp("lo");
  Deno.mkdirSync(spec.cwd, { recursive: true });
  Deno.chdir(spec.cwd);
  const path = resolveCommand(spec.argv[0], spec.env, statOrNull);
  for (const cap of spec.dropCaps) {
    try {
      capbsetDrop(cap);
    } catch (e) {
      // EINVAL: this kernel has no capability with that number
      if (!(e instanceof InvalidArgument)) throw e;
    }
  }
  // execve keeps ignored signals ignored: Deno ignores SIGPIPE.
  resetSignals();
  status.writeSync(new TextEncoder().encode("exec\n"));
  closeOnExecFrom(3);
  try {
    execve(path, spec.argv, spec.env);
  } catch (e) {
    throw new InitFailure(
      `exec: "${spec.argv[0]}": ${e instanceof Error ? e.message : e}`,
      e instanceof NotFound ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE,
    );
  }
}

if (import.meta.main) {
  const spec = JSON.parse(Deno.readTextFileSync(Deno.args[0])) as InitSpec;
  const status = Deno.openSync(spec.statusFile, { write: true });
  try {
    start(spec, status);
  } catch (e) {
    const failure: StartFailure = {
      message: describeError(e),
      exitCode: e instanceof InitFailure ? e.exitCode : EXIT_SKIFF,
    };
    status.truncateSync(0);
    status.seekSync(0, Deno.SeekMode.Start);
    status.writeSync(new TextEncoder().encode(JSON.stringify(failure)));
    Deno.exit(failure.exitCode);
  }
}
