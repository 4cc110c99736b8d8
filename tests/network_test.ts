/**
 * End-to-end tests of networking as root: the default bridge with
 * outbound NAT, published ports, user networks with names, isolation,
 * cleanup. Each runs skiff inside a sandbox of namespaces (tests/_netns.ts)
 * and checks what it made there; the real host is checked to hold nothing
 * of skiff's before and after.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ROOT_ONLY, waitFor, withStore } from "./helpers.ts";
import { links, type NetSandbox, realHostTraces, tables, withNetSandbox } from "./_netns.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `${name} (root only)`, ...ROOT_ONLY, fn });

/** A store and a sandbox for one test. */
const sandboxed = (fn: (s: NetSandbox, store: string) => Promise<void>) =>
  withStore((store) => withNetSandbox(store, (s) => fn(s, store)));

/**
 * A server in the outside namespace that answers each connection with the
 * client's address as it sees it, then closes.
 */
const ADDRESS_SERVER = `
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
while True:
    c, a = s.accept(); c.sendall((a[0] + "\\n").encode()); c.close()
`;

/** A busybox httpd CGI in the container that answers with the client's address (REMOTE_ADDR). */
async function webRoot(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-www-" });
  Deno.mkdirSync(`${dir}/cgi-bin`);
  Deno.writeTextFileSync(
    `${dir}/cgi-bin/ip`,
    '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"\n',
    {
      mode: 0o755,
    },
  );
  return dir;
}

/** A client in a namespace of the sandbox (python: the host's static busybox wget crashes with -T). */
const FETCH = `
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().strip())
`;

/**
 * Waits until the sandbox's host has no veth left: the kernel removes a
 * container's end with its network namespace, in its own time (cleanup_net
 * runs from a work queue, after the last process is gone).
 */
function vethsGone(s: NetSandbox): Promise<void> {
  return waitFor(async () => !(await links(s)).some((l) => l.startsWith("veth")), "no veth on the host");
}

/**
 * Fetches a URL from a namespace of the sandbox: the client address the
 * container's CGI saw (busybox httpd listens on IPv6, so it reads
 * `[::ffff:a.b.c.d]`), or null when the fetch fails.
 */
async function fetchFrom(s: NetSandbox, where: "host" | "outside", url: string): Promise<string | null> {
  const r = await s.sh(where, `python3 -c '${FETCH}' ${url}`);
  return r.code === 0 ? r.stdout.trim().replace(/^\[::ffff:(.*)\]$/, "$1") : null;
}

/** Whether a TCP port answers, from a namespace of the sandbox. */
async function answers(s: NetSandbox, where: "host" | "outside", ip: string, port: number): Promise<boolean> {
  const py = `import socket; socket.create_connection(("${ip}", ${port}), 5).close()`;
  return (await s.sh(where, `python3 -c '${py}'`)).code === 0;
}

Deno.test({
  name: "the real host holds no link and no table of skiff's before the network tests (root only)",
  ...ROOT_ONLY,
  async fn() {
    assert.deepEqual(await realHostTraces(), []);
  },
});

test("a container on the default bridge has eth0, a default route and resolv.conf, and reaches outside through NAT", async () => {
  await sandboxed(async (s) => {
    s.spawn("outside", ["python3", "-c", ADDRESS_SERVER, s.outsideIp, "7000"]);
    await waitFor(
      () => answers(s, "outside", s.outsideIp, 7000),
      "the server",
    );
    const out = await s.skiffOk([
      "run",
      "--rm",
      "--dns-search",
      "example.test",
      "--add-host",
      "db.example.test:10.9.9.9",
      "busybox",
      "sh",
      "-c",
      `ip -o -4 addr show eth0; ip route show default; cat /etc/resolv.conf /etc/hosts; nc ${s.outsideIp} 7000`,
    ]);
    assert.match(out, /eth0\s+inet 172\.17\.0\.\d+\/16/);
    assert.match(out, /default via 172\.17\.0\.1 dev eth0/);
    assert.match(out, /^search example\.test$/m);
    assert.doesNotMatch(out, /nameserver 127\./, "never the host's loopback resolver");
    assert.match(out, /^10\.9\.9\.9\tdb\.example\.test$/m);
    // the outside sees the host's address: the container's was masqueraded
    assert.equal(out.trim().split("\n").at(-1), s.hostIp);
    assert.ok((await links(s)).includes("skiff0"), "the bridge stays, as docker0 does");
    await vethsGone(s);
  });
});

test("where another tool's FORWARD chain drops by policy, as docker's does, skiff accepts its subnet there and takes only that away", async () => {
  await sandboxed(async (s) => {
    const docker =
      'table ip filter { chain FORWARD { type filter hook forward priority 0; policy drop; iifname "docker0" accept; }; }';
    assert.equal((await s.sh("host", `nft -f - <<'EOF'\n${docker}\nEOF`)).code, 0);
    s.spawn("outside", ["python3", "-c", ADDRESS_SERVER, s.outsideIp, "7000"]);
    await waitFor(() => answers(s, "outside", s.outsideIp, 7000), "the server");
    const out = await s.skiffOk(["run", "--rm", "busybox", "nc", "-w", "5", s.outsideIp, "7000"]);
    assert.equal(out.trim(), s.hostIp, "forwarded through docker's chain, masqueraded");
    const forward = async () => (await s.sh("host", "nft -a list chain ip filter FORWARD")).stdout;
    assert.match(await forward(), /ip saddr 172\.17\.0\.0\/16 accept comment "skiff-net-bridge"/);
    await s.skiffOk(["network", "prune", "-f"]);
    const after = await forward();
    assert.doesNotMatch(after, /skiff/, "skiff's accepts are gone");
    assert.match(after, /policy drop;/);
    assert.match(after, /iifname "docker0" accept/, "docker's own rule stays");
  });
});

test("-p publishes a port on the host's 127.0.0.1, its address and to the outside, which the container sees as itself", async () => {
  const www = await webRoot();
  try {
    await sandboxed(async (s) => {
      const id = (await s.skiffOk([
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "8080:80",
        "-p",
        "127.0.0.1:8081:80",
        "-v",
        `${www}:/www`,
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
      ])).trim();
      const url = (host: string, port = 8080) => `http://${host}:${port}/cgi-bin/ip`;
      await waitFor(
        async () => (await fetchFrom(s, "host", url("127.0.0.1"))) !== null,
        "the published port",
      );
      // from the host's loopback the container sees the bridge's address (masqueraded)
      assert.equal(await fetchFrom(s, "host", url("127.0.0.1")), "172.17.0.1");
      assert.notEqual(await fetchFrom(s, "host", url(s.hostIp)), null);
      // from outside: the client's own address, preserved
      assert.equal(await fetchFrom(s, "outside", url(s.hostIp)), s.outsideIp);
      // from another container, through the host's address (hairpin)
      const hairpin = await s.skiffOk(["run", "--rm", "busybox", "wget", "-q", "-O", "-", url(s.hostIp)]);
      assert.match(hairpin.trim(), /^\[::ffff:172\.17\.0\.\d+\]$/);
      // 127.0.0.1:8081 is the host's own: not on its address, not from outside
      assert.notEqual(await fetchFrom(s, "host", url("127.0.0.1", 8081)), null);
      assert.equal(await fetchFrom(s, "outside", url(s.hostIp, 8081)), null);
      const ruleset = (await s.sh("host", "nft list ruleset")).stdout;
      assert.match(ruleset, /iifname != "lo" ip daddr 127\.0\.0\.1 tcp dport 8081 drop/);

      assert.equal(
        (await s.skiffOk(["port", "web"])).trim(),
        "80/tcp -> 0.0.0.0:8080\n80/tcp -> 127.0.0.1:8081",
      );
      assert.match(await s.skiffOk(["ps"]), /0\.0\.0\.0:8080->80\/tcp, 127\.0\.0\.1:8081->80\/tcp\s+web/);
      const [inspected] = JSON.parse(await s.skiffOk(["inspect", "web"]));
      const settings = inspected.NetworkSettings;
      assert.match(settings.IPAddress, /^172\.17\.0\.\d+$/);
      assert.equal(settings.Gateway, "172.17.0.1");
      assert.match(settings.MacAddress, /^02:42:ac:11:00:[0-9a-f]{2}$/);
      assert.deepEqual(settings.Ports["80/tcp"], [
        { HostIp: "0.0.0.0", HostPort: "8080" },
        { HostIp: "127.0.0.1", HostPort: "8081" },
      ]);
      assert.equal(settings.Networks.bridge.IPAddress, settings.IPAddress);

      // the port is reserved while it runs: a second container gets a clear error, and nothing is made
      const before = await links(s);
      const taken = await s.skiff(["run", "--rm", "-p", "8080:80", "busybox", "true"]);
      assert.equal(taken.code, 125);
      assert.match(taken.stderr, /^skiff: Cannot publish port 80\/tcp: host port 8080 is already in use/);
      assert.equal(taken.stderr.trim().split("\n").length, 1, taken.stderr);
      assert.deepEqual(await links(s), before);
      assert.equal((await s.skiffOk(["ps", "-aq"])).trim().split("\n").length, 1);

      await s.skiffOk(["rm", "-f", id]);
      await vethsGone(s);
      assert.deepEqual((await tables(s)).filter((t) => t.startsWith("skiff-ctr-")), []);
    });
  } finally {
    await Deno.remove(www, { recursive: true });
  }
});

test("on a user network containers find each other by name and alias, later ones too, and not across networks", async () => {
  await sandboxed(async (s, store) => {
    await s.skiffOk(["network", "create", "front"]);
    await s.skiffOk(["network", "create", "--subnet", "10.90.0.0/24", "back"]);
    await s.skiffOk([
      "run",
      "-d",
      "--name",
      "db",
      "--network",
      "back",
      "--network-alias",
      "database",
      "busybox",
      "sleep",
      "600",
    ]);
    await s.skiffOk(["run", "-d", "--name", "cache", "--network", "front", "busybox", "sleep", "600"]);
    const app = await s.skiffOk([
      "run",
      "-d",
      "--name",
      "app",
      "--network",
      "back",
      "--ip",
      "10.90.0.50",
      "busybox",
      "sh",
      "-c",
      "busybox httpd -p 80 -h /; sleep 600",
    ]);
    assert.match(app.trim(), /^[0-9a-f]{64}$/);
    // the one started later finds the first, and the first the later one
    const seen = await s.skiffOk(["exec", "app", "sh", "-c", "getent hosts db database; cat /etc/hosts"]);
    assert.match(seen, /^10\.90\.0\.2\s+db database/m);
    assert.match(await s.skiffOk(["exec", "db", "cat", "/etc/hosts"]), /^10\.90\.0\.50\tapp /m);
    // across networks: neither the name nor the address
    assert.doesNotMatch(await s.skiffOk(["exec", "cache", "cat", "/etc/hosts"]), /\bapp\b|\bdb\b/);
    // (nc -w: the SYN is dropped, so only its own timeout ends the try)
    const across = await s.skiff([
      "exec",
      "cache",
      "sh",
      "-c",
      "echo | nc -w 2 10.90.0.50 80 && echo reached",
    ]);
    assert.doesNotMatch(across.stdout, /reached/, "networks are isolated");
    const within = await s.skiff([
      "exec",
      "db",
      "sh",
      "-c",
      "for i in $(seq 100); do echo | nc -w 5 app 80 && echo reached && break; sleep 0.1; done",
    ]);
    assert.match(within.stdout, /reached/, within.stderr);

    const rm = await s.skiff(["network", "rm", "back"]);
    assert.notEqual(rm.code, 0);
    assert.match(
      rm.stderr,
      /^skiff: error while removing network: network back id [0-9a-f]{64} has active endpoints/,
    );
    // a container that leaves takes its name out of its peers' /etc/hosts
    await s.skiffOk(["rm", "-f", "app"]);
    assert.doesNotMatch(await s.skiffOk(["exec", "db", "cat", "/etc/hosts"]), /\bapp\b/);
    assert.deepEqual([...Deno.readDirSync(`${store}/networks/back.members`)].map((e) => e.name).length, 1);
    await s.skiffOk(["rm", "-f", "db", "cache"]);
    await s.skiffOk(["network", "rm", "back", "front"]);
    assert.deepEqual((await links(s)).filter((l) => /^skiff[1-9]/.test(l)), [], "their bridges went");
    assert.deepEqual(
      (await tables(s)).filter((t) => t.startsWith("skiff-net-") && t !== "skiff-net-bridge"),
      [],
    );
  });
});

test("network connect and disconnect a running container: its interface, address and name come and go", async () => {
  await sandboxed(async (s) => {
    await s.skiffOk(["network", "create", "--subnet", "10.93.0.0/24", "extra"]);
    await s.skiffOk(["run", "-d", "--name", "peer", "--network", "extra", "busybox", "sleep", "600"]);
    await s.skiffOk(["run", "-d", "--name", "c", "busybox", "sleep", "600"]);
    await s.skiffOk(["network", "connect", "--alias", "sidecar", "extra", "c"]);
    assert.match(
      await s.skiffOk(["exec", "c", "ip", "-o", "-4", "addr", "show", "eth1"]),
      /inet 10\.93\.0\.\d+\/24/,
    );
    assert.match(await s.skiffOk(["exec", "peer", "cat", "/etc/hosts"]), /^10\.93\.0\.\d+\tc sidecar /m);
    const [view] = JSON.parse(await s.skiffOk(["inspect", "c"]));
    assert.deepEqual(Object.keys(view.NetworkSettings.Networks).sort(), ["bridge", "extra"]);
    const again = await s.skiff(["network", "connect", "extra", "c"]);
    assert.match(again.stderr, /^skiff: endpoint with name c already exists in network extra/);

    await s.skiffOk(["network", "disconnect", "extra", "c"]);
    assert.notEqual((await s.skiff(["exec", "c", "ip", "link", "show", "eth1"])).code, 0, "eth1 is gone");
    assert.doesNotMatch(await s.skiffOk(["exec", "peer", "cat", "/etc/hosts"]), /\bsidecar\b/);
    const off = await s.skiff(["network", "disconnect", "extra", "c"]);
    assert.match(off.stderr, /^skiff: container c is not connected to network extra/);
    await s.skiffOk(["rm", "-f", "c", "peer"]);
    await vethsGone(s);
  });
});

test("an --internal network has no way out, but its containers reach each other", async () => {
  await sandboxed(async (s) => {
    s.spawn("outside", ["python3", "-c", ADDRESS_SERVER, s.outsideIp, "7001"]);
    await waitFor(
      () => answers(s, "outside", s.outsideIp, 7001),
      "the server",
    );
    await s.skiffOk(["network", "create", "--internal", "sealed"]);
    await s.skiffOk([
      "run",
      "-d",
      "--name",
      "a",
      "--network",
      "sealed",
      "busybox",
      "httpd",
      "-f",
      "-p",
      "80",
    ]);
    const out = await s.skiff([
      "run",
      "--rm",
      "--network",
      "sealed",
      "busybox",
      "sh",
      "-c",
      `ip route; nc -w 2 ${s.outsideIp} 7001`,
    ]);
    assert.doesNotMatch(out.stdout, /default/, "no default route");
    assert.doesNotMatch(out.stdout, new RegExp(s.hostIp.replaceAll(".", "\\.")));
    const peer = await s.skiff([
      "run",
      "--rm",
      "--network",
      "sealed",
      "busybox",
      "sh",
      "-c",
      "for i in $(seq 100); do echo | nc -w 5 a 80 && echo reached && break; sleep 0.1; done",
    ]);
    assert.match(peer.stdout, /reached/, peer.stderr);
  });
});

test("20 concurrent runs get 20 distinct addresses, and give them back", async () => {
  await sandboxed(async (s) => {
    const runs = await Promise.all(
      Array.from({ length: 20 }, () => s.skiff(["run", "-d", "busybox", "sleep", "600"])),
    );
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const ids = runs.map((r) => r.stdout.trim());
    const inspected = JSON.parse(await s.skiffOk(["inspect", ...ids])) as {
      NetworkSettings: { IPAddress: string };
    }[];
    const addresses = new Set(inspected.map((c) => c.NetworkSettings.IPAddress));
    assert.equal(addresses.size, 20, [...addresses].join(" "));
    const ours = new Set(ids.map((id) => `veth${id.slice(0, 9)}0`));
    assert.equal((await links(s)).filter((l) => ours.has(l)).length, 20, "a veth each");
    await s.skiffOk(["rm", "-f", ...ids]);
    await vethsGone(s);
    const next = JSON.parse(
      await s.skiffOk(["inspect", (await s.skiffOk(["run", "-d", "busybox", "sleep", "60"])).trim()]),
    );
    assert.equal(next[0].NetworkSettings.IPAddress, "172.17.0.2", "the first address came back");
  });
});

test("after a SIGKILL of the supervisor, the next command removes the container's rules and names", async () => {
  await sandboxed(async (s, store) => {
    await s.skiffOk(["network", "create", "net1"]);
    await s.skiffOk(["run", "-d", "--name", "peer", "--network", "net1", "busybox", "sleep", "600"]);
    const id = (await s.skiffOk([
      "run",
      "-d",
      "--name",
      "victim",
      "--network",
      "net1",
      "-p",
      "9090:80",
      "busybox",
      "sleep",
      "600",
    ])).trim();
    assert.ok((await tables(s)).includes(`skiff-ctr-${id.slice(0, 12)}`));
    assert.match(await s.skiffOk(["exec", "peer", "cat", "/etc/hosts"]), /\bvictim\b/);
    const record = JSON.parse(Deno.readTextFileSync(`${store}/containers/${id}/config.json`));
    Deno.kill(record.owner.pid, "SIGKILL");
    await waitFor(() => {
      try {
        return !Deno.readTextFileSync(`/proc/${record.pid}/stat`).includes(") S");
      } catch {
        return true;
      }
    }, "the keeper to die with its supervisor");
    assert.match(await s.skiffOk(["ps", "-a"]), /Exited \(137\).*victim/);
    assert.ok(!(await tables(s)).includes(`skiff-ctr-${id.slice(0, 12)}`), "its port rules went");
    assert.doesNotMatch(await s.skiffOk(["exec", "peer", "cat", "/etc/hosts"]), /\bvictim\b/);
    await waitFor(
      async () => !(await links(s)).some((l) => l.startsWith(`veth${id.slice(0, 9)}`)),
      "its veth to go",
    );
    // and its port is free again
    await s.skiffOk(["run", "--rm", "-p", "9090:80", "busybox", "true"]);
  });
});

test("bad network input gets a one-line error and leaves nothing", async () => {
  await sandboxed(async (s) => {
    await s.skiffOk(["network", "create", "--subnet", "10.91.0.0/24", "taken"]);
    const before = { links: await links(s), tables: await tables(s) };
    const cases: [string[], RegExp][] = [
      [["run", "--rm", "--network", "nosuch", "busybox", "true"], /^skiff: network nosuch not found/],
      [
        ["run", "--rm", "-p", "99999:80", "busybox", "true"],
        /^skiff: Invalid -p "99999:80": port 99999 is out of range/,
      ],
      [["run", "--rm", "-p", "abc", "busybox", "true"], /^skiff: Invalid -p "abc"/],
      [
        ["run", "--rm", "--network", "host", "-p", "80", "busybox", "true"],
        /^skiff: Cannot publish ports with --network host/,
      ],
      [
        ["run", "--rm", "--network", "taken", "--ip", "10.92.0.5", "busybox", "true"],
        /^skiff: Invalid --ip "10\.92\.0\.5": it is not in network taken's subnet/,
      ],
      [
        ["network", "create", "--subnet", "10.91.0.0/16", "clash"],
        /^skiff: Invalid subnet "10\.91\.0\.0\/16": it overlaps network "taken"/,
      ],
      [
        ["network", "create", "--subnet", `${s.hostIp}/24`, "clash"],
        /^skiff: Invalid subnet .* overlaps the host's route/,
      ],
      [["network", "create", "taken"], /^skiff: network with name taken already exists/],
    ];
    for (const [args, message] of cases) {
      const r = await s.skiff(args);
      assert.notEqual(r.code, 0, args.join(" "));
      assert.match(r.stderr, message, args.join(" "));
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    assert.deepEqual((await s.skiffOk(["ps", "-aq"])).trim(), "", "no container was left");
    assert.deepEqual({ links: await links(s), tables: await tables(s) }, before);
    assert.deepEqual((await s.skiffOk(["network", "ls", "-q"])).trim().split("\n"), ["bridge", "taken"]);
  });
});

Deno.test({
  name: "the real host holds no link and no table of skiff's after the network tests (root only)",
  ...ROOT_ONLY,
  async fn() {
    assert.deepEqual(await realHostTraces(), []);
  },
});
