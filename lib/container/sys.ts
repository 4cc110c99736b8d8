/**
 * The real {@link Sys}: mounts through `ffi/`, files through `Deno.*`; and
 * the recipes made of `ffi/` calls that init and exec share: a path opened
 * inside a root, an interface brought up.
 *
 * @module
 */

import { AlreadyExists, classify, NotFound, SyscallError } from "../../ffi/errors.ts";
import {
  addDefaultRoute,
  AF_INET,
  AF_NETLINK,
  AT_FDCWD,
  close,
  createFileAt,
  IFF_UP,
  interfaceFlags,
  interfaceIndex,
  mkdirAt,
  mount,
  mountFlags,
  NETLINK_ROUTE,
  O_CLOEXEC,
  openat2,
  openPath,
  readFd,
  RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS,
  setInterfaceAddress,
  setInterfaceFlags,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_RAW,
  socket,
  writeFd,
} from "../../ffi/libc.ts";
import { mknod, S_IFBLK, S_IFCHR } from "../../ffi/xattr.ts";
import type { EntryKind, Resolved, Sys } from "./rootfs.ts";
import { openInRoot } from "../host/in_root.ts";
import { ackErrno, vethRequest } from "../host/net/netlink.ts";
import type { VethPlan } from "./network.ts";

/** The operations of the running kernel. */
export const realSys: Sys = {
  mount,
  mountFlags,
  lstat(path: string): EntryKind | null {
    try {
      const info = Deno.lstatSync(path);
      if (info.isSymlink) return "symlink";
      if (info.isDirectory) return "dir";
      return info.isFile ? "file" : "other";
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
  },
  mkdir(path: string, mode: number) {
    Deno.mkdirSync(path, { mode });
    // mkdir's mode is filtered by the umask; sticky bits need chmod anyway
    Deno.chmodSync(path, mode);
  },
  touch(path: string) {
    // Through libc: Deno lets only --allow-all write /dev/console, say.
    createFileAt(AT_FDCWD, path, 0o644);
  },
  symlink(target: string, path: string) {
    Deno.symlinkSync(target, path);
  },
  mknod(path: string, major: number, minor: number, block = false, mode = 0o666) {
    mknod(path, (block ? S_IFBLK : S_IFCHR) | mode, makedev(major, minor));
    Deno.chmodSync(path, mode);
  },
  resolveInRoot,
};

/** A device number as glibc's makedev(3) packs it. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major), mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** An rtnetlink socket, in the network namespace of the calling thread, for {@link makeVeth}. */
export function routeSocket(): number {
  return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}

let netlinkSeq = 0;

/**
 * Makes `veth` through the rtnetlink socket `sock`: its host end up on its
 * bridge in the socket's namespace, its other end in the namespace `netnsFd`
 * refers to. One request and its acknowledgement; a refusal is the
 * kernel's errno (EEXIST: the host end's name is taken).
 */
export function makeVeth(sock: number, veth: VethPlan, netnsFd: number): void {
  const master = interfaceIndex(sock, veth.bridge);
  const seq = ++netlinkSeq;
  const request = { hostIf: veth.hostIf, master, peer: veth.ifname, mac: veth.mac, netnsFd };
  writeFd(sock, vethRequest(request, seq));
  const errno = ackErrno(readFd(sock, 4096), seq);
  if (errno !== 0) throw classify(new SyscallError("netlink RTM_NEWLINK", errno, veth.hostIf));
}

/**
 * An interface's IPv4 address and prefix, up, and with `gateway` a default
 * route through it: what `ip addr add`, `ip link set up` and `ip route add
 * default` do, through ioctls on this thread's network namespace (no `ip`
 * to start).
 */
export function configureInterface(name: string, address: string, prefix: number, gateway?: string): void {
  const fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  try {
    setInterfaceAddress(fd, name, ipv4(address), prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
    setInterfaceFlags(fd, name, interfaceFlags(fd, name) | IFF_UP);
    if (gateway !== undefined) addDefaultRoute(fd, ipv4(gateway));
  } finally {
    close(fd);
  }
}

function ipv4(text: string): number {
  return text.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

/** Sets IFF_UP on a network interface (`lo`, in a new network namespace), as `ip link set NAME up` does. */
export function interfaceUp(name: string): void {
  const fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  try {
    setInterfaceFlags(fd, name, interfaceFlags(fd, name) | IFF_UP);
  } finally {
    close(fd);
  }
}

/**
 * `mkdir -p` through mkdirat(2), so a failure is a SyscallError naming
 * the path and keeping errno (ENOTDIR when a part is a file, say).
 */
export function mkdirAll(path: string, mode = 0o755): void {
  const parts = path.split("/").filter((p) => p !== "");
  for (let i = 1; i <= parts.length; i++) {
    try {
      mkdirAt(AT_FDCWD, "/" + parts.slice(0, i).join("/"), mode);
    } catch (e) {
      if (!(e instanceof AlreadyExists)) throw e;
    }
  }
}

/**
 * Walks `path` one part at a time, each resolved by openat2 with
 * RESOLVE_IN_ROOT from the root's descriptor, creating a missing part with
 * mkdirat (or an empty file, for the last part of a file bind) in the
 * parent it resolved to. Nothing is looked up by host path below `root`.
 */
export function resolveInRoot(root: string, path: string, kind: "dir" | "file"): Resolved {
  const parts = path.split("/").filter((p) => p !== "");
  const rootFd = openPath(root);
  try {
    let fd = rootFd;
    for (let i = 0; i < parts.length; i++) {
      const sub = parts.slice(0, i + 1).join("/");
      if (fd !== rootFd) close(fd);
      try {
        fd = openInRoot(rootFd, sub);
      } catch (e) {
        if (!(e instanceof NotFound)) throw e;
        const parent = i === 0 ? rootFd : openInRoot(rootFd, parts.slice(0, i).join("/"));
        try {
          if (i === parts.length - 1 && kind === "file") createFileAt(parent, parts[i], 0o644);
          else mkdirAt(parent, parts[i], 0o755);
        } catch (e) {
          // EEXIST: a dangling symlink (or another creator) is there
          if (!(e instanceof AlreadyExists)) throw e;
        } finally {
          if (parent !== rootFd) close(parent);
        }
        try {
          fd = openInRoot(rootFd, sub);
        } catch (e) {
          if (!(e instanceof NotFound)) throw e;
          throw new Error(`"/${sub}" is a symlink to a path missing in the image`);
        }
      }
    }
    const held = fd === rootFd ? openInRoot(rootFd, ".") : fd;
    return { path: `/proc/self/fd/${held}`, release: () => close(held) };
  } finally {
    close(rootFd);
  }
}

/** What the container's user files may weigh: more is no /etc/passwd. */
const MAX_USER_FILE = 4 << 20;
/** open(2) flags: a FIFO's open must not wait for a writer, nor a terminal become ours. */
const O_RDONLY_NONBLOCK_NOCTTY = 0o4000 | 0o400;

/**
 * A file inside `root` (openat2 with RESOLVE_IN_ROOT, so no symlink or
 * magic link of the image's leads out), as text, through libc (Deno reads
 * /proc/self/fd only with --allow-all); null when it is missing. Opened
 * non-blocking (a FIFO gives nothing) and read to 4 MiB at most.
 */
export function readFileInRoot(root: string, path: string): string | null {
  const rootFd = openPath(root);
  try {
    let fd: number;
    try {
      fd = openat2(
        rootFd,
        path,
        O_CLOEXEC | O_RDONLY_NONBLOCK_NOCTTY,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
      );
    } catch (e) {
      if (e instanceof NotFound) return null;
      throw e;
    }
    try {
      const chunks: Uint8Array[] = [];
      let size = 0;
      for (
        let chunk = readFd(fd, 65536);
        chunk.length > 0 && size < MAX_USER_FILE;
        chunk = readFd(fd, 65536)
      ) {
        chunks.push(chunk);
        size += chunk.length;
      }
      const bytes = new Uint8Array(size);
      chunks.reduce((at, c) => (bytes.set(c, at), at + c.length), 0);
      return new TextDecoder().decode(bytes);
    } finally {
      close(fd);
    }
  } finally {
    close(rootFd);
  }
}
