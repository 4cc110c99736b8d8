/**
 * Facts about host processes from /proc.
 *
 * @module
 */

/**
 * A process's start time in clock ticks since boot (field 22 of
 * /proc/PID/stat), or null when there is no such process (or only its zombie). A pid plus its
 * start time names one process for good: pids are reused, start times not.
 */
export function processStartTime(pid: number): number | null {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (e) {
    // Only "no such file" means no such process, or ESRCH: it exited
    // between the open and the read. Anything else (Deno's permission
    // checks among them) must not pass for a dead process.
    // (Deno has no class for ESRCH, nor a code: its message names the errno)
    if (e instanceof Deno.errors.NotFound || (e instanceof Error && e.message.includes("(os error 3)"))) {
      return null;
    }
    throw e;
  }
  return startTimeOf(stat);
}

/** The start time in a /proc/PID/stat line, or null for a zombie (see {@link processStartTime}). */
export function startTimeOf(stat: string): number | null {
  // The command name (field 2) is in parentheses and may contain spaces or
  // parentheses itself, so count fields from the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // A zombie has exited; only its parent's wait() is missing.
  if (fields[0] === "Z" || fields[0] === "X") return null;
  return Number(fields[19]);
}

/** Whether the process that had `startTime` when recorded is still alive. */
export function isAlive(pid: number, startTime: number): boolean {
  return processStartTime(pid) === startTime;
}

/** Host pids of every process in the pid namespace of `pid1` (a container's processes). */
export function processesInPidNamespace(pid1: number): number[] {
  const ns = Deno.readLinkSync(`/proc/${pid1}/ns/pid`);
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (Deno.readLinkSync(`/proc/${entry.name}/ns/pid`) === ns) pids.push(Number(entry.name));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

/** The direct children of a process (needs CONFIG_PROC_CHILDREN). */
export function childrenOf(pid: number): number[] {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`)
      .trim().split(" ").filter((s) => s !== "").map(Number);
  } catch {
    return [];
  }
}

/** Signal numbers on Linux (x86_64 and aarch64 share these). */
export const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGWINCH: 28,
};

/**
 * A signal as the user names it, `TERM`, `SIGTERM` or `15`, as Deno names it.
 *
 * @returns null when it names no signal skiff knows
 */
export function parseSignal(name: string): Deno.Signal | null {
  const upper = name.toUpperCase();
  const byNumber = Object.entries(SIGNAL_NUMBERS).find(([, n]) => String(n) === name)?.[0];
  const full = byNumber ?? (upper.startsWith("SIG") ? upper : `SIG${upper}`);
  return full in SIGNAL_NUMBERS ? full as Deno.Signal : null;
}

/** Whether this process is in a user namespace other than the host's (its uid map is not the identity). */
export function inUserNamespace(uidMap = readUidMap()): boolean {
  return uidMap.trim().split(/\s+/).join(" ") !== "0 0 4294967295";
}

/**
 * The uid this process has outside its user namespace: its own on the
 * host, or, in a user namespace, the outer uid its uid maps to (root of a
 * rootless user's namespace is that user).
 */
export function hostUid(uid = Deno.uid() ?? 0, uidMap = readUidMap()): number {
  for (const line of uidMap.trim().split("\n")) {
    const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
    if (uid >= inside && uid - inside < count) return outside + uid - inside;
  }
  return uid;
}

/** How many uids this process's user namespace maps: 1 for the fallback mapping. */
export function mappedIds(uidMap = readUidMap()): number {
  return uidMap.trim().split("\n").reduce((n, line) => n + Number(line.trim().split(/\s+/)[2] ?? 0), 0);
}

/** This process's uid map, read once: a process never changes user namespace here. */
let uidMap: string | undefined;

function readUidMap(): string {
  try {
    return uidMap ??= Deno.readTextFileSync("/proc/self/uid_map");
  } catch {
    return "0 0 4294967295";
  }
}
