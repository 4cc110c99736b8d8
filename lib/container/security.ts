/**
 * A container's security settings: `--security-opt seccomp=...` and
 * `no-new-privileges`, `--cap-add`, `--cap-drop`, `--privileged`, parsed
 * and checked before anything is created, kept in the container's record
 * (for `start` and `inspect`), and planned into what init carries out: the
 * capabilities to drop and the seccomp filter, as data.
 *
 * The profile compiler is imported only when a filter is planned, so the
 * verbs that plan none never load it.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { CAPABILITIES, capabilitiesToDrop, capabilityName, keptCapabilities } from "../host/capabilities.ts";
import type { Profile } from "./seccomp/profile.ts";
import type { SeccompPlan } from "./seccomp/install.ts";

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
}

/** The flags as the CLI got them. */
export interface SecurityFlags {
  securityOpt?: string[];
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
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
  const { parseProfile } = await import("./seccomp/profile.ts");
  return { file, profile: parseProfile(text, file) };
}

/** What init does with the settings: capabilities to drop, the filter to install. */
export interface SecurityPlan {
  dropCaps: number[];
  seccomp?: SeccompPlan;
  noNewPrivileges?: boolean;
}

/**
 * Plans a container's capabilities and filter for this machine: the kept
 * capabilities decide which of the profile's conditional groups apply.
 *
 * @param options the record's settings (absent: the defaults)
 * @param arch the architecture to compile for (tests plan aarch64 on x86_64)
 * @throws {UsageError} for an architecture skiff has no syscall table of
 */
export async function planSecurity(
  options: SecurityOptions = {},
  arch: string = Deno.build.arch,
): Promise<SecurityPlan> {
  const kept = options.privileged
    ? Object.keys(CAPABILITIES)
    : keptCapabilities(options.capAdd ?? [], options.capDrop ?? []);
  const plan: SecurityPlan = { dropCaps: capabilitiesToDrop(kept) };
  if (options.noNewPrivileges) plan.noNewPrivileges = true;
  if (options.privileged || options.seccomp === "unconfined") return plan;
  if (arch !== "x86_64" && arch !== "aarch64") {
    throw new UsageError(
      `skiff has no seccomp filter for ${arch}: run with --security-opt seccomp=unconfined`,
    );
  }
  const { compileProfile, defaultProfile } = await import("./seccomp/profile.ts");
  plan.seccomp = compileProfile(options.seccomp?.profile ?? await defaultProfile(), {
    arch,
    caps: kept,
    kernel: Deno.osRelease(),
    noNewPrivileges: options.noNewPrivileges ?? false,
  });
  return plan;
}
