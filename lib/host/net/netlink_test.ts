import assert from "node:assert/strict";
import { ackErrno, vethRequest } from "./netlink.ts";

const VETH = { hostIf: "skv1234", master: 7, peer: "eth0", mac: "02:42:ac:11:00:02", netnsFd: 21 };

/** The attributes of a run of rtattrs, as [type, payload] pairs. */
function walk(bytes: Uint8Array): [number, Uint8Array][] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: [number, Uint8Array][] = [];
  for (let at = 0; at < bytes.length;) {
    const len = view.getUint16(at, true);
    assert.ok(len >= 4 && at + len <= bytes.length, `attribute at ${at} has length ${len}`);
    out.push([view.getUint16(at + 2, true), bytes.subarray(at + 4, at + len)]);
    at += (len + 3) & ~3;
  }
  return out;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const u32 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);

Deno.test("a veth request is RTM_NEWLINK create|excl|ack, its host end up on the bridge, its peer in the namespace", () => {
  const m = vethRequest(VETH, 9);
  const view = new DataView(m.buffer);
  assert.equal(view.getUint32(0, true), m.length);
  assert.equal(view.getUint16(4, true), 16); // RTM_NEWLINK
  assert.equal(view.getUint16(6, true), 0x1 | 0x4 | 0x200 | 0x400);
  assert.equal(view.getUint32(8, true), 9);
  assert.equal(view.getUint32(16 + 8, true), 1, "IFF_UP");
  assert.equal(view.getUint32(16 + 12, true), 1, "IFF_UP changed");
  const top = new Map(walk(m.subarray(32)));
  assert.equal(text(top.get(3)!), "skv1234\0");
  assert.equal(u32(top.get(10)!), 7, "IFLA_MASTER");
  const info = new Map(walk(top.get(18)!));
  assert.equal(text(info.get(1)!), "veth");
  const [[peerType, peer]] = walk(info.get(2)!);
  assert.equal(peerType, 1, "VETH_INFO_PEER");
  assert.equal(new DataView(peer.buffer, peer.byteOffset).getUint32(8, true), 0, "the peer stays down");
  const peerAttrs = new Map(walk(peer.subarray(16)));
  assert.equal(text(peerAttrs.get(3)!), "eth0\0");
  assert.deepEqual([...peerAttrs.get(1)!], [0x02, 0x42, 0xac, 0x11, 0x00, 0x02]);
  assert.equal(u32(peerAttrs.get(28)!), 21, "IFLA_NET_NS_FD");
});

Deno.test("a veth request refuses names the kernel would and malformed MACs", () => {
  assert.throws(
    () => vethRequest({ ...VETH, hostIf: "a-name-far-too-long" }, 1),
    /not a valid interface name/,
  );
  assert.throws(() => vethRequest({ ...VETH, peer: "" }, 1), /not a valid interface name/);
  assert.throws(() => vethRequest({ ...VETH, mac: "02:42:zz:11:00:02" }, 1), /not a MAC address/);
});

function ack(seq: number, error: number, type = 2): Uint8Array {
  const b = new Uint8Array(36);
  const view = new DataView(b.buffer);
  view.setUint32(0, 36, true);
  view.setUint16(4, type, true);
  view.setUint32(8, seq, true);
  view.setInt32(16, error, true);
  return b;
}

Deno.test("an acknowledgement reads as 0 or the errno, and anything else is refused", () => {
  assert.equal(ackErrno(ack(3, 0), 3), 0);
  assert.equal(ackErrno(ack(3, -17), 3), 17);
  assert.throws(() => ackErrno(ack(4, 0), 3), /acknowledgement of request 4, not 3/);
  assert.throws(() => ackErrno(ack(3, 0, 16), 3), /expected an acknowledgement/);
  assert.throws(() => ackErrno(new Uint8Array(8), 3), /short reply/);
});
