/**
 * `--restart`: docker's restart policies, as a detached container's
 * supervisor carries them out (lib/container/supervise.sh): `no`,
 * `on-failure[:N]` (a non-zero exit, at most N times), `always` and
 * `unless-stopped` (the same without a daemon: nothing restarts containers
 * after a reboot, see docs/process-model.md). `stop` and `kill` end a loop.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** A policy: its name, and on-failure's most restarts (0: no limit). */
export interface RestartPolicy {
  name: "no" | "on-failure" | "always" | "unless-stopped";
  max: number;
}

/**
 * Parses a `--restart` value.
 *
 * @throws {UsageError} docker's `invalid restart policy ...` messages
 */
export function parseRestart(value: string): RestartPolicy {
  const [name, count, ...rest] = value.split(":");
  if (!["no", "on-failure", "always", "unless-stopped"].includes(name) || rest.length > 0) {
    throw new UsageError(
      `invalid restart policy: unknown policy '${value}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`,
    );
  }
  if (count !== undefined && name !== "on-failure") {
    throw new UsageError(
      "invalid restart policy format: maximum retry count can only be used with 'on-failure'",
    );
  }
  if (count !== undefined && !/^[0-9]+$/.test(count)) {
    throw new UsageError("invalid restart policy format: maximum retry count must be an integer");
  }
  return { name: name as RestartPolicy["name"], max: count === undefined ? 0 : Number(count) };
}

/** What the supervisor is told: `POLICY MAX` (see launcher.sh's `Y`). */
export function restartLine(value: string | undefined): string {
  const { name, max } = parseRestart(value ?? "no");
  return `${name} ${max}`;
}
