/**
 * The network verbs (`network create|ls|inspect|rm|prune`, `port`) and
 * the network options `run` shares with `create`.
 *
 * @module
 */

import type { OptionSpec, Parsed } from "./args.ts";
import { UsageError } from "../errors.ts";
import { table } from "./format.ts";
import { confirmPrune, forEachName, HELP, type Verb } from "./verb.ts";
import type { NetworkOptions } from "../container/network.ts";
import { later } from "../host/later.ts";

/** run's (and create's) network options, docker's spelling. */
export const NETWORK_OPTIONS: OptionSpec[] = [
  {
    long: "network",
    kind: "value",
    arg: "MODE",
    help: "bridge (default as root), none, host, container:NAME, or a network's name",
  },
  { long: "net", kind: "value", arg: "MODE", help: "The same as --network" },
  { long: "ip", kind: "value", arg: "ADDRESS", help: "The container's address on a user network" },
  { long: "network-alias", kind: "list", arg: "NAME", help: "Another name for it on a user network" },
  {
    long: "publish",
    short: "p",
    kind: "list",
    arg: "[IP:][HOST_PORT:]PORT[/PROTO]",
    help: "Publish a container's port on the host",
  },
  {
    long: "publish-all",
    short: "P",
    kind: "flag",
    help: "Publish the image's exposed ports on free host ports",
  },
  { long: "dns", kind: "list", arg: "IP", help: "A nameserver for /etc/resolv.conf" },
  { long: "dns-search", kind: "list", arg: "DOMAIN", help: "A search domain for /etc/resolv.conf" },
  { long: "dns-option", kind: "list", arg: "OPT", help: "An option for /etc/resolv.conf" },
  { long: "add-host", kind: "list", arg: "NAME:IP", help: "Add a line to /etc/hosts" },
];

/** The network options of a parsed `run`, for lib/container/network.ts to check. */
export function networkOptions(o: Parsed["options"]): NetworkOptions {
  return {
    network: (o.network ?? o.net) as string | undefined,
    ip: o.ip as string | undefined,
    aliases: o["network-alias"] as string[] | undefined,
    publish: o.publish as string[] | undefined,
    publishAll: Boolean(o["publish-all"]),
    dns: o.dns as string[] | undefined,
    dnsSearch: o["dns-search"] as string[] | undefined,
    dnsOption: o["dns-option"] as string[] | undefined,
    addHost: o["add-host"] as string[] | undefined,
  };
}

const network: Verb = {
  usage: "network create|ls|inspect|rm|prune|connect|disconnect [OPTIONS] [NAME...]",
  summary: "Manage networks",
  args: { min: 1 },
  options: [
    { long: "subnet", kind: "value", arg: "CIDR", help: "create: the network's subnet, e.g. 10.90.0.0/24" },
    { long: "gateway", kind: "value", arg: "IP", help: "create: the bridge's address (default: the first)" },
    { long: "internal", kind: "flag", help: "create: no route out of the network" },
    { long: "label", kind: "list", arg: "KEY=VALUE", help: "create: a label" },
    { long: "driver", short: "d", kind: "value", arg: "bridge", help: "create: only bridge" },
    { long: "ip", kind: "value", arg: "ADDRESS", help: "connect: the container's address on it" },
    { long: "alias", kind: "list", arg: "NAME", help: "connect: another name for the container on it" },
    { long: "force", short: "f", kind: "flag", help: "prune: do not ask" },
    { long: "quiet", short: "q", kind: "flag", help: "ls: names only" },
    HELP,
  ],
  async action(store, { options: o, positionals: [sub, ...names] }) {
    const lib = await later<typeof import("../container/network.ts")>(
      "../container/network.ts",
      import.meta.url,
    );
    const needNames = () => {
      if (names.length === 0) throw new UsageError(`"skiff network ${sub}" needs a network name`);
    };
    switch (sub) {
      case "create": {
        if (names.length !== 1) throw new UsageError('"skiff network create" takes one network name');
        if (o.driver !== undefined && o.driver !== "bridge") {
          throw new UsageError(`Unknown network driver "${o.driver}": skiff has bridge only`);
        }
        const labels = Object.fromEntries(((o.label as string[] | undefined) ?? []).map((l) => {
          const at = l.indexOf("=");
          return at < 0 ? [l, ""] : [l.slice(0, at), l.slice(at + 1)];
        }));
        const made = await lib.createNetwork(store, {
          name: names[0],
          subnet: o.subnet as string | undefined,
          gateway: o.gateway as string | undefined,
          internal: Boolean(o.internal),
          labels,
        });
        console.log(made.id);
        return 0;
      }
      case "ls": {
        const rows = (await lib.listNetworks(store)).map((
          n,
        ) => [n.id.slice(0, 12), n.name, n.driver, "local"]);
        // the default network is listed before its first use (made then), as docker's always is
        if (!rows.some((r) => r[1] === lib.DEFAULT_NETWORK)) {
          rows.unshift(["", lib.DEFAULT_NETWORK, "bridge", "local"]);
        }
        if (o.quiet) console.log(rows.map((r) => r[1]).join("\n"));
        else console.log(table(["NETWORK ID", "NAME", "DRIVER", "SCOPE"], rows));
        return 0;
      }
      case "inspect": {
        needNames();
        const all = await lib.listNetworks(store);
        const shown = await Promise.all(names.map((n) => lib.inspectNetwork(store, lib.findNetwork(all, n))));
        console.log(JSON.stringify(shown, null, 2));
        return 0;
      }
      case "rm":
        needNames();
        return await forEachName(names, async (n) => void await lib.removeNetwork(store, n));
      case "prune": {
        if (names.length > 0) throw new UsageError('"skiff network prune" takes no network name');
        const sure = await confirmPrune(
          "network prune",
          "This will remove all custom networks not used by at least one container.",
          Boolean(o.force),
        );
        if (!sure) return 0;
        const removed = await lib.pruneNetworks(store);
        if (removed.length) console.log(`Deleted Networks:\n${removed.join("\n")}`);
        return 0;
      }
      case "connect":
      case "disconnect": {
        if (names.length !== 2) throw new UsageError(`"skiff network ${sub}" takes NETWORK CONTAINER`);
        if (sub === "disconnect") await lib.disconnectNetwork(store, names[0], names[1]);
        else {
          await lib.connectNetwork(store, names[0], names[1], {
            ...(o.ip !== undefined ? { ip: o.ip as string } : {}),
            ...(o.alias ? { aliases: o.alias as string[] } : {}),
          });
        }
        return 0;
      }
      default:
        throw new UsageError(
          `Unknown network command "${sub}"; use create, ls, inspect, rm, prune, connect or disconnect`,
        );
    }
  },
};

const port: Verb = {
  usage: "port CONTAINER [PRIVATE_PORT[/PROTO]]",
  summary: "List a container's published ports",
  args: { min: 1, max: 2 },
  options: [HELP],
  async action(store, { positionals: [ref, which] }) {
    const { containerPorts } = await later<typeof import("../container/network.ts")>(
      "../container/network.ts",
      import.meta.url,
    );
    const ports = await containerPorts(store, ref);
    const [num, proto = "tcp"] = (which ?? "").split("/");
    const shown = which === undefined
      ? ports
      : ports.filter((p) => String(p.containerPort) === num && p.protocol === proto);
    if (which !== undefined && shown.length === 0) {
      throw new UsageError(`No public port '${num}/${proto}' published for ${ref}`);
    }
    for (const p of shown) {
      const host = `${p.hostIp || "0.0.0.0"}:${p.hostPort}`;
      console.log(which === undefined ? `${p.containerPort}/${p.protocol} -> ${host}` : host);
    }
    return 0;
  },
};

/** The network verbs. */
export const NETWORK_VERBS: Record<string, Verb> = { network, port };
