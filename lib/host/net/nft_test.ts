import assert from "node:assert/strict";
import { deleteRules, droppingForwardChains, forwardAccepts, markedRules } from "./nft.ts";

// As `nft -j list chains` prints them (nftables 1.0.6): docker's FORWARD, an
// accepting one, an output chain that drops, skiff's own, a bridge-family one.
const CHAINS = {
  nftables: [
    { metainfo: { version: "1.0.6", json_schema_version: 1 } },
    { chain: { family: "ip", table: "filter", name: "FORWARD", hook: "forward", prio: 0, policy: "drop" } },
    { chain: { family: "inet", table: "fw", name: "fwd", hook: "forward", prio: 0, policy: "accept" } },
    { chain: { family: "inet", table: "fw", name: "out", hook: "output", prio: 0, policy: "drop" } },
    {
      chain: {
        family: "ip",
        table: "skiff-net-x",
        name: "forward",
        hook: "forward",
        prio: 0,
        policy: "drop",
      },
    },
    { chain: { family: "bridge", table: "br", name: "forward", hook: "forward", prio: 0, policy: "drop" } },
    { chain: { family: "inet", table: "fw", name: "user", handle: 9 } },
  ],
};

Deno.test("only other tools' ip and inet forward chains that drop by policy need skiff's accepts", () => {
  assert.deepEqual(droppingForwardChains(CHAINS), [{ family: "ip", table: "filter", name: "FORWARD" }]);
  assert.deepEqual(droppingForwardChains({}), []);
});

Deno.test("the accepts go at the chain's head, both ways, marked with the network's table", () => {
  assert.equal(
    forwardAccepts([{ family: "ip", table: "filter", name: "FORWARD" }], "172.17.0.0/16", "skiff-net-bridge"),
    'insert rule ip filter FORWARD ip daddr 172.17.0.0/16 accept comment "skiff-net-bridge"\n' +
      'insert rule ip filter FORWARD ip saddr 172.17.0.0/16 accept comment "skiff-net-bridge"\n',
  );
});

Deno.test("skiff's accepts are found again by their mark and deleted by handle, no one else's", () => {
  const ruleset = {
    nftables: [
      { rule: { family: "ip", table: "filter", chain: "FORWARD", handle: 3, comment: "skiff-net-bridge" } },
      { rule: { family: "ip", table: "filter", chain: "FORWARD", handle: 2, expr: [] } },
      { rule: { family: "ip", table: "filter", chain: "FORWARD", handle: 4, comment: "skiff-net-other" } },
      { rule: { family: "ip", table: "filter", chain: "FORWARD", handle: 5, comment: "skiff-net-bridge" } },
    ],
  };
  const ours = markedRules(ruleset, "skiff-net-bridge");
  assert.deepEqual(ours.map((r) => r.handle), [3, 5]);
  assert.equal(
    deleteRules(ours),
    "delete rule ip filter FORWARD handle 3\ndelete rule ip filter FORWARD handle 5\n",
  );
});
