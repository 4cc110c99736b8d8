/**
 * IPv4 addresses and subnets as numbers: parsing, formatting, and the
 * arithmetic an address allocator needs. Pure.
 *
 * @module
 */

import { UsageError } from "../../errors.ts";

/** A subnet: its first address and prefix length. */
export interface Subnet {
  /** The network address, as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

/** `a.b.c.d` as an unsigned 32-bit number, or null when it is not one. */
export function parseAddress(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let n = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return null;
    n = n * 256 + Number(part);
  }
  return n;
}

/** A number as `a.b.c.d`. */
export function formatAddress(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** The mask of a prefix length, as a number. */
export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/**
 * `a.b.c.d/N`, its host bits cleared.
 *
 * @throws {UsageError} naming the value and `what` it was given as
 */
export function parseSubnet(text: string, what = "subnet"): Subnet {
  const [addr, prefixText, extra] = text.split("/");
  const n = parseAddress(addr);
  const prefix = Number(prefixText);
  if (n === null || extra !== undefined || !/^[0-9]{1,2}$/.test(prefixText ?? "") || prefix > 32) {
    throw new UsageError(`Invalid ${what} "${text}": use an IPv4 CIDR such as 10.89.0.0/24`);
  }
  return { base: (n & maskOf(prefix)) >>> 0, prefix };
}

/** A subnet as `a.b.c.d/N`. */
export function formatSubnet(s: Subnet): string {
  return `${formatAddress(s.base)}/${s.prefix}`;
}

/** Whether `address` lies in `subnet`. */
export function contains(subnet: Subnet, address: number): boolean {
  return ((address & maskOf(subnet.prefix)) >>> 0) === subnet.base;
}

/** Whether two subnets share any address. */
export function overlaps(a: Subnet, b: Subnet): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  return ((a.base & maskOf(prefix)) >>> 0) === ((b.base & maskOf(prefix)) >>> 0);
}

/** The addresses a container may take: past the network address, before the broadcast. */
export function hostRange(subnet: Subnet): { first: number; last: number } {
  const size = 2 ** (32 - subnet.prefix);
  return { first: subnet.base + 1, last: subnet.base + size - 2 };
}

/**
 * The lowest free address of `subnet`, not in `taken`.
 *
 * @returns null when the subnet is full
 */
export function firstFree(subnet: Subnet, taken: Set<number>): number | null {
  const { first, last } = hostRange(subnet);
  for (let a = first; a <= last; a++) if (!taken.has(a)) return a;
  return null;
}

/** A MAC address made from an IPv4 address, as docker makes them: 02:42 then its four bytes. */
export function macFor(address: number): string {
  const bytes = [0x02, 0x42, address >>> 24, (address >>> 16) & 255, (address >>> 8) & 255, address & 255];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/**
 * The IPv4 routes of the calling process's network namespace, from the
 * text of /proc/net/route (little-endian hex): destination and prefix.
 */
export function parseRoutes(text: string): Subnet[] {
  const routes: Subnet[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const dest = leHex(f[1]);
    const mask = leHex(f[7]);
    if (mask === 0) continue; // the default route collides with nothing
    routes.push({ base: (dest & mask) >>> 0, prefix: 32 - countTrailingZeros(mask) });
  }
  return routes;
}

function leHex(text: string): number {
  const n = parseInt(text, 16);
  return (((n & 255) << 24) | (((n >>> 8) & 255) << 16) | (((n >>> 16) & 255) << 8) | (n >>> 24)) >>> 0;
}

function countTrailingZeros(n: number): number {
  if (n === 0) return 32;
  let c = 0;
  while (((n >>> c) & 1) === 0) c++;
  return c;
}
