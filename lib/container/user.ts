/**
 * `--user UID[:GID]` and `NAME[:GROUP]`, `--group-add` and the image's
 * `USER`: parsed at `run`, resolved in the container's own `/etc/passwd`
 * and `/etc/group` once its root is mounted (so a volume over them
 * counts, as with docker), each read inside that root (openat2 with
 * RESOLVE_IN_ROOT: no symlink of the image's leads out of it), and set on
 * the thread that execve()s with the raw syscalls, in runc's order.
 *
 * What docker does, and so skiff: a numeric uid need not be in the image
 * (its gid is then 0 and its home `/`); a name must be; an explicit group
 * replaces the user's groups; the supplementary groups are the primary
 * one, the groups of `/etc/group` that list the user, then `--group-add`.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** The ids a container's process runs with, and its home. */
export interface Credentials {
  uid: number;
  gid: number;
  /** Supplementary groups, the primary one first. */
  groups: number[];
  /** From /etc/passwd; `/` when the user has no entry. */
  home: string;
}

/** The highest id setresuid takes as a user's (2^32 - 2; -1 means "unchanged"). */
const MAX_ID = 0xfffffffe;
const ID = /^[0-9]+$/;
const NAME = /^[^:\s\0]+$/;

/** A name the container's files don't have: init turns it into its own failure (125). */
export class UnknownUserError extends Error {
  /** The class name, as errors show it. */
  override name = "UnknownUserError";
}

/**
 * Checks a `--user` value's shape: `USER[:GROUP]`, each a name or an id.
 *
 * @throws {UsageError} naming the value
 */
export function checkUserSpec(spec: string, flag = "--user"): void {
  const parts = spec.split(":");
  if (parts.length > 2 || parts.some((p) => !NAME.test(p) || (ID.test(p) && Number(p) > MAX_ID))) {
    throw new UsageError(`Invalid ${flag} "${spec}": use UID[:GID] or NAME[:GROUP]`);
  }
}

/**
 * Checks `--group-add` values: names or ids.
 *
 * @throws {UsageError} naming the value
 */
export function checkGroupAdd(groups: string[]): void {
  for (const g of groups) {
    if (!NAME.test(g) || (ID.test(g) && Number(g) > MAX_ID)) {
      throw new UsageError(`Invalid --group-add "${g}": use a group's name or id`);
    }
  }
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** The well-formed entries of an /etc/passwd text (name:pw:uid:gid:gecos:home:shell). */
export function parsePasswd(text: string): PasswdEntry[] {
  return text.split("\n").flatMap((line) => {
    const f = line.split(":");
    if (line.startsWith("#") || f.length < 7 || !ID.test(f[2]) || !ID.test(f[3])) return [];
    return [{ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] }];
  });
}

/** The well-formed entries of an /etc/group text (name:pw:gid:member,member). */
export function parseGroup(text: string): GroupEntry[] {
  return text.split("\n").flatMap((line) => {
    const f = line.split(":");
    if (line.startsWith("#") || f.length < 4 || !ID.test(f[2])) return [];
    return [{ name: f[0], gid: Number(f[2]), members: f[3].split(",").filter((m) => m !== "") }];
  });
}

/**
 * Resolves a user spec in the container's files.
 *
 * @param read a file of the container's root by its absolute path; null when missing
 * @throws {UnknownUserError} for a name the container's files don't have, as docker words it
 */
export function resolveUser(
  spec: string,
  groupAdd: string[],
  read: (path: string) => string | null,
): Credentials {
  const [userPart, groupPart] = spec.split(":");
  let passwd: PasswdEntry[] | undefined;
  let groups: GroupEntry[] | undefined;
  const users = () => passwd ??= parsePasswd(read("/etc/passwd") ?? "");
  const groupFile = () => groups ??= parseGroup(read("/etc/group") ?? "");
  const entry = ID.test(userPart)
    ? users().find((u) => u.uid === Number(userPart))
    : users().find((u) => u.name === userPart);
  if (entry === undefined && !ID.test(userPart)) {
    throw new UnknownUserError(`unable to find user ${userPart}: no matching entries in passwd file`);
  }
  const groupId = (name: string) => {
    if (ID.test(name)) return Number(name);
    const g = groupFile().find((g) => g.name === name);
    if (g === undefined) {
      throw new UnknownUserError(`unable to find group ${name}: no matching entries in group file`);
    }
    return g.gid;
  };
  const uid = entry?.uid ?? Number(userPart);
  const gid = groupPart !== undefined ? groupId(groupPart) : entry?.gid ?? 0;
  // An explicit group replaces the member groups (runc's GetExecUser).
  const member = groupPart === undefined && entry !== undefined
    ? groupFile().filter((g) => g.members.includes(entry.name)).map((g) => g.gid)
    : [];
  const all = [gid, ...member, ...groupAdd.map(groupId)];
  return { uid, gid, groups: [...new Set(all)], home: entry?.home || "/" };
}

/** What it takes to become a user: the raw syscalls, as the ffi layer gives them. */
export interface CredentialSys {
  setKeepCaps(keep: boolean): void;
  setgroups(gids: number[]): void;
  setresgid(gid: number): void;
  setresuid(uid: number): void;
  /** The effective set back to the permitted one, the inheritable one those of `inheritable` permitted; returns that. */
  restoreEffectiveCaps(inheritable: number[]): number[];
  raiseAmbientCap(cap: number): void;
  /** The parent-death signal (0: none), which a change of ids clears. */
  parentDeathSignal(): number;
  setParentDeathSignal(signal: number): void;
  parentPid(): number;
}

/**
 * Becomes `creds` on this thread, as runc does: with keep-caps set, the
 * groups, then the gid, then the uid (the uid last: a non-root uid may no
 * longer change the others); keep-caps cleared after. The effective set,
 * which a change to a non-root uid empties, comes back from the permitted
 * one, so what follows (the seccomp filter, which wants CAP_SYS_ADMIN or
 * no_new_privs) runs as before; execve as a non-root uid then leaves the
 * command no capability (CapEff 0, as docker's) but the `ambient` ones.
 * The parent-death signal, which the uid change clears, is armed again.
 *
 * @param ambient capabilities the command keeps as a non-root user (`--cap-add`)
 */
export function becomeUser(creds: Credentials, ambient: number[], sys: CredentialSys): void {
  // The kernel clears the parent-death signal at the uid change: armed
  // again after, and the parent looked at, as it could have died between.
  const deathSignal = sys.parentDeathSignal();
  const parent = sys.parentPid();
  sys.setKeepCaps(true);
  sys.setgroups(creds.groups);
  sys.setresgid(creds.gid);
  sys.setresuid(creds.uid);
  sys.setKeepCaps(false);
  const raise = sys.restoreEffectiveCaps(creds.uid === 0 ? [] : ambient);
  for (const cap of raise) sys.raiseAmbientCap(cap);
  if (deathSignal !== 0) {
    sys.setParentDeathSignal(deathSignal);
    if (sys.parentPid() !== parent) {
      throw new Error("The container's keeper is gone (killed while it started)");
    }
  }
}

/**
 * `HOME` from the user's entry unless the environment has one (docker
 * sets it the same way, at start).
 */
export function withHome(env: string[], home: string): string[] {
  return env.some((e) => e.startsWith("HOME=")) ? env : [...env, `HOME=${home}`];
}
