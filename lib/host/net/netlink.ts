/**
 * rtnetlink messages, built and read as bytes (no socket here): the one
 * request init sends to make a container's veth, as `ip link add HOST up
 * master BRIDGE type veth peer name IF address MAC netns FD` would, with no
 * `ip` process on the path of `run`. Layouts from linux/netlink.h,
 * linux/rtnetlink.h, linux/if_link.h and linux/veth.h; integers in the
 * host's order (little-endian on the machines skiff runs on).
 *
 * @module
 */

const NLMSG_HDRLEN = 16;
const IFINFOMSG_LEN = 16;
const RTATTR_HDRLEN = 4;
/** nlmsghdr.nlmsg_type */
const RTM_NEWLINK = 16;
const NLMSG_ERROR = 2;
/** nlmsghdr.nlmsg_flags */
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
/** IFLA_* attributes of a link */
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MASTER = 10;
const IFLA_LINKINFO = 18;
const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;
const IFF_UP = 0x1;
/** Longest interface name, without its NUL (IFNAMSIZ - 1). */
const IFNAME_MAX = 15;

/** A veth pair as init makes it: one end on the host's bridge, the other in the container's namespace. */
export interface VethRequest {
  /** The host end's name (up, on the bridge). */
  hostIf: string;
  /** The bridge's interface index, in the namespace of the socket that sends the request. */
  master: number;
  /** The container end's name (eth0, …), made directly in `netnsFd`'s namespace. */
  peer: string;
  /** The container end's MAC, `aa:bb:…`. */
  mac: string;
  /** A descriptor of the container's network namespace, in the sender's process. */
  netnsFd: number;
}

/** An attribute: its type and payload, or nested attributes. */
type Attr = [type: number, payload: Uint8Array | Attr[]];

const encoder = new TextEncoder();

/** An RTM_NEWLINK request (create, exclusive, acked) with sequence number `seq`. */
export function vethRequest(veth: VethRequest, seq: number): Uint8Array<ArrayBuffer> {
  for (const name of [veth.hostIf, veth.peer]) {
    if (name.length === 0 || name.length > IFNAME_MAX || /[/\s:]/.test(name)) {
      throw new Error(`"${name}" is not a valid interface name`);
    }
  }
  const peer = concat(
    ifinfomsg(0),
    attrs([[IFLA_IFNAME, cstring(veth.peer)], [IFLA_ADDRESS, macBytes(veth.mac)], [
      IFLA_NET_NS_FD,
      u32(veth.netnsFd),
    ]]),
  );
  const body = concat(
    ifinfomsg(IFF_UP),
    attrs([
      [IFLA_IFNAME, cstring(veth.hostIf)],
      [IFLA_MASTER, u32(veth.master)],
      [IFLA_LINKINFO, [[IFLA_INFO_KIND, encoder.encode("veth")], [IFLA_INFO_DATA, [[VETH_INFO_PEER, peer]]]]],
    ]),
  );
  const message = new Uint8Array(NLMSG_HDRLEN + body.length);
  const view = new DataView(message.buffer);
  view.setUint32(0, message.length, true);
  view.setUint16(4, RTM_NEWLINK, true);
  view.setUint16(6, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, true);
  view.setUint32(8, seq, true);
  message.set(body, NLMSG_HDRLEN);
  return message;
}

/**
 * The kernel's answer to request `seq`: 0 for success, or the errno it
 * refused with (a positive number). Throws on anything that is not an
 * acknowledgement of `seq`.
 */
export function ackErrno(reply: Uint8Array, seq: number): number {
  const view = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
  if (reply.length < NLMSG_HDRLEN + 4 || view.getUint32(0, true) > reply.length) {
    throw new Error(`netlink: a short reply (${reply.length} bytes)`);
  }
  if (view.getUint16(4, true) !== NLMSG_ERROR) {
    throw new Error(`netlink: expected an acknowledgement, got message type ${view.getUint16(4, true)}`);
  }
  if (view.getUint32(8, true) !== seq) {
    throw new Error(`netlink: an acknowledgement of request ${view.getUint32(8, true)}, not ${seq}`);
  }
  const error = view.getInt32(NLMSG_HDRLEN, true); // 0, or minus the errno
  return error === 0 ? 0 : -error;
}

function ifinfomsg(flags: number): Uint8Array {
  // { u8 family (AF_UNSPEC), u8 pad, u16 type, i32 index, u32 flags, u32 change }
  const m = new Uint8Array(IFINFOMSG_LEN);
  const view = new DataView(m.buffer);
  view.setUint32(8, flags, true);
  view.setUint32(12, flags, true);
  return m;
}

function attrs(list: Attr[]): Uint8Array {
  return concat(...list.map(([type, payload]) => {
    const data = payload instanceof Uint8Array ? payload : attrs(payload);
    const out = new Uint8Array(align(RTATTR_HDRLEN + data.length));
    const view = new DataView(out.buffer);
    view.setUint16(0, RTATTR_HDRLEN + data.length, true);
    view.setUint16(2, type, true);
    out.set(data, RTATTR_HDRLEN);
    return out;
  }));
}

const align = (n: number) => (n + 3) & ~3;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const cstring = (s: string) => encoder.encode(s + "\0");

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

function macBytes(mac: string): Uint8Array {
  const parts = mac.split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-f]{2}$/i.test(p))) {
    throw new Error(`"${mac}" is not a MAC address`);
  }
  return new Uint8Array(parts.map((p) => parseInt(p, 16)));
}
