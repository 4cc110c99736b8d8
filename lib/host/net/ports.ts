/**
 * `-p` as docker takes it: `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]`,
 * with ranges on either side. Pure.
 *
 * @module
 */

import { UsageError } from "../../errors.ts";
import { parseAddress } from "./ipv4.ts";

/** The protocols a port is published for. */
export type Protocol = "tcp" | "udp";

/** One published port: host address and port to the container's port. */
export interface PortBinding {
  /** The host address it listens on; "" for all of the host's addresses. */
  hostIp: string;
  /** The host port; 0 until one is chosen (`-p 80`, `-P`). */
  hostPort: number;
  /** The port inside the container. */
  containerPort: number;
  /** tcp or udp. */
  protocol: Protocol;
}

/** A `-p` value as asked: host ports a range to choose from when it maps one container port. */
export interface PortRequest {
  /** The host address; "" for all. */
  hostIp: string;
  /** [first, last]; [0, 0] for any free port. */
  hostPorts: [number, number];
  /** [first, last] inside the container. */
  containerPorts: [number, number];
  /** tcp or udp. */
  protocol: Protocol;
}

/**
 * Parses one `-p` value.
 *
 * @throws {UsageError} naming the value and what is wrong with it
 */
export function parsePublish(value: string): PortRequest {
  const bad = (why: string) =>
    new UsageError(`Invalid -p "${value}": ${why}; use [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp]`);
  const [spec, proto = "tcp", extra] = value.split("/");
  if (extra !== undefined || (proto !== "tcp" && proto !== "udp")) throw bad(`unknown protocol "${proto}"`);
  if (spec.startsWith("[")) throw bad("IPv6 host addresses are not supported yet");
  const parts = spec.split(":");
  if (parts.length > 3) throw bad("too many colons");
  const [hostIp, hostText, ctrText] = parts.length === 3
    ? parts
    : parts.length === 2
    ? ["", parts[0], parts[1]]
    : ["", "", parts[0]];
  if (hostIp !== "" && parseAddress(hostIp) === null) throw bad(`"${hostIp}" is not an IPv4 address`);
  const containerPorts = portRange(ctrText, bad);
  const hostPorts = hostText === "" ? [0, 0] as [number, number] : portRange(hostText, bad);
  const ctrCount = containerPorts[1] - containerPorts[0];
  const hostCount = hostPorts[1] - hostPorts[0];
  if (hostPorts[0] !== 0 && ctrCount !== 0 && hostCount !== ctrCount) {
    throw bad("the host and container ranges differ in length");
  }
  if (hostPorts[0] === 0 && ctrCount !== 0 && hostText !== "") throw bad("bad host port");
  return { hostIp, hostPorts, containerPorts, protocol: proto };
}

function portRange(text: string, bad: (why: string) => Error): [number, number] {
  const m = text.match(/^([0-9]{1,5})(?:-([0-9]{1,5}))?$/);
  if (!m) throw bad(`"${text}" is not a port or a port range`);
  const first = Number(m[1]);
  const last = m[2] === undefined ? first : Number(m[2]);
  for (const p of [first, last]) if (p < 1 || p > 65535) throw bad(`port ${p} is out of range 1-65535`);
  if (last < first) throw bad(`the range "${text}" ends before it starts`);
  return [first, last];
}

/**
 * The bindings a request makes once host ports are chosen: `free(proto, ip,
 * from, to)` returns a free host port in that range (0: any), or null.
 *
 * @throws {UsageError} when no host port is free
 */
export function bindPorts(
  request: PortRequest,
  free: (protocol: Protocol, hostIp: string, first: number, last: number) => number | null,
): PortBinding[] {
  const { hostIp, hostPorts, containerPorts, protocol } = request;
  const bindings: PortBinding[] = [];
  const count = containerPorts[1] - containerPorts[0];
  for (let i = 0; i <= count; i++) {
    const containerPort = containerPorts[0] + i;
    const [first, last] = hostPorts[0] === 0
      ? [0, 0]
      : count === 0
      ? hostPorts
      : [hostPorts[0] + i, hostPorts[0] + i];
    const hostPort = free(protocol, hostIp, first, last);
    if (hostPort === null) {
      const what = first === last ? `${first}` : `${first}-${last}`;
      throw new UsageError(
        `Cannot publish port ${containerPort}/${protocol}: host port ${what} is already in use (bind on ${
          hostIp || "0.0.0.0"
        }); choose another with -p`,
      );
    }
    bindings.push({ hostIp, hostPort, containerPort, protocol });
  }
  return bindings;
}

/** An image's ExposedPorts keys (`80/tcp`) as `-P` publishes them: each on any free host port. */
export function exposedRequests(exposed: Record<string, unknown> | undefined): PortRequest[] {
  return Object.keys(exposed ?? {}).flatMap((key) => {
    const [port, proto = "tcp"] = key.split("/");
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1 || n > 65535 || (proto !== "tcp" && proto !== "udp")) return [];
    return [{ hostIp: "", hostPorts: [0, 0], containerPorts: [n, n], protocol: proto } as PortRequest];
  });
}

/**
 * The ports listening on the calling process's network namespace, from
 * /proc/net/{tcp,udp} text: `PROTO ADDRESS:PORT` keys (address as
 * a.b.c.d, 0.0.0.0 for any).
 */
export function listeningPorts(tcp: string, udp: string): Set<string> {
  const found = new Set<string>();
  const scan = (text: string, proto: Protocol, state: string | null) => {
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || (state !== null && f[3] !== state)) continue;
      const [addrHex, portHex] = f[1].split(":");
      const n = parseInt(addrHex, 16);
      const addr = [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join(".");
      found.add(`${proto} ${addr}:${parseInt(portHex, 16)}`);
    }
  };
  scan(tcp, "tcp", "0A"); // TCP_LISTEN
  scan(udp, "udp", null);
  return found;
}

/** docker's way of showing bindings (`ps`, `port`): `0.0.0.0:8080->80/tcp`. */
export function formatBinding(b: PortBinding): string {
  return `${b.hostIp || "0.0.0.0"}:${b.hostPort}->${b.containerPort}/${b.protocol}`;
}
