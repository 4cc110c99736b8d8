/**
 * Networks and a container's place on them: the network records
 * (`networks/NAME.json`), the bridge and the nftables table each one has
 * on the host, the address and port allocator, the container's
 * /etc/hosts and /etc/resolv.conf, and the plan its init carries out
 * (lib/container/init.ts `joinNetwork`): a veth to the bridge, its end in
 * the container named eth0, an address and a default route.
 *
 * Everything that allocates (addresses, host ports, bridge names, subnets)
 * is decided under the store lock, from the records of the containers that
 * run, so concurrent runs never share an address and a killed run's comes
 * back as soon as its record is reconciled. What a container holds on the
 * host is let go by lib/container/network.sh `leave` (its ports' table, its
 * names in its peers' /etc/hosts); the veth goes with its network
 * namespace.
 *
 * @module
 */

import { InvalidStateError, NotFoundError, UsageError } from "../errors.ts";
import { exists, readJson, type Store, writeAtomic } from "../store/store.ts";
import {
  type ContainerRecord,
  findContainer,
  holdsHostState,
  isRunning,
  NETWORK_SCRIPT,
  readRecords,
} from "./containers.ts";
import { pid1Of } from "./lifecycle.ts";
import {
  contains,
  firstFree,
  formatAddress,
  formatSubnet,
  hostRange,
  macFor,
  overlaps,
  parseAddress,
  parseRoutes,
  parseSubnet,
  type Subnet,
} from "../host/net/ipv4.ts";
import {
  bindPorts,
  exposedRequests,
  formatBinding,
  listeningPorts,
  parsePublish,
  type PortBinding,
  type PortRequest,
  type Protocol,
} from "../host/net/ports.ts";
import {
  containerTable,
  deleteRules,
  deleteTable,
  droppingForwardChains,
  forwardAccepts,
  type Listing,
  markedRules,
  networkRuleset,
  networkTable,
  portsRuleset,
} from "../host/net/nft.ts";
import { type DnsOptions, type HostEntry, hostsFile, resolvConf } from "../host/net/etc.ts";
import { findCommand, runHelper } from "../host/spawn.ts";
import { runNftables } from "../../ffi/nftables.ts";

/** The network a container is on without --network, as root: docker's `bridge`. */
export const DEFAULT_NETWORK = "bridge";
/** The default network's bridge. */
export const DEFAULT_BRIDGE = "skiff0";
/** Every skiff bridge's name begins so (user networks: skiff1, skiff2, …). */
const BRIDGE_PREFIX = "skiff";
/** Subnets handed out when none is asked for, in order: docker's 172.17-31, then more. */
const SUBNET_POOL: Subnet[] = [
  ...Array.from({ length: 15 }, (_, i) => ({ base: (172 << 24 | (17 + i) << 16) >>> 0, prefix: 16 })),
  ...Array.from({ length: 20 }, (_, i) => ({ base: (10 << 24 | (89 + i) << 16) >>> 0, prefix: 16 })),
];

/** A network, as `network inspect` shows it. */
export interface NetworkRecord {
  /** Its name, as `--network` takes it. */
  name: string;
  /** 64 hex characters. */
  id: string;
  /** Always a bridge on the host. */
  driver: "bridge";
  /** a.b.c.d/N */
  subnet: string;
  /** The bridge's address: the containers' default route. */
  gateway: string;
  /** The bridge's interface name on the host. */
  bridge: string;
  /** No route out of it (`--internal`). */
  internal: boolean;
  /** When it was made, ISO 8601. */
  created: string;
  /** `--label`s. */
  labels?: Record<string, string>;
}

/** What the user asked of a container's network (`--network`, `-p`, `--dns`…), kept in its record. */
export interface NetworkRequest {
  /** none: loopback only; host: the host's; container: another's; bridge: the default or user networks. */
  mode: "none" | "host" | "bridge" | "container";
  /** With `container`: the container whose network namespace it joins, by id. */
  container?: string;
  /** With `bridge`: the networks, each with an asked address and aliases. */
  networks?: { name: string; ip?: string; aliases?: string[] }[];
  /** `-p` values, parsed. */
  publish?: PortRequest[];
  /** `-P`: the image's exposed ports on free host ports. */
  publishAll?: boolean;
  /** `--dns`, `--dns-search`, `--dns-option`. */
  dns?: DnsOptions;
  /** `--add-host NAME:IP` entries. */
  addHosts?: HostEntry[];
}

/** A container's place on one network while it runs. */
export interface Attachment {
  /** The network's name. */
  network: string;
  /** The network's id. */
  networkId: string;
  /** Its address on it. */
  ip: string;
  /** Its prefix length. */
  prefix: number;
  /** Its default route: the bridge's address. */
  gateway: string;
  /** Its interface's MAC address (docker's 02:42 form). */
  mac: string;
  /** Its interface inside (eth0, eth1, …) and its veth's end on the host. */
  ifname: string;
  /** Its veth's end on the host. */
  hostIf: string;
  /** `--network-alias` names, on this network. */
  aliases: string[];
}

/** What a running container has of the network: docker's NetworkSettings, in skiff's words. */
export interface NetworkSettings {
  /** Its places on networks, eth0 first. */
  attachments: Attachment[];
  /** Its published ports, host ports chosen. */
  ports: PortBinding[];
}

/** What the container's init does to its network namespace (init.ts carries it out). */
export type InitNet =
  /** A namespace of its own with loopback only. */
  | { kind: "none" }
  /** The host's: nothing is made. */
  | { kind: "host" }
  /** Another container's: setns into it. */
  | { kind: "join"; path: string }
  /**
   * A namespace of its own, its `veths` made from the host's namespace
   * (through a netlink socket opened there first) and `inside` configured
   * in the new one.
   */
  | { kind: "bridge"; veths: VethPlan[]; inside: InsideInterface[] };

/** A container's veth: its host end on `bridge`, its other end `ifname` in the container. */
export interface VethPlan {
  /** The host end's name. */
  hostIf: string;
  /** The bridge the host end joins. */
  bridge: string;
  /** The container end's name: eth0, eth1, … */
  ifname: string;
  /** The container end's MAC. */
  mac: string;
}

/** An interface of the container's, as init configures it in its namespace. */
export interface InsideInterface {
  /** eth0, eth1, … */
  name: string;
  /** Its IPv4 address. */
  address: string;
  /** Its prefix length. */
  prefix: number;
  /** A default route through this address (the first interface's, unless --internal). */
  gateway?: string;
}

/** The network options as the CLI takes them, before they are checked. */
export interface NetworkOptions {
  /** `--network`: a mode or a network's name. */
  network?: string;
  /** `--ip`: the address on a user network. */
  ip?: string;
  /** `--network-alias` names. */
  aliases?: string[];
  /** `-p` values. */
  publish?: string[];
  /** `-P`. */
  publishAll?: boolean;
  /** `--dns` servers. */
  dns?: string[];
  /** `--dns-search` domains. */
  dnsSearch?: string[];
  /** `--dns-option` options. */
  dnsOption?: string[];
  /** `--add-host NAME:IP` values. */
  addHost?: string[];
}

const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/**
 * The request `run` keeps from its options, checked. The default is the
 * `bridge` network as root, and none in a user namespace (rootless).
 *
 * @throws {UsageError} for a malformed value or options that don't go together
 */
export function networkRequest(opts: NetworkOptions, rootless: boolean): NetworkRequest {
  const mode = opts.network ?? (rootless ? "none" : DEFAULT_NETWORK);
  const publish = (opts.publish ?? []).map(parsePublish);
  const dns: DnsOptions = {
    ...(opts.dns?.length ? { servers: opts.dns.map(checkAddress("--dns")) } : {}),
    ...(opts.dnsSearch?.length ? { search: opts.dnsSearch } : {}),
    ...(opts.dnsOption?.length ? { options: opts.dnsOption } : {}),
  };
  const addHosts = (opts.addHost ?? []).map(parseAddHost);
  const extras = {
    ...(Object.keys(dns).length ? { dns } : {}),
    ...(addHosts.length ? { addHosts } : {}),
  };
  const userNetwork = !["none", "host", DEFAULT_NETWORK].includes(mode) && !mode.startsWith("container:");
  if (opts.ip !== undefined) {
    if (!userNetwork) {
      throw new UsageError(`Invalid --ip "${opts.ip}": an address can be chosen only on a user network`);
    }
    checkAddress("--ip")(opts.ip);
  }
  if (opts.aliases?.length && !userNetwork) {
    throw new UsageError("Network-scoped aliases are supported only on user networks: drop --network-alias");
  }
  if (mode === "none" || mode === "host" || mode.startsWith("container:")) {
    if (publish.length || opts.publishAll) {
      throw new UsageError(
        `Cannot publish ports with --network ${mode}: the container has no network of its own`,
      );
    }
    if (mode.startsWith("container:")) {
      const ref = mode.slice("container:".length);
      if (ref === "") throw new UsageError('Invalid --network "container:": name a container');
      if (Object.keys(extras).length) {
        throw new UsageError(
          `Cannot set --dns or --add-host with --network ${mode}: it shares that container's`,
        );
      }
      return { mode: "container", container: ref };
    }
    return { mode: mode as "none" | "host", ...extras };
  }
  if (!NETWORK_NAME.test(mode)) throw new UsageError(`Invalid --network "${mode}": no such network mode`);
  return {
    mode: "bridge",
    networks: [{
      name: mode,
      ...(opts.ip !== undefined ? { ip: opts.ip } : {}),
      ...(opts.aliases?.length ? { aliases: opts.aliases } : {}),
    }],
    ...(publish.length ? { publish } : {}),
    ...(opts.publishAll ? { publishAll: true } : {}),
    ...extras,
  };
}

function checkAddress(flag: string): (text: string) => string {
  return (text) => {
    if (parseAddress(text) === null) throw new UsageError(`Invalid ${flag} "${text}": use an IPv4 address`);
    return text;
  };
}

/** `--add-host NAME:IP` (docker takes `NAME=IP` too). */
function parseAddHost(value: string): HostEntry {
  const at = value.search(/[:=]/);
  const name = value.slice(0, at);
  const address = value.slice(at + 1);
  if (at <= 0 || parseAddress(address) === null || !/^[a-zA-Z0-9.-]+$/.test(name)) {
    throw new UsageError(`Invalid --add-host "${value}": use NAME:IP, e.g. db:10.0.0.5`);
  }
  return { address, names: [name] };
}

// ---------------------------------------------------------------------------
// Network records

function networkPath(store: Store, name: string): string {
  return `${store.networksDir}/${name}.json`;
}

function membersDir(store: Store, name: string): string {
  return `${store.networksDir}/${name}.members`;
}

/** Every network, the default one first (made on first use, so it may be absent). */
export async function listNetworks(store: Store): Promise<NetworkRecord[]> {
  const found: NetworkRecord[] = [];
  try {
    for (const e of Deno.readDirSync(store.networksDir)) {
      if (!e.name.endsWith(".json")) continue;
      const n = await readJson<NetworkRecord>(`${store.networksDir}/${e.name}`);
      if (n !== null) found.push(n);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return found.sort((a, b) =>
    a.name === DEFAULT_NETWORK ? -1 : b.name === DEFAULT_NETWORK ? 1 : a.name < b.name ? -1 : 1
  );
}

/** A network by name, full id or unique id prefix. */
export function findNetwork(networks: NetworkRecord[], ref: string): NetworkRecord {
  const hit = networks.find((n) => n.name === ref || n.id === ref) ??
    (/^[0-9a-f]{3,}$/.test(ref) ? onlyOne(networks.filter((n) => n.id.startsWith(ref))) : undefined);
  if (hit === undefined) throw new NotFoundError(`network ${ref} not found`);
  return hit;
}

function onlyOne<T>(list: T[]): T | undefined {
  return list.length === 1 ? list[0] : undefined;
}

/** What `network create` takes. */
export interface NewNetwork {
  /** Its name: letters, digits, `_`, `.` and `-`. */
  name: string;
  /** a.b.c.d/N; by default a free /16 from 172.17.0.0 on. */
  subnet?: string;
  /** The bridge's address; by default the subnet's first. */
  gateway?: string;
  /** No route out of it. */
  internal?: boolean;
  /** `--label`s. */
  labels?: Record<string, string>;
}

/**
 * Makes a network: its record, its bridge and its table on the host. The
 * subnet must not overlap the host's routes or another network's.
 *
 * @throws {UsageError} for a bad name, subnet or gateway, or a taken name
 */
export async function createNetwork(store: Store, spec: NewNetwork): Promise<NetworkRecord> {
  if (!NETWORK_NAME.test(spec.name) || spec.name.length > 64) {
    throw new UsageError(`Invalid network name "${spec.name}": use letters, digits, "_", "." and "-"`);
  }
  if (["none", "host", "default"].includes(spec.name) || spec.name.startsWith("container:")) {
    throw new UsageError(`Invalid network name "${spec.name}": it is a network mode`);
  }
  const subnet = spec.subnet === undefined ? undefined : parseSubnet(spec.subnet);
  if (subnet && subnet.prefix > 30) {
    throw new UsageError(
      `Invalid subnet "${spec.subnet}": it holds no address for a container; use /30 or wider`,
    );
  }
  return await store.locked(async () => {
    const networks = await listNetworks(store);
    if (networks.some((n) => n.name === spec.name)) {
      throw new UsageError(`network with name ${spec.name} already exists`);
    }
    const record = newNetworkRecord(spec, networks, subnet);
    await ensureBridge(record);
    await saveNetwork(store, record);
    return record;
  });
}

function newNetworkRecord(spec: NewNetwork, networks: NetworkRecord[], asked?: Subnet): NetworkRecord {
  const taken = [...networks.map((n) => parseSubnet(n.subnet)), ...hostRoutes()];
  let subnet = asked;
  if (subnet) {
    const clash = networks.find((n) => overlaps(parseSubnet(n.subnet), subnet!));
    if (clash) {
      throw new UsageError(
        `Invalid subnet "${spec.subnet}": it overlaps network "${clash.name}"'s ${clash.subnet}; choose another`,
      );
    }
    const route = hostRoutes().find((r) => overlaps(r, subnet!));
    if (route) {
      throw new UsageError(
        `Invalid subnet "${spec.subnet}": it overlaps the host's route to ${
          formatSubnet(route)
        }; choose another`,
      );
    }
  } else {
    subnet = SUBNET_POOL.find((s) => !taken.some((t) => overlaps(s, t)));
    if (!subnet) throw new UsageError("No free subnet is left for a network: give one with --subnet");
  }
  let gateway = subnet.base + 1;
  if (spec.gateway !== undefined) {
    const g = parseAddress(spec.gateway);
    if (g === null || !contains(subnet, g) || g === subnet.base) {
      throw new UsageError(
        `Invalid gateway "${spec.gateway}": it must be an address of the subnet ${formatSubnet(subnet)}`,
      );
    }
    gateway = g;
  }
  const used = new Set(networks.map((n) => n.bridge));
  let bridge = spec.name === DEFAULT_NETWORK ? DEFAULT_BRIDGE : "";
  for (let i = 1; bridge === ""; i++) if (!used.has(`${BRIDGE_PREFIX}${i}`)) bridge = `${BRIDGE_PREFIX}${i}`;
  return {
    name: spec.name,
    id: randomHex(),
    driver: "bridge",
    subnet: formatSubnet(subnet),
    gateway: formatAddress(gateway),
    bridge,
    internal: spec.internal ?? false,
    created: new Date().toISOString(),
    ...(spec.labels && Object.keys(spec.labels).length ? { labels: spec.labels } : {}),
  };
}

function randomHex(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}

async function saveNetwork(store: Store, record: NetworkRecord): Promise<void> {
  Deno.mkdirSync(membersDir(store, record.name), { recursive: true, mode: 0o700 });
  await writeAtomic(networkPath(store, record.name), JSON.stringify(record, null, 2));
}

/** The host's IPv4 routes, which a new subnet must not overlap. */
function hostRoutes(): Subnet[] {
  try {
    return parseRoutes(Deno.readTextFileSync("/proc/net/route"));
  } catch {
    return [];
  }
}

/** The running containers on a network, by name. */
function usersOf(records: ContainerRecord[], network: string): ContainerRecord[] {
  return records.filter((r) =>
    holdsNetwork(r) && r.networkSettings!.attachments.some((a) => a.network === network)
  );
}

/** Whether a record's network settings are live: it runs, or is being started. */
function holdsNetwork(r: ContainerRecord): boolean {
  return r.networkSettings !== undefined && (isRunning(r) || r.status === "created");
}

/**
 * Removes a network: its bridge, its table and its record.
 *
 * @throws {InvalidStateError} when a container uses it, or it is the default one
 */
export async function removeNetwork(store: Store, ref: string): Promise<NetworkRecord> {
  return await store.locked(async () => {
    const network = findNetwork(await listNetworks(store), ref);
    if (network.name === DEFAULT_NETWORK) {
      throw new InvalidStateError(`bridge is a pre-defined network and cannot be removed`);
    }
    const using = usersOf(await readRecords(store), network.name);
    if (using.length) {
      throw new InvalidStateError(
        `error while removing network: network ${network.name} id ${network.id} has active endpoints (${
          using.map((r) => r.name).join(", ")
        }); stop them first`,
      );
    }
    await tearDown(store, network);
    Deno.removeSync(networkPath(store, network.name));
    return network;
  });
}

/**
 * Removes every network no container uses (the default one's bridge and
 * rules too, though it stays listed: it comes back on the next run).
 *
 * @returns the names of the networks removed
 */
export async function pruneNetworks(store: Store): Promise<string[]> {
  return await store.locked(async () => {
    const records = await readRecords(store);
    const removed: string[] = [];
    for (const n of await listNetworks(store)) {
      if (usersOf(records, n.name).length) continue;
      await tearDown(store, n);
      if (n.name !== DEFAULT_NETWORK) {
        Deno.removeSync(networkPath(store, n.name));
        removed.push(n.name);
      }
    }
    return removed;
  });
}

async function tearDown(store: Store, network: NetworkRecord): Promise<void> {
  if (interfaceExists(network.bridge)) await tool(["ip", "link", "del", network.bridge], "remove the bridge");
  await nft(deleteTable(networkTable(network.name)), "remove the network's rules");
  const ours = markedRules(await nftListing("ruleset"), networkTable(network.name));
  if (ours.length) await nft(deleteRules(ours), "remove the network's accepts from other tools' chains");
  await Deno.remove(membersDir(store, network.name), { recursive: true }).catch(() => {});
}

/** Whether this network namespace has an interface of that name (/proc/net/dev is the caller's namespace's). */
function interfaceExists(name: string): boolean {
  const text = Deno.readTextFileSync("/proc/net/dev");
  return text.split("\n").some((l) => l.trim().startsWith(`${name}:`));
}

/**
 * The bridge and the network's table, made when the bridge is missing
 * (first use, or after a reboot); forwarding switched on for a network
 * with a way out.
 */
async function ensureBridge(network: NetworkRecord): Promise<void> {
  if (interfaceExists(network.bridge)) return;
  const prefix = network.subnet.split("/")[1];
  await tool(["ip", "link", "add", network.bridge, "type", "bridge"], `make the bridge "${network.bridge}"`);
  try {
    await tool(
      ["ip", "addr", "add", `${network.gateway}/${prefix}`, "dev", network.bridge],
      "address the bridge",
    );
    await tool(["ip", "link", "set", network.bridge, "up"], "bring the bridge up");
    await nft(
      networkRuleset({
        table: networkTable(network.name),
        bridge: network.bridge,
        subnet: network.subnet,
        internal: network.internal,
        bridgePattern: `${BRIDGE_PREFIX}*`,
      }),
      "set up the network's rules",
    );
    if (!network.internal) await acceptInDroppingChains(network);
  } catch (e) {
    await tool(["ip", "link", "del", network.bridge], "remove the bridge").catch(() => {});
    await nft(deleteTable(networkTable(network.name)), "remove the network's rules").catch(() => {});
    throw e;
  }
  if (!network.internal) setSysctl("net/ipv4/ip_forward", "1");
}

/**
 * Where another tool's forward chain drops by policy (docker sets its
 * FORWARD so), accepts for the network's subnet at its head: else the
 * containers' forwarded packets, accepted by skiff's own chain, are
 * dropped by that one. Marked with the network's table name, they go with
 * the bridge ({@link tearDown}), found again by that mark, never by a
 * handle kept across a firewall reload.
 */
async function acceptInDroppingChains(network: NetworkRecord): Promise<void> {
  const chains = droppingForwardChains(await nftListing("chains"));
  if (chains.length === 0) return;
  await nft(
    forwardAccepts(chains, network.subnet, networkTable(network.name)),
    "accept the network's packets",
  );
}

/** `nft -j list WHAT`, parsed. */
async function nftListing(what: "chains" | "ruleset"): Promise<Listing> {
  const out = await runHelper(
    findCommand("nft", PATH),
    ["-j", "list", what],
    `Cannot list the ${what} of nftables`,
    {
      name: "nft",
      stdout: true,
    },
  );
  return JSON.parse(new TextDecoder().decode(out));
}

/** Sets a sysctl of this network namespace when it differs. */
function setSysctl(name: string, value: string): void {
  const path = `/proc/sys/${name}`;
  if (Deno.readTextFileSync(path).trim() !== value) Deno.writeTextFileSync(path, value);
}

/** Runs ip, nft or network.sh (tied to skiff's life), with a one-line error naming what it was for. */
async function tool(argv: string[], what: string, stdin?: string): Promise<void> {
  const [cmd, ...args] = argv;
  await runHelper(findCommand(cmd, PATH), args, `Cannot ${what}`, { name: cmd, stdin });
}

/** Where ip and nft are, whatever the caller's PATH. */
const PATH = "/usr/sbin:/sbin:/usr/bin:/bin";

/** Runs an nftables ruleset in this thread's network namespace (libnftables: no `nft` process). */
function nft(ruleset: string, what: string): Promise<void> {
  try {
    runNftables(ruleset);
    return Promise.resolve();
  } catch (e) {
    return Promise.reject(new Error(`Cannot ${what}: nftables: ${e instanceof Error ? e.message : e}`));
  }
}

// ---------------------------------------------------------------------------
// A container's start

/** What a start needs of the network: init's part, the files to bind in, whether it must be left at exit. */
export interface NetworkPlan {
  init: InitNet;
  /** Host files bound over /etc/hosts, /etc/resolv.conf and /etc/hostname. */
  files: { source: string; target: string }[];
  settings?: NetworkSettings;
  /** Whether it holds something on the host to let go of when it ends (names, port rules): see {@link holdsHostState}. */
  leave: boolean;
}

/**
 * Plans a container's network for a start, under the store lock: for a
 * bridge, its networks made or brought back, addresses and host ports
 * chosen among those the running containers hold, its /etc/hosts and
 * peers' written, its port rules' file; the record gets the settings.
 *
 * @throws {UsageError} for an unknown network, a taken address or port
 * @throws {InvalidStateError} when the container to share with doesn't run
 */
export async function planNetwork(
  store: Store,
  record: ContainerRecord,
  exposed?: Record<string, unknown>,
): Promise<NetworkPlan> {
  const request = record.network ?? { mode: "none" };
  const dir = store.container(record.id);
  const hostsPath = `${dir}/hosts`;
  if (request.mode === "none") return { init: { kind: "none" }, files: [], leave: false };
  if (request.mode === "container") {
    return await store.locked(async () => {
      const target = findContainer(await readRecords(store), request.container!);
      const pid1 = pid1Of(target);
      if (pid1 === undefined) {
        throw new InvalidStateError(
          `Cannot join the network of container "${request.container}": it is not running`,
        );
      }
      const other = store.container(target.id);
      return {
        init: { kind: "join", path: `/proc/${pid1}/ns/net` },
        leave: false,
        files: etcBinds(`${other}/hosts`, `${other}/resolv.conf`, `${other}/hostname`).filter((f) =>
          exists(f.source)
        ),
      };
    });
  }
  Deno.writeTextFileSync(`${dir}/hostname`, record.hostname + "\n");
  const hostResolv = readOr("/etc/resolv.conf", "");
  if (request.mode === "host") {
    Deno.writeTextFileSync(hostsPath, readOr("/etc/hosts", hostsFile(null, request.addHosts ?? [])));
    Deno.writeTextFileSync(`${dir}/resolv.conf`, resolvConf(hostResolv, request.dns, true));
    return {
      init: { kind: "host" },
      files: etcBinds(hostsPath, `${dir}/resolv.conf`, `${dir}/hostname`),
      leave: false,
    };
  }
  Deno.writeTextFileSync(`${dir}/resolv.conf`, resolvConf(hostResolv, request.dns));
  return await store.locked(async () => {
    const records = (await readRecords(store)).filter((r) => r.id !== record.id);
    const networks = await listNetworks(store);
    const attachments: Attachment[] = [];
    const asked = request.networks ?? [{ name: DEFAULT_NETWORK }];
    for (const [i, want] of asked.entries()) {
      let network = networks.find((n) => n.name === want.name);
      if (network === undefined && want.name === DEFAULT_NETWORK) {
        network = newNetworkRecord({ name: DEFAULT_NETWORK }, networks);
        await saveNetwork(store, network);
        networks.push(network);
      }
      if (network === undefined) {
        throw new NotFoundError(
          `network ${want.name} not found: make it with skiff network create ${want.name}`,
        );
      }
      await ensureBridge(network);
      Deno.mkdirSync(membersDir(store, network.name), { recursive: true, mode: 0o700 });
      attachments.push(allocate(network, records, want, record.id, i));
    }
    const requests = [
      ...(request.publish ?? []),
      ...(request.publishAll ? exposedRequests(exposed) : []),
    ];
    const ports = requests.length ? choosePorts(requests, records) : [];
    const settings: NetworkSettings = { attachments, ports };
    const own = attachments[0];
    const base = hostsFile(
      { address: own.ip, names: [record.hostname] },
      request.addHosts ?? [],
    );
    Deno.writeTextFileSync(`${dir}/hosts.base`, base);
    Deno.writeTextFileSync(hostsPath, base);
    const named = attachments.filter((a) => a.network !== DEFAULT_NETWORK); // docker's default bridge has no names
    for (const a of named) writeMember(store, record, a);
    if (named.length) {
      await tool(["sh", NETWORK_SCRIPT, "join", store.root, record.id], "write the containers' /etc/hosts")
        .catch((e) => {
          for (const a of named) Deno.removeSync(`${membersDir(store, a.network)}/${record.id}`);
          throw e;
        });
    }
    const veths: VethPlan[] = attachments.map((a) => ({
      hostIf: a.hostIf,
      bridge: networkBridge(networks, a),
      ifname: a.ifname,
      mac: a.mac,
    }));
    if (ports.length) {
      for (const a of attachments) {
        setSysctl(`net/ipv4/conf/${networkBridge(networks, a)}/route_localnet`, "1");
      }
      // Now, from the host's namespace, rather than in init: the rules
      // name the container's address, not its namespace, and a run that
      // fails later takes them away with the rest (network.sh leave).
      await nft(portsRuleset(containerTable(record.id), own.ip, ports), "publish the container's ports")
        .catch(async (e) => {
          if (named.length) {
            await tool(["sh", NETWORK_SCRIPT, "leave", store.root, record.id], "leave").catch(() => {});
          }
          throw e;
        });
      Deno.writeTextFileSync(`${dir}/ports.del.nft`, deleteTable(containerTable(record.id)));
    }
    const first = networks.find((n) => n.name === own.network)!;
    const inside: InsideInterface[] = attachments.map((a, i) => ({
      name: a.ifname,
      address: a.ip,
      prefix: a.prefix,
      ...(i === 0 && !first.internal ? { gateway: a.gateway } : {}),
    }));
    await writeAtomic(
      store.record(record.id),
      JSON.stringify({ ...record, networkSettings: settings }, null, 2),
    );
    record.networkSettings = settings;
    return {
      init: { kind: "bridge", veths, inside },
      files: etcBinds(hostsPath, `${dir}/resolv.conf`, `${dir}/hostname`),
      settings,
      leave: holdsHostState(settings),
    };
  });
}

/**
 * The argv that makes a container's veth: its host end up on the bridge,
 * its other end (`ifname`, the MAC) made directly in `netns` (a path, or
 * init's `{netns}` placeholder).
 */
function vethArgv(a: Attachment, bridge: string, netns: string): string[] {
  return [
    findCommand("ip", PATH),
    ...["link", "add", a.hostIf, "up", "master", bridge, "type", "veth"],
    ...["peer", "name", a.ifname, "address", a.mac, "netns", netns],
  ];
}

/** A container's line among a network's members (network.sh): its address, name, aliases and short id. */
function writeMember(store: Store, record: ContainerRecord, a: Attachment): void {
  const names = [record.name, ...a.aliases, record.id.slice(0, 12)];
  Deno.writeTextFileSync(`${membersDir(store, a.network)}/${record.id}`, `${a.ip}\t${names.join(" ")}\n`);
}

function networkBridge(networks: NetworkRecord[], a: Attachment): string {
  return networks.find((n) => n.name === a.network)!.bridge;
}

function etcBinds(hosts: string, resolv: string, hostname: string): { source: string; target: string }[] {
  return [
    { source: hosts, target: "/etc/hosts" },
    { source: resolv, target: "/etc/resolv.conf" },
    { source: hostname, target: "/etc/hostname" },
  ];
}

function readOr(path: string, fallback: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return fallback;
  }
}

/** An address on `network` for a container: the asked one if free, else the lowest free. */
function allocate(
  network: NetworkRecord,
  records: ContainerRecord[],
  want: { ip?: string; aliases?: string[] },
  id: string,
  index: number,
): Attachment {
  const subnet = parseSubnet(network.subnet);
  const taken = new Set([parseAddress(network.gateway)!]);
  for (const r of records) {
    if (!holdsNetwork(r)) continue;
    for (const a of r.networkSettings!.attachments) {
      if (a.network === network.name) taken.add(parseAddress(a.ip)!);
    }
  }
  let address: number | null;
  if (want.ip !== undefined) {
    address = parseAddress(want.ip);
    const { first, last } = hostRange(subnet);
    if (address === null || !contains(subnet, address) || address < first || address > last) {
      throw new UsageError(
        `Invalid --ip "${want.ip}": it is not in network ${network.name}'s subnet ${network.subnet}`,
      );
    }
    if (taken.has(address)) {
      throw new UsageError(
        `Address ${want.ip} is already in use on network ${network.name}: choose another --ip`,
      );
    }
  } else {
    address = firstFree(subnet, taken);
    if (address === null) throw new UsageError(`Network ${network.name} has no free address left`);
  }
  return {
    network: network.name,
    networkId: network.id,
    ip: formatAddress(address),
    prefix: subnet.prefix,
    gateway: network.gateway,
    mac: macFor(address),
    ifname: `eth${index}`,
    hostIf: `veth${id.slice(0, 9)}${index}`,
    aliases: want.aliases ?? [],
  };
}

/** Host ports for the requests: free of other containers' and of the host's listening sockets. */
function choosePorts(requests: PortRequest[], records: ContainerRecord[]): PortBinding[] {
  const held = new Set<string>();
  for (const r of records) {
    if (!holdsNetwork(r)) continue;
    for (const p of r.networkSettings!.ports) held.add(`${p.protocol} ${p.hostPort}`);
  }
  const listening = listeningPorts(readOr("/proc/net/tcp", ""), readOr("/proc/net/udp", ""));
  const busy = (proto: Protocol, ip: string, port: number) =>
    held.has(`${proto} ${port}`) || listening.has(`${proto} 0.0.0.0:${port}`) ||
    (ip === ""
      ? [...listening].some((l) => l.startsWith(`${proto} `) && l.endsWith(`:${port}`))
      : listening.has(`${proto} ${ip}:${port}`));
  const free = (proto: Protocol, ip: string, first: number, last: number): number | null => {
    const [lo, hi] = first === 0 ? ephemeralRange() : [first, last];
    for (let p = lo; p <= hi; p++) {
      if (!busy(proto, ip, p)) {
        held.add(`${proto} ${p}`);
        return p;
      }
    }
    return null;
  };
  return requests.flatMap((r) => bindPorts(r, free));
}

/** The kernel's range for ports chosen for us: where `-p 80` and `-P` take theirs (docker does the same). */
function ephemeralRange(): [number, number] {
  const [lo, hi] = readOr("/proc/sys/net/ipv4/ip_local_port_range", "32768 60999").trim().split(/\s+/).map(
    Number,
  );
  return [lo, hi];
}

/** A network as docker's `network inspect` shows it, with its running containers. */
export async function inspectNetwork(store: Store, network: NetworkRecord): Promise<Record<string, unknown>> {
  const records = await store.locked(() => readRecords(store));
  const containers: Record<string, unknown> = {};
  for (const r of usersOf(records, network.name)) {
    const a = r.networkSettings!.attachments.find((x) => x.network === network.name)!;
    containers[r.id] = {
      Name: r.name,
      MacAddress: a.mac,
      IPv4Address: `${a.ip}/${a.prefix}`,
      IPv6Address: "",
    };
  }
  return {
    Name: network.name,
    Id: network.id,
    Created: network.created,
    Scope: "local",
    Driver: network.driver,
    EnableIPv6: false,
    IPAM: { Driver: "default", Options: {}, Config: [{ Subnet: network.subnet, Gateway: network.gateway }] },
    Internal: network.internal,
    Attachable: false,
    Containers: containers,
    Options: { "com.docker.network.bridge.name": network.bridge },
    Labels: network.labels ?? {},
  };
}

/** A container's published ports, while it runs. */
export async function containerPorts(store: Store, ref: string): Promise<PortBinding[]> {
  const record = findContainer(await store.locked(() => readRecords(store)), ref);
  return holdsNetwork(record) ? record.networkSettings!.ports : [];
}

/**
 * docker's `NetworkSettings` of a container: its addresses, gateway and
 * MAC on each network, and its ports (`"80/tcp": [{HostIp, HostPort}]`);
 * empty once it stopped, as docker's.
 */
export function networkSettingsView(record: ContainerRecord): Record<string, unknown> {
  const live = holdsNetwork(record) ? record.networkSettings! : { attachments: [], ports: [] };
  const ports: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of live.ports) {
    (ports[`${p.containerPort}/${p.protocol}`] ??= []).push({
      HostIp: p.hostIp || "0.0.0.0",
      HostPort: `${p.hostPort}`,
    });
  }
  const first = live.attachments[0];
  const mode = record.network?.mode ?? "none";
  const networks: Record<string, unknown> = {};
  for (const a of live.attachments) {
    networks[a.network] = {
      Aliases: a.aliases,
      NetworkID: a.networkId,
      Gateway: a.gateway,
      IPAddress: a.ip,
      IPPrefixLen: a.prefix,
      MacAddress: a.mac,
    };
  }
  if (mode !== "bridge") networks[mode === "container" ? "container" : mode] = {};
  return {
    Ports: ports,
    Gateway: first?.gateway ?? "",
    IPAddress: first?.ip ?? "",
    IPPrefixLen: first?.prefix ?? 0,
    MacAddress: first?.mac ?? "",
    Networks: networks,
  };
}

/** The ports column of `ps`: `0.0.0.0:8080->80/tcp, …`. */
export function portsColumn(record: ContainerRecord): string {
  return holdsNetwork(record) ? record.networkSettings!.ports.map(formatBinding).join(", ") : "";
}

/**
 * `network connect`: puts a container on one more user network. A
 * stopped one gets it at its next start; a running one at once: a veth
 * from the host's namespace into its own (ethN), its address, and its
 * name in its new peers' /etc/hosts.
 *
 * @throws {UsageError} for a container without a network of its own, or already on it
 */
export async function connectNetwork(
  store: Store,
  ref: string,
  containerRef: string,
  want: { ip?: string; aliases?: string[] } = {},
): Promise<void> {
  await store.locked(async () => {
    const records = await readRecords(store);
    const record = findContainer(records, containerRef);
    const network = findNetwork(await listNetworks(store), ref);
    const request = record.network ?? { mode: "none" };
    if (request.mode !== "bridge") {
      throw new UsageError(
        `Cannot connect container "${containerRef}" to network ${network.name}: it has --network ${request.mode}, no network of its own`,
      );
    }
    const asked = request.networks ?? [{ name: DEFAULT_NETWORK }];
    if (asked.some((n) => n.name === network.name)) {
      throw new UsageError(`endpoint with name ${record.name} already exists in network ${network.name}`);
    }
    if (want.ip !== undefined && parseAddress(want.ip) === null) {
      throw new UsageError(`Invalid --ip "${want.ip}": use an IPv4 address`);
    }
    const entry = { name: network.name, ...want };
    const changed: ContainerRecord = { ...record, network: { ...request, networks: [...asked, entry] } };
    const pid1 = holdsNetwork(record) ? pid1Of(record) : undefined;
    if (pid1 !== undefined) {
      const others = records.filter((r) => r.id !== record.id);
      const settings = record.networkSettings!;
      const a = allocate(network, others, want, record.id, settings.attachments.length);
      await ensureBridge(network);
      const netns = `/proc/${pid1}/ns/net`;
      await tool(vethArgv(a, network.bridge, netns), `connect the container to network ${network.name}`);
      await tool(
        ["nsenter", `--net=${netns}`, "--", findCommand("ip", PATH), "-batch", "-"],
        "configure its interface",
        `addr add ${a.ip}/${a.prefix} dev ${a.ifname}\nlink set ${a.ifname} up\n`,
      );
      Deno.mkdirSync(membersDir(store, network.name), { recursive: true, mode: 0o700 });
      writeMember(store, record, a);
      await tool(["sh", NETWORK_SCRIPT, "join", store.root, record.id], "write the containers' /etc/hosts");
      changed.networkSettings = { ...settings, attachments: [...settings.attachments, a] };
    }
    await writeAtomic(store.record(record.id), JSON.stringify(changed, null, 2));
  });
}

/**
 * `network disconnect`: takes a container off a network: at once if it
 * runs (its interface removed, its name out of its peers' /etc/hosts),
 * and from its next starts.
 *
 * @throws {UsageError} when it is not on that network
 */
export async function disconnectNetwork(store: Store, ref: string, containerRef: string): Promise<void> {
  await store.locked(async () => {
    const record = findContainer(await readRecords(store), containerRef);
    const network = findNetwork(await listNetworks(store), ref);
    const request = record.network ?? { mode: "none" };
    const asked = request.networks ?? (request.mode === "bridge" ? [{ name: DEFAULT_NETWORK }] : []);
    if (!asked.some((n) => n.name === network.name)) {
      throw new UsageError(`container ${record.name} is not connected to network ${network.name}`);
    }
    const left = asked.filter((n) => n.name !== network.name);
    const changed: ContainerRecord = {
      ...record,
      network: left.length ? { ...request, networks: left } : { mode: "none" },
    };
    const pid1 = holdsNetwork(record) ? pid1Of(record) : undefined;
    const attachment = record.networkSettings?.attachments.find((a) => a.network === network.name);
    if (pid1 !== undefined && attachment) {
      await tool(
        [
          "nsenter",
          `--net=/proc/${pid1}/ns/net`,
          "--",
          findCommand("ip", PATH),
          "link",
          "del",
          attachment.ifname,
        ],
        `disconnect the container from network ${network.name}`,
      );
      const member = `${membersDir(store, network.name)}/${record.id}`;
      if (exists(member)) {
        Deno.removeSync(member);
        await tool(["sh", NETWORK_SCRIPT, "join", store.root, record.id], "write the containers' /etc/hosts");
        // its former peers: rewritten without it
        for (const e of Deno.readDirSync(membersDir(store, network.name))) {
          await tool(["sh", NETWORK_SCRIPT, "join", store.root, e.name], "write the containers' /etc/hosts");
        }
      }
      const settings = record.networkSettings!;
      changed.networkSettings = {
        ...settings,
        attachments: settings.attachments.filter((a) => a !== attachment),
      };
    }
    await writeAtomic(store.record(record.id), JSON.stringify(changed, null, 2));
  });
}
