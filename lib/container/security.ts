/**
 * A container's security settings: `--security-opt seccomp=...` and
 * `no-new-privileges`, `--cap-add`, `--cap-drop`, `--privileged`, and
 * the process's: `--user`, `--group-add`, `--ulimit`, `--sysctl`,
 * `--oom-score-adj`, `--device`; parsed
 * and checked before anything is created, kept in the container's record
 * (for `start` and `inspect`), and planned into what init carries out: the
 * capabilities to drop and the seccomp filter, as data.
 *
 * The profile compiler and libseccomp are loaded only when a filter must be
 * compiled, not found in the store's cache: most runs never load them.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { processStartTime } from "../host/proc.ts";
import { CAPABILITIES, capabilitiesToDrop, capabilityName, keptCapabilities } from "../host/capabilities.ts";
import type { Profile } from "./seccomp/profile.ts";
import { checkGroupAdd, checkUserSpec } from "./user.ts";
import { parseUlimits, type Rlimit, rlimitsOf, type Ulimit } from "./ulimits.ts";
import { parseOomScoreAdj, parseSysctls, sysctlPath } from "./sysctls.ts";
import { type Device, parseDevices } from "./devices.ts";
import { SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW, selfPid } from "../../ffi/libc.ts";
import { later } from "../host/later.ts";

/** What the user asked for, as the record keeps it. */
export interface SecurityOptions {
  /** skiff's default profile when absent; `unconfined` for none; or a profile of the user's, kept whole. */
  seccomp?: "unconfined" | { file: string; profile: Profile };
  /** `--security-opt no-new-privileges`: setuid and file capabilities no longer raise privileges. */
  noNewPrivileges?: boolean;
  /** `--cap-add`, as `CAP_` names (or `ALL`). */
  capAdd?: string[];
  /** `--cap-drop`, as `CAP_` names (or `ALL`). */
  capDrop?: string[];
  /** `--privileged`: every capability, no filter, /sys and /proc writable and unmasked. */
  privileged?: boolean;
  /** `--user` (or the image's USER): `UID[:GID]` or `NAME[:GROUP]`, resolved in the container. */
  user?: string;
  /** `--group-add`: more supplementary groups, names or ids. */
  groupAdd?: string[];
  /** `--ulimit`s, docker's shape. */
  ulimits?: Ulimit[];
  /** `--sysctl`s: namespaced keys (dotted) and their values. */
  sysctls?: Record<string, string>;
  /** `--oom-score-adj`. */
  oomScoreAdj?: number;
  /** `--device`s, looked at when the container was made. */
  devices?: Device[];
}

/** The flags as the CLI got them. */
export interface SecurityFlags {
  securityOpt?: string[];
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  user?: string;
  groupAdd?: string[];
  ulimit?: string[];
  sysctl?: string[];
  oomScoreAdj?: string;
  device?: string[];
}

/**
 * Parses and checks the security flags, reading a profile file now: a bad
 * one is a one-line error before anything is created.
 *
 * @throws {UsageError} naming the bad value
 */
export async function parseSecurityFlags(flags: SecurityFlags): Promise<SecurityOptions> {
  const options: SecurityOptions = {};
  for (const opt of flags.securityOpt ?? []) {
    // docker takes `=` and, from its older releases, `:`.
    const sep = opt.search(/[=:]/);
    const [key, value] = sep === -1 ? [opt, undefined] : [opt.slice(0, sep), opt.slice(sep + 1)];
    if (key === "no-new-privileges" && (value === undefined || value === "true" || value === "false")) {
      options.noNewPrivileges = value !== "false";
    } else if (key === "seccomp" && value) {
      options.seccomp = value === "unconfined" ? value : await readProfile(value);
    } else {
      throw new UsageError(
        `Unknown security option "${opt}": use seccomp=unconfined, seccomp=PROFILE.json or no-new-privileges`,
      );
    }
  }
  const capAdd = (flags.capAdd ?? []).map((c) => capabilityName(c, "--cap-add"));
  const capDrop = (flags.capDrop ?? []).map((c) => capabilityName(c, "--cap-drop"));
  if (capAdd.length > 0) options.capAdd = capAdd;
  if (capDrop.length > 0) options.capDrop = capDrop;
  if (flags.privileged) options.privileged = true;
  if (flags.user !== undefined) {
    checkUserSpec(flags.user);
    options.user = flags.user;
  }
  if (flags.groupAdd?.length) {
    checkGroupAdd(flags.groupAdd);
    options.groupAdd = flags.groupAdd;
  }
  if (flags.ulimit?.length) options.ulimits = parseUlimits(flags.ulimit);
  if (flags.sysctl?.length) options.sysctls = parseSysctls(flags.sysctl);
  if (flags.oomScoreAdj !== undefined) options.oomScoreAdj = parseOomScoreAdj(flags.oomScoreAdj);
  if (flags.device?.length) options.devices = parseDevices(flags.device);
  return options;
}

async function readProfile(file: string): Promise<{ file: string; profile: Profile }> {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    throw new UsageError(
      `Cannot read seccomp profile "${file}": ${e instanceof Error ? e.message : e}; give a JSON file`,
    );
  }
  const { parseProfile } = await later<typeof import("./seccomp/profile.ts")>(
    "./seccomp/profile.ts",
    import.meta.url,
  );
  return { file, profile: parseProfile(text, file) };
}

/** A compiled filter, as init gets it. */
export interface SeccompFilter {
  /** The BPF program (struct sock_filter[]), base64. */
  program: string;
  /** seccomp(2) flags: SECCOMP_FILTER_FLAG_LOG, _SPEC_ALLOW (from the profile's `flags`). */
  flags: number;
}

/** The user a container's process becomes, resolved by init in the container's files. */
export interface UserPlan {
  /** `UID[:GID]` or `NAME[:GROUP]`. */
  spec: string;
  /** `--group-add`. */
  groupAdd: string[];
  /** Capabilities a non-root user keeps through execve (`--cap-add`), in the ambient set. */
  ambient: number[];
}

/** What init does with the settings: capabilities to drop, the filter to install. */
export interface SecurityPlan {
  dropCaps: number[];
  user?: UserPlan;
  /** prlimit calls, right before the capabilities are dropped. */
  rlimits?: Rlimit[];
  /** /proc/sys files and what to write to them, in the container's namespaces. */
  sysctls?: [path: string, value: string][];
  oomScoreAdj?: number;
  seccomp?: SeccompFilter;
  noNewPrivileges?: boolean;
}

/** Bumped when what a cached program is made from changes meaning. */
const CACHE_FORMAT = 1;
/** BPF_MAXINSNS: the kernel's limit on a classic BPF program, 8 bytes an instruction. */
const MAX_PROGRAM = 4096 * 8;

/**
 * Plans a container's capabilities and filter for this machine: the kept
 * capabilities decide which of the profile's conditional groups apply.
 *
 * Compiling the default profile costs some 15 ms (the compiler's import,
 * the profile, libseccomp's rules and code generation), three times what
 * the issue allows, so the filter is cached in `cacheDir` under a digest
 * of everything it is made from (profile, capabilities, architecture,
 * kernel release): a run that finds it reads 3 KB instead.
 *
 * @param options the record's settings (absent: the defaults)
 * @param cacheDir where compiled programs are kept (the store's `seccomp/`); none, always compile
 * @param arch the architecture to compile for (tests plan aarch64 on x86_64)
 * @throws {UsageError} for an architecture skiff has no syscall table of
 */
export async function planSecurity(
  options: SecurityOptions = {},
  cacheDir?: string,
  arch: string = Deno.build.arch,
): Promise<SecurityPlan> {
  const kept = options.privileged
    ? Object.keys(CAPABILITIES)
    : keptCapabilities(options.capAdd ?? [], options.capDrop ?? []);
  const plan: SecurityPlan = { dropCaps: capabilitiesToDrop(kept) };
  if (options.user !== undefined) plan.user = userPlan(options.user, options, kept);
  if (options.ulimits?.length) plan.rlimits = rlimitsOf(options.ulimits);
  const sysctls = Object.entries(options.sysctls ?? {});
  if (sysctls.length > 0) plan.sysctls = sysctls.map(([key, value]) => [sysctlPath(key), value]);
  if (options.oomScoreAdj !== undefined) plan.oomScoreAdj = options.oomScoreAdj;
  if (options.noNewPrivileges) plan.noNewPrivileges = true;
  if (options.privileged || options.seccomp === "unconfined") return plan;
  if (arch !== "x86_64" && arch !== "aarch64") {
    throw new UsageError(
      `skiff has no seccomp filter for ${arch}: run with --security-opt seccomp=unconfined`,
    );
  }
  const kernel = Deno.osRelease();
  // The default profile by its file's identity (reading and parsing it
  // is a millisecond), a user's by its text, as the record keeps it.
  const profile = options.seccomp ? JSON.stringify(options.seccomp.profile) : defaultProfileIdentity();
  const key = digest(JSON.stringify([CACHE_FORMAT, arch, kernel, kept, profile]));
  const cached = cacheDir === undefined ? null : readCached(`${cacheDir}/${key}.bpf`);
  if (cached !== null) {
    plan.seccomp = cached;
    return plan;
  }
  const { compileProfile, parseProfile } = await later<typeof import("./seccomp/profile.ts")>(
    "./seccomp/profile.ts",
    import.meta.url,
  );
  const { compileFilter, realSeccompSys } = await later<typeof import("./seccomp/install.ts")>(
    "./seccomp/install.ts",
    import.meta.url,
  );
  const text = options.seccomp ? profile : await defaultProfileText();
  const parsed = parseProfile(text, options.seccomp?.file ?? "default.json");
  const program = compileFilter(compileProfile(parsed, { arch, caps: kept, kernel }), realSeccompSys);
  const flags = parsed.flags ?? [];
  plan.seccomp = {
    program: toBase64(program),
    flags: (flags.includes("SECCOMP_FILTER_FLAG_LOG") ? SECCOMP_FILTER_FLAG_LOG : 0) |
      (flags.includes("SECCOMP_FILTER_FLAG_SPEC_ALLOW") ? SECCOMP_FILTER_FLAG_SPEC_ALLOW : 0),
  };
  if (cacheDir !== undefined) writeCached(cacheDir, `${key}.bpf`, plan.seccomp.flags, program);
  return plan;
}

/**
 * The user to become, with `--cap-add`'s capabilities (those kept) as its
 * ambient set: as podman, a non-root user keeps what was added for it
 * (docker leaves it in the bounding set only); `--privileged` adds none.
 */
function userPlan(spec: string, options: SecurityOptions, kept: string[]): UserPlan {
  const added = options.privileged
    ? []
    : (options.capAdd ?? []).includes("ALL")
    ? kept
    : options.capAdd ?? [];
  return {
    spec,
    groupAdd: options.groupAdd ?? [],
    ambient: added.filter((c) => kept.includes(c)).map((c) => CAPABILITIES[c]),
  };
}

const DEFAULT_PROFILE = new URL("./seccomp/default.json", import.meta.url);

/** What tells one default.json from another without reading it: its path, inode, size and time. */
function defaultProfileIdentity(): string {
  if (DEFAULT_PROFILE.protocol !== "file:") return DEFAULT_PROFILE.href; // the cache is per store, the URL per release
  const info = Deno.statSync(DEFAULT_PROFILE);
  return `${DEFAULT_PROFILE.href} ${info.ino} ${info.size} ${info.mtime?.getTime()}`;
}

/** The default profile's text, from a file or a URL. */
async function defaultProfileText(): Promise<string> {
  // fetch() costs 20 ms at its first use here: read a file directly.
  if (DEFAULT_PROFILE.protocol === "file:") return Deno.readTextFileSync(DEFAULT_PROFILE);
  const res = await fetch(DEFAULT_PROFILE);
  if (!res.ok) {
    throw new Error(
      `Cannot read skiff's seccomp profile "${DEFAULT_PROFILE}": ${res.status} ${res.statusText}`,
    );
  }
  return await res.text();
}

/**
 * A cache key: two 53-bit lanes of cyrb53, not SHA-256, whose first use
 * costs 2-8 ms here (WebCrypto starts up). Not for adversaries: whoever can
 * write the store is trusted already, and the inputs are the user's own.
 */
export function digest(text: string): string {
  const lane = (seed: number) => {
    let h1 = 0xdeadbeef ^ seed, h2 = 0x41c6ce57 ^ seed;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, "0");
  };
  return lane(0) + lane(1);
}

/** A cached filter: its flags (4 bytes, little-endian), then its program; null when none or not one. */
function readCached(path: string): SeccompFilter | null {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const size = bytes.length - 4;
  if (size <= 0 || size % 8 !== 0 || size > MAX_PROGRAM) return null;
  const flags = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  return { program: toBase64(bytes.subarray(4)), flags };
}

/** Writes a filter into the cache atomically (another run may be reading or writing it too). */
function writeCached(dir: string, name: string, flags: number, program: Uint8Array): void {
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const bytes = new Uint8Array(4 + program.length);
  new DataView(bytes.buffer).setUint32(0, flags, true);
  bytes.set(program, 4);
  // The host's pid and its start time: a CLI started by the launcher is PID
  // 1 of its own pid namespace, as every run at the same time is, and what
  // a writer killed before its rename left is known by its maker being gone.
  const pid = selfPid();
  const tmp = `${dir}/.${name}.${pid}-${processStartTime(pid)}`;
  for (const entry of Deno.readDirSync(dir)) {
    const maker = /^\..+\.(\d+)-(\d+)$/.exec(entry.name);
    if (maker === null || processStartTime(Number(maker[1])) === Number(maker[2])) continue;
    try {
      Deno.removeSync(`${dir}/${entry.name}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e; // another writer's sweep took it
    }
  }
  Deno.writeFileSync(tmp, bytes, { mode: 0o600 });
  Deno.renameSync(tmp, `${dir}/${name}`);
}

/** Base64 by the engine's own (Uint8Array.prototype.toBase64): a loop in JS costs 3-17 ms cold here. */
function toBase64(bytes: Uint8Array): string {
  return (bytes as Uint8Array & { toBase64(): string }).toBase64();
}
