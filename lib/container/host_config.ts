/**
 * What `inspect` shows of a container's options in docker's shape: its
 * `HostConfig` fields (and `Config.User`), made from the record, which
 * keeps them in skiff's own form.
 *
 * @module
 */

import type { ContainerRecord } from "./containers.ts";
import type { Ulimit } from "./ulimits.ts";

/** docker's `HostConfig`, the fields skiff has. */
export interface HostConfig {
  CapAdd: string[] | null;
  CapDrop: string[] | null;
  Privileged: boolean;
  ReadonlyRootfs: boolean;
  SecurityOpt: string[] | null;
  GroupAdd: string[] | null;
  Tmpfs: Record<string, string> | null;
  Ulimits: Ulimit[] | null;
  Sysctls: Record<string, string> | null;
  OomScoreAdj: number;
  Devices: { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }[] | null;
}

/** The record's options as docker's `inspect` has them. */
export function inspectFields(record: ContainerRecord): { Config: { User: string }; HostConfig: HostConfig } {
  const s = record.security ?? {};
  const securityOpt = [
    ...(s.seccomp === undefined
      ? []
      : [`seccomp=${s.seccomp === "unconfined" ? "unconfined" : s.seccomp.file}`]),
    ...(s.noNewPrivileges ? ["no-new-privileges"] : []),
  ];
  const orNull = <T>(list: T[] | undefined) => list?.length ? list : null;
  return {
    Config: { User: s.user ?? "" },
    HostConfig: {
      CapAdd: orNull(s.capAdd),
      CapDrop: orNull(s.capDrop),
      Privileged: s.privileged ?? false,
      ReadonlyRootfs: record.readOnly ?? false,
      SecurityOpt: orNull(securityOpt),
      GroupAdd: orNull(s.groupAdd),
      Tmpfs: record.tmpfs?.length
        ? Object.fromEntries(record.tmpfs.map((t) => {
          const colon = t.indexOf(":");
          return colon === -1 ? [t, ""] : [t.slice(0, colon), t.slice(colon + 1)];
        }))
        : null,
      Ulimits: orNull(s.ulimits),
      Sysctls: s.sysctls && Object.keys(s.sysctls).length > 0 ? s.sysctls : null,
      OomScoreAdj: s.oomScoreAdj ?? 0,
      Devices: orNull(
        s.devices?.map(({ PathOnHost, PathInContainer, CgroupPermissions }) => ({
          PathOnHost,
          PathInContainer,
          CgroupPermissions,
        })),
      ),
    },
  };
}
