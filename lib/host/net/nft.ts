/**
 * skiff's nftables rules as text for one `nft -f` transaction each: a
 * table per network (outbound NAT, isolation from other networks, the
 * masquerades that let the host's loopback and the containers themselves
 * reach published ports) and a table per container with published ports
 * (the DNATs). Tables of skiff's own, so a cleanup is one `delete table`,
 * and no rule of anyone else's is flushed or reordered. Pure.
 *
 * @module
 */

import type { PortBinding } from "./ports.ts";

/** The table family skiff's rules live in. */
export const FAMILY = "ip";

/** What a network's table needs to know. */
export interface NetworkRules {
  /** The network's table name (see {@link networkTable}). */
  table: string;
  /** The bridge's interface name. */
  bridge: string;
  /** Its subnet, as a.b.c.d/N. */
  subnet: string;
  /** No route out: traffic leaves the bridge only to the host itself. */
  internal: boolean;
  /** The name pattern of every skiff bridge, for isolation between networks. */
  bridgePattern: string;
}

/** A network's table: `skiff-net-NAME`. */
export function networkTable(network: string): string {
  return `skiff-net-${network}`;
}

/** A container's ports table: `skiff-ctr-` and its short id. */
export function containerTable(id: string): string {
  return `skiff-ctr-${id.slice(0, 12)}`;
}

/**
 * The `nft -f` text that (re)makes a network's table: declared, flushed
 * and filled in one transaction, so applying it twice gives one copy.
 */
export function networkRuleset(n: NetworkRules): string {
  const br = JSON.stringify(n.bridge);
  const forward = n.internal
    ? [`iifname ${br} oifname != ${br} drop`, `oifname ${br} iifname != ${br} drop`]
    : [`iifname ${br} oifname ${JSON.stringify(n.bridgePattern)} oifname != ${br} drop`];
  const postrouting = [
    ...(n.internal ? [] : [`ip saddr ${n.subnet} oifname != ${br} masquerade`]),
    // the host's own 127.0.0.1 to a published port (route_localnet is set on the bridge)
    `oifname ${br} ip saddr 127.0.0.0/8 masquerade`,
    // a container to a port published on the host's address: back out the bridge it came in by
    `iifname ${br} oifname ${br} ct status dnat masquerade`,
  ];
  return [
    `table ${FAMILY} ${n.table} {}`,
    `flush table ${FAMILY} ${n.table}`,
    `table ${FAMILY} ${n.table} {`,
    chain("forward", "type filter hook forward priority filter; policy accept;", forward),
    chain("postrouting", "type nat hook postrouting priority srcnat; policy accept;", postrouting),
    "}",
    "",
  ].join("\n");
}

/**
 * The `nft -f` text of a container's published ports: DNAT for packets
 * from elsewhere (prerouting) and from the host itself (output), to the
 * container's address; a port published on 127.0.0.1 is DNATed only for
 * the host's own packets, and packets for it that come in on any other
 * interface are dropped before NAT (docker's raw-prerouting drop), so it
 * is never reachable from other hosts.
 */
export function portsRuleset(table: string, address: string, ports: PortBinding[]): string {
  const pre: string[] = [];
  const out: string[] = [];
  const raw: string[] = [];
  for (const p of ports) {
    const to = `dnat to ${address}:${p.containerPort}`;
    const match = `${p.protocol} dport ${p.hostPort}`;
    if (p.hostIp === "") {
      pre.push(`fib daddr type local ${match} ${to}`);
      out.push(`fib daddr type local ${match} ${to}`);
    } else if (p.hostIp.startsWith("127.")) {
      out.push(`ip daddr ${p.hostIp} ${match} ${to}`);
      raw.push(`iifname != "lo" ip daddr ${p.hostIp} ${match} drop`);
    } else {
      pre.push(`ip daddr ${p.hostIp} ${match} ${to}`);
      out.push(`ip daddr ${p.hostIp} ${match} ${to}`);
    }
  }
  return [
    `table ${FAMILY} ${table} {}`,
    `flush table ${FAMILY} ${table}`,
    `table ${FAMILY} ${table} {`,
    chain("prerouting", "type nat hook prerouting priority dstnat; policy accept;", pre),
    chain("output", "type nat hook output priority -100; policy accept;", out),
    ...(raw.length ? [chain("raw", "type filter hook prerouting priority raw; policy accept;", raw)] : []),
    "}",
    "",
  ].join("\n");
}

/** The `nft -f` text that deletes a table, if it is there. */
export function deleteTable(table: string): string {
  // "destroy" needs nft 1.0.8; declaring it first makes the delete safe on 1.0.6
  return `table ${FAMILY} ${table} {}\ndelete table ${FAMILY} ${table}\n`;
}

function chain(name: string, head: string, rules: string[]): string {
  return [`  chain ${name} {`, `    ${head}`, ...rules.map((r) => `    ${r}`), "  }"].join("\n");
}

/** A base chain of another tool's at the forward hook whose policy drops (docker's FORWARD, say). */
export interface DroppingChain {
  family: string;
  table: string;
  name: string;
}

/** One rule of skiff's in a chain of another's, as `nft -j list ruleset` shows it. */
export interface ForeignRule extends DroppingChain {
  handle: number;
}

/** The JSON of `nft -j list …`: one object per item, keyed by its kind (chain, rule, metainfo…). */
export type Listing = { nftables?: Partial<Record<string, Record<string, unknown>>>[] };

/**
 * The forward base chains in `listing` (the JSON of `nft -j list chains`)
 * that drop by policy and are not skiff's: forwarded packets of a skiff
 * network must be accepted there too, since an accept in skiff's own
 * chain does not stop another base chain at the same hook from dropping.
 */
export function droppingForwardChains(listing: Listing): DroppingChain[] {
  return (listing.nftables ?? []).flatMap(({ chain: c }) =>
    c && c.hook === "forward" && c.policy === "drop" && (c.family === "ip" || c.family === "inet") &&
      !String(c.table).startsWith("skiff-")
      ? [{ family: String(c.family), table: String(c.table), name: String(c.name) }]
      : []
  );
}

/**
 * The `nft -f` text that puts, at the head of each of `chains`, accepts
 * for a network's subnet both ways, marked with `comment` (the network's
 * table name) so that {@link markedRules} finds them again.
 */
export function forwardAccepts(chains: DroppingChain[], subnet: string, comment: string): string {
  return chains.flatMap((c) =>
    ["daddr", "saddr"].map((dir) =>
      `insert rule ${c.family} ${c.table} ${c.name} ip ${dir} ${subnet} accept comment ${
        JSON.stringify(comment)
      }`
    )
  ).join("\n") + "\n";
}

/** The rules in `listing` (the JSON of `nft -j list ruleset`) that carry `comment`. */
export function markedRules(listing: Listing, comment: string): ForeignRule[] {
  return (listing.nftables ?? []).flatMap(({ rule: r }) =>
    r && r.comment === comment
      ? [{
        family: String(r.family),
        table: String(r.table),
        name: String(r.chain),
        handle: Number(r.handle),
      }]
      : []
  );
}

/** The `nft -f` text that deletes `rules` by their handles. */
export function deleteRules(rules: ForeignRule[]): string {
  return rules.map((r) => `delete rule ${r.family} ${r.table} ${r.name} handle ${r.handle}\n`).join("");
}
