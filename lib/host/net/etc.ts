/**
 * The container's /etc/resolv.conf and /etc/hosts, as docker writes them.
 * Pure.
 *
 * @module
 */

/** Nameservers when the host's are all loopback resolvers (docker's fallback). */
export const FALLBACK_NAMESERVERS = ["8.8.8.8", "8.8.4.4"];

/** What `--dns`, `--dns-search` and `--dns-option` ask for. */
export interface DnsOptions {
  /** Nameservers, replacing the host's. */
  servers?: string[];
  /** Search domains, replacing the host's. */
  search?: string[];
  /** resolv.conf options, replacing the host's. */
  options?: string[];
}

/**
 * A container's resolv.conf from the host's: its nameservers without the
 * loopback ones (127.0.0.53 answers nothing inside a container's own
 * loopback), docker's fallback when none is left, and `--dns…` over them.
 * `hostNetwork`: the host's file as it is (the container shares its
 * loopback).
 */
export function resolvConf(host: string, dns: DnsOptions = {}, hostNetwork = false): string {
  const lines = host.split("\n").map((l) => l.trim());
  const field = (key: string) =>
    lines.filter((l) => l.startsWith(key + " ") || l.startsWith(key + "\t"))
      .flatMap((l) => l.split(/\s+/).slice(1));
  const loopback = (s: string) => s.startsWith("127.") || s === "::1";
  let servers = dns.servers?.length ? dns.servers : field("nameserver");
  if (!hostNetwork && !dns.servers?.length) {
    servers = servers.filter((s) => !loopback(s));
    if (servers.length === 0) servers = FALLBACK_NAMESERVERS;
  }
  const search = dns.search?.length ? dns.search : field("search");
  const options = dns.options?.length ? dns.options : field("options");
  return [
    ...(search.length && !(search.length === 1 && search[0] === ".") ? [`search ${search.join(" ")}`] : []),
    ...servers.map((s) => `nameserver ${s}`),
    ...(options.length ? [`options ${options.join(" ")}`] : []),
    "",
  ].join("\n");
}

/** A name the container's /etc/hosts maps to an address. */
export interface HostEntry {
  /** An IPv4 address. */
  address: string;
  /** The names it has. */
  names: string[];
}

/**
 * A container's /etc/hosts: loopback and IPv6's usual names, `--add-host`
 * entries, its own address and hostname, then its peers (containers on its
 * user networks, by name and alias).
 */
export function hostsFile(own: HostEntry | null, extra: HostEntry[], peers: HostEntry[] = []): string {
  const line = (e: HostEntry) => `${e.address}\t${e.names.join(" ")}`;
  return [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "ff00::0\tip6-mcastprefix",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
    ...extra.map(line),
    ...(own ? [line(own)] : []),
    ...peers.map(line),
    "",
  ].join("\n");
}
