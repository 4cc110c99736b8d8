/**
 * `--device HOST[:CONTAINER][:PERMISSIONS]`, as docker takes it: a host
 * device node, looked at when the container is made (a path that is no
 * device is an error then), made anew in the container's own /dev (a
 * node of the same type, numbers and mode; rootless, the host's node is
 * bound, mknod being refused in a user namespace) and allowed in the
 * container's device cgroup with PERMISSIONS (`rwm` by default).
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** One device as the record keeps it, docker's `HostConfig.Devices` entry and the node's numbers. */
export interface Device {
  /** The host's node. */
  PathOnHost: string;
  /** Where it is made, under the container's /dev. */
  PathInContainer: string;
  /** `rwm` or part of it: what the device cgroup allows. */
  CgroupPermissions: string;
  /** A character or block device. */
  type: "c" | "b";
  /** Its device numbers, as the host's node has them. */
  major: number;
  /** The minor number. */
  minor: number;
  /** The node's permission bits, as the host's. */
  mode: number;
}

const PERMISSIONS = /^(?!.*(.).*\1)[rwm]{1,3}$/;

/** major(3) and minor(3) of a device number as glibc packs it. */
export function splitDev(dev: number): { major: number; minor: number } {
  const d = BigInt(dev);
  return {
    major: Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn)),
    minor: Number((d & 0xffn) | ((d >> 12n) & ~0xffn)),
  };
}

/**
 * Parses `--device` values and looks at each host node.
 *
 * @param stat the host's stat (a test's fake)
 * @throws {UsageError} for a bad value, or a path that is no device
 */
export function parseDevices(
  values: string[],
  stat: (path: string) => Deno.FileInfo = Deno.statSync,
): Device[] {
  return values.map((value) => {
    const parts = value.split(":");
    const perms = parts.length > 1 && PERMISSIONS.test(parts[parts.length - 1]) ? parts.pop()! : "rwm";
    const [host, inside = host, ...rest] = parts;
    const usage =
      "use HOST[:CONTAINER][:PERMISSIONS], absolute paths, CONTAINER under /dev, PERMISSIONS of rwm";
    if (rest.length > 0 || !host.startsWith("/")) {
      throw new UsageError(`Invalid --device "${value}": ${usage}`);
    }
    let info: Deno.FileInfo;
    try {
      info = stat(host);
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "no such file or directory" : (e as Error).message;
      throw new UsageError(`Cannot add device "${host}": ${why}`);
    }
    if (!info.isCharDevice && !info.isBlockDevice) {
      throw new UsageError(`Cannot add device "${host}": it is not a device node`);
    }
    if (!inside.startsWith("/dev/") || /\/\.\.?(\/|$)/.test(inside)) {
      throw new UsageError(`Invalid --device "${value}": ${usage}`);
    }
    return {
      PathOnHost: host,
      PathInContainer: inside.replace(/\/+$/, ""),
      CgroupPermissions: perms,
      type: info.isBlockDevice ? "b" : "c",
      ...splitDev(info.rdev ?? 0),
      mode: (info.mode ?? 0o600) & 0o777,
    };
  });
}

/** The device cgroup's rule for a device: `c 1:3 rwm`. */
export function deviceRule(d: Device): string {
  return `${d.type} ${d.major}:${d.minor} ${d.CgroupPermissions}`;
}
