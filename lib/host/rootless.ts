/**
 * Rootless skiff: an ordinary user's commands run inside a user namespace
 * where the user is root, as podman's do.
 *
 * The CLI, started by the user, re-executes itself through util-linux
 * `unshare --user --map-root-user` (plus `--map-auto` when the user has
 * subordinate ids in /etc/subuid and /etc/subgid, and newuidmap is there),
 * and everything else runs as it does for root: the store's files belong
 * to the user on the host and to root inside, extraction keeps owners
 * within the mapping, and the container's namespaces, made by the inner
 * skiff, belong to that user namespace, so overlay, /proc and sysfs mounts
 * are allowed. What a user namespace cannot give is refused by the code
 * that needs it, each with its reason: cgroups (limits, stats, pausing a
 * running container for commit) and device nodes in images.
 *
 * Only `exec` stays outside: it enters a container's own user namespace
 * (nsenter --user), which a sibling namespace could not.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { exitCodeOf, relaySignals } from "./signals.ts";
import { findCommand } from "./spawn.ts";

/** A user's first range of subordinate ids (a line `NAME:START:COUNT` of /etc/subuid). */
export interface IdRange {
  start: number;
  count: number;
}

/** How the user namespace maps ids: the user alone to root, or also a subordinate range from 1. */
export interface UserNamespacePlan {
  /** `unshare` options that make it. */
  args: string[];
  /** Said once on stderr when ids beyond the user's own cannot be mapped. */
  warning?: string;
}

/** The environment variable the outer skiff names itself in, so the inner one can check it lives. */
export const OUTER_ENV = "SKIFF_OUTER";

/**
 * The first range of `user` (by name or uid) in a subuid or subgid file's
 * text, or null.
 */
export function subordinateRange(text: string, user: string, uid: number): IdRange | null {
  for (const line of text.split("\n")) {
    const [who, start, count] = line.trim().split(":");
    if ((who === user || who === String(uid)) && Number(count) > 0) {
      return { start: Number(start), count: Number(count) };
    }
  }
  return null;
}

/**
 * The mapping for a user: the whole subordinate range when both files give
 * one and newuidmap/newgidmap are installed, else the user alone, with a
 * warning saying what that limits and how to add ranges.
 */
export function planUserNamespace(
  user: string,
  uids: IdRange | null,
  gids: IdRange | null,
  haveNewIdMap: boolean,
): UserNamespacePlan {
  const single = ["--user", "--map-root-user"];
  if (uids && gids && haveNewIdMap) return { args: [...single, "--map-auto"] };
  const why = !haveNewIdMap
    ? "newuidmap is not installed (apt-get install uidmap)"
    : `"${user}" has no range in /etc/${
      uids ? "subgid" : "subuid"
    } (sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user})`;
  return {
    args: single,
    warning:
      `skiff: only your own uid and gid are mapped (to root) because ${why}: files of other owners in images become root's, and chown or su to another user fails`,
  };
}

/**
 * Checks that this machine lets an ordinary user make user namespaces.
 *
 * @param read reads a /proc/sys file; "" when it is missing
 * @throws {UsageError} naming the setting that forbids it and how to change it
 */
export async function checkUserNamespaces(
  read = (path: string) => Deno.readTextFile(path).catch(() => ""),
): Promise<void> {
  const setting = async (name: string) => (await read(`/proc/sys/${name.replaceAll(".", "/")}`)).trim();
  const forbidden: [string, string, string][] = [
    ["user.max_user_namespaces", "0", "15000"],
    ["kernel.unprivileged_userns_clone", "0", "1"],
    ["kernel.apparmor_restrict_unprivileged_userns", "1", "0"],
  ];
  for (const [name, bad, good] of forbidden) {
    if (await setting(name) === bad) {
      throw new UsageError(
        `Rootless containers need user namespaces, and ${name} is ${bad} here: run skiff with sudo, or allow them (sudo sysctl -w ${name}=${good})`,
      );
    }
  }
}

/**
 * Checks the kernel can mount overlay in a user namespace (Linux 5.11).
 *
 * @param release the kernel's, as uname -r gives it
 * @throws {UsageError} naming the requirement and this kernel
 */
export function checkKernel(release = Deno.osRelease()): void {
  const [major, minor] = release.split(".").map((n) => parseInt(n, 10));
  if (major > 5 || (major === 5 && minor >= 11)) return;
  throw new UsageError(
    `Rootless containers need Linux 5.11 or later, which mounts overlayfs in a user namespace; this kernel is ${release}: run skiff with sudo`,
  );
}

/**
 * argv that runs skiff again, inside a new user namespace: unshare, then
 * setpriv arming a parent-death signal (making the namespace cleared the
 * one armed before), then Deno on the same CLI module.
 */
export function reexecArgv(plan: UserNamespacePlan, deno: string, cli: string, args: string[]): string[] {
  return [
    findCommand("unshare"),
    ...plan.args,
    "--",
    findCommand("setpriv"),
    "--pdeathsig",
    "SIGKILL",
    "--",
    deno,
    "run",
    "--quiet",
    "--allow-all",
    "--no-config",
    "--no-lock",
    cli,
    ...args,
  ];
}

/**
 * Runs skiff's `args` inside a user namespace (see the module doc) and
 * returns its exit code. Signals to this skiff are passed on; with a
 * terminal, Ctrl-C reaches the inner skiff directly.
 */
export async function runInUserNamespace(cli: string, args: string[]): Promise<number> {
  await checkUserNamespaces();
  checkKernel();
  const user = Deno.env.get("USER") ?? Deno.env.get("LOGNAME") ?? String(Deno.uid());
  const uid = Deno.uid() ?? -1;
  const range = (file: string) => {
    try {
      return subordinateRange(Deno.readTextFileSync(file), user, uid);
    } catch {
      return null;
    }
  };
  const haveNewIdMap = ["newuidmap", "newgidmap"].every((c) => findCommand(c) !== c);
  const plan = planUserNamespace(user, range("/etc/subuid"), range("/etc/subgid"), haveNewIdMap);
  if (plan.warning) console.error(plan.warning);
  const [command, ...rest] = reexecArgv(plan, Deno.execPath(), cli, args);
  const child = new Deno.Command(command, {
    args: rest,
    env: { [OUTER_ENV]: String(Deno.pid) },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const stop = relaySignals(() => [child.pid], Deno.stdin.isTerminal());
  return exitCodeOf(await child.status.finally(stop));
}
