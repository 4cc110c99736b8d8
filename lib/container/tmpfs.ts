/**
 * `--tmpfs PATH[:OPTIONS]`, as docker spells it: a tmpfs on PATH inside the
 * container, `noexec,nosuid,nodev` unless the options say `exec`, `suid`
 * or `dev`, `ro` or `rw`, and tmpfs's own `size`, `mode`, `uid`, `gid` and
 * `nr_inodes`.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY } from "../../ffi/libc.ts";
import type { TmpfsSpec } from "./rootfs.ts";

/** Flag words and what they set (a bit) or clear (its complement). */
const FLAGS: Record<string, [set: number, clear: number]> = {
  ro: [MS_RDONLY, 0],
  rw: [0, MS_RDONLY],
  noexec: [MS_NOEXEC, 0],
  exec: [0, MS_NOEXEC],
  nosuid: [MS_NOSUID, 0],
  suid: [0, MS_NOSUID],
  nodev: [MS_NODEV, 0],
  dev: [0, MS_NODEV],
};

/** tmpfs's own options, each with the shape of its value. */
const DATA: Record<string, RegExp> = {
  size: /^\d+[kmg%]?$/i,
  nr_inodes: /^\d+[kmg]?$/i,
  mode: /^[0-7]{3,4}$/,
  uid: /^\d+$/,
  gid: /^\d+$/,
};

/**
 * Parses one `--tmpfs` value.
 *
 * @throws {UsageError} naming what is wrong: a relative path or `/`, an
 *   unknown option, a value of the wrong shape
 */
export function parseTmpfs(spec: string): TmpfsSpec {
  const colon = spec.indexOf(":");
  const target = colon === -1 ? spec : spec.slice(0, colon);
  const options = colon === -1 ? [] : spec.slice(colon + 1).split(",").filter((o) => o !== "");
  if (!target.startsWith("/") || target.split("/").every((p) => p === "")) {
    throw new UsageError(`Invalid --tmpfs "${spec}": the path must be absolute and not /`);
  }
  if (target.split("/").includes("..")) {
    throw new UsageError(`Invalid --tmpfs "${spec}": the path may not hold ".."`);
  }
  let flags = MS_NOEXEC | MS_NOSUID | MS_NODEV;
  const data: string[] = [];
  for (const option of options) {
    const flag = FLAGS[option];
    if (flag) {
      flags = (flags | flag[0]) & ~flag[1];
      continue;
    }
    const [key, value] = option.split("=", 2);
    if (!(key in DATA) || value === undefined) {
      throw new UsageError(
        `Invalid --tmpfs "${spec}": unknown option "${option}" (known: ${
          [...Object.keys(FLAGS), ...Object.keys(DATA).map((k) => `${k}=`)].join(", ")
        })`,
      );
    }
    if (!DATA[key].test(value)) throw new UsageError(`Invalid --tmpfs "${spec}": bad value in "${option}"`);
    data.push(option);
  }
  return { target, flags, data: data.join(",") };
}
