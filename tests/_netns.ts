/**
 * A sandbox for the network tests, as netavark's own tests make theirs:
 * a network namespace that plays the host (skiff runs in it, so its
 * bridge, veths and nftables rules live there) and an "outside" one beyond
 * it over a veth, the host's default route going through it. The real
 * host's links, routes, sysctls and firewall are never touched: removing
 * the two namespaces removes everything skiff made.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Result, skiffArgv } from "./helpers.ts";

/** The sandbox: names, addresses, and ways to run things in it. */
export interface NetSandbox {
  /** The namespace that plays the host, and the one outside it (by `ip netns` name). */
  host: string;
  outside: string;
  /** The host's address on the outside link, and the outside's. */
  hostIp: string;
  outsideIp: string;
  /** Runs skiff with `store` in the host's namespace (args as they are: no `--network none` added). */
  skiff(args: string[], env?: Record<string, string>): Promise<Result>;
  /** Runs skiff and fails the test unless it exits 0; returns its stdout. */
  skiffOk(args: string[]): Promise<string>;
  /** Runs `sh -c script` in a namespace of the sandbox. */
  sh(where: "host" | "outside", script: string): Promise<Result>;
  /** Starts a long-running command in a namespace; it is killed at the end. */
  spawn(where: "host" | "outside", argv: string[]): Deno.ChildProcess;
}

let serial = 0;

/** Runs a command to completion, decoding its output. */
export async function run(argv: string[], env?: Record<string, string>): Promise<Result> {
  const out = await new Deno.Command(argv[0], { args: argv.slice(1), stdin: "null", env }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

async function must(argv: string[]): Promise<void> {
  const r = await run(argv);
  assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
}

/**
 * Runs `fn` in a fresh sandbox with skiff's store `store`, then removes
 * every container skiff made there (from inside the sandbox) and the two
 * namespaces, even when `fn` fails.
 */
export async function withNetSandbox(store: string, fn: (s: NetSandbox) => Promise<void>): Promise<void> {
  const tag = `${Deno.pid % 10000}-${serial++}`;
  const host = `skt-h-${tag}`;
  const outside = `skt-o-${tag}`;
  const octet = 200 + (serial % 50);
  const hostIp = `10.${octet}.0.2`;
  const outsideIp = `10.${octet}.0.1`;
  const children: Deno.ChildProcess[] = [];
  const inNs = (ns: string, argv: string[]) => ["nsenter", `--net=/run/netns/${ns}`, "--", ...argv];
  const sandbox: NetSandbox = {
    host,
    outside,
    hostIp,
    outsideIp,
    skiff: (args, env) => run(inNs(host, [Deno.execPath(), ...skiffArgv(store, []), ...args]), env),
    async skiffOk(args) {
      const r = await sandbox.skiff(args);
      assert.equal(r.code, 0, `skiff ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
      return r.stdout;
    },
    sh: (where, script) => run(inNs(where === "host" ? host : outside, ["sh", "-c", script])),
    spawn(where, argv) {
      const child = new Deno.Command(inNs(where === "host" ? host : outside, argv)[0], {
        args: inNs(where === "host" ? host : outside, argv).slice(1),
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      children.push(child);
      return child;
    },
  };
  try {
    await must(["ip", "netns", "add", host]);
    await must(["ip", "netns", "add", outside]);
    const [a, b] = [`skt-a${tag}`, `skt-b${tag}`];
    await must(["ip", "link", "add", a, "netns", host, "type", "veth", "peer", "name", b, "netns", outside]);
    await must(["ip", "-n", host, "addr", "add", `${hostIp}/24`, "dev", a]);
    await must(["ip", "-n", outside, "addr", "add", `${outsideIp}/24`, "dev", b]);
    for (const [ns, dev] of [[host, a], [outside, b], [host, "lo"], [outside, "lo"]]) {
      await must(["ip", "-n", ns, "link", "set", dev, "up"]);
    }
    await must(["ip", "-n", host, "route", "add", "default", "via", outsideIp]);
    await fn(sandbox);
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    }
    // Containers first, from inside: their rules and names go with them.
    const ids = (await sandbox.skiff(["ps", "-aq", "--no-trunc"]).catch(() => ({ stdout: "" }))).stdout
      .split("\n").filter((id) => id !== "");
    if (ids.length) await sandbox.skiff(["rm", "-f", ...ids]).catch(() => {});
    await run(["ip", "netns", "del", host]);
    await run(["ip", "netns", "del", outside]);
  }
}

/** The links of a namespace of the sandbox, by name. */
export async function links(s: NetSandbox, where: "host" | "outside" = "host"): Promise<string[]> {
  const r = await s.sh(where, "ip -j link show");
  return (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname);
}

/** The nftables tables of the host's namespace, by name. */
export async function tables(s: NetSandbox): Promise<string[]> {
  const r = await s.sh("host", "nft list tables");
  return r.stdout.split("\n").filter((l) => l.startsWith("table ")).map((l) => l.split(" ").at(-1)!);
}

/** What skiff could have left on the real host: links and tables named skiff. */
export async function realHostTraces(): Promise<string[]> {
  const linksOut = await run(["ip", "-j", "link", "show"]);
  const named = (JSON.parse(linksOut.stdout) as { ifname: string }[]).map((l) => l.ifname)
    .filter((n) => n.startsWith("skiff") || /^veth[0-9a-f]{10}$/.test(n));
  const nft = await run(["nft", "list", "tables"]);
  return [...named, ...nft.stdout.split("\n").filter((l) => l.includes("skiff"))];
}
