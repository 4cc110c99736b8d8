/**
 * Copying a tree between two roots without ever leaving either: what `cp`
 * is made of. A tree is read by {@link walk} from a descriptor, each entry
 * opened by one part relative to its directory's descriptor with no
 * symlink followed; it is written by {@link extract} below a directory
 * resolved inside the destination's root (openat2 RESOLVE_IN_ROOT), each
 * entry made by one part relative to its parent's descriptor, O_EXCL and
 * O_NOFOLLOW, so a symlink a container puts in the way, before or during
 * the copy, resolves inside the container or makes the copy fail, and
 * never reaches the host. Or it is written as a tar ({@link tarStream}).
 *
 * The operations are a {@link TreeFs}, so tests can swap a directory for a
 * symlink between two of them.
 *
 * @module
 */

import {
  chownAt,
  closeAt,
  fsType,
  mkdirAt,
  mknodAt,
  O_CREAT,
  O_EXCL,
  O_NOFOLLOW,
  O_WRONLY,
  openAt,
  readLinkFd,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  setTimesAt,
  type Stat,
  statFd,
  symlinkAt,
  unlinkAt,
} from "../../ffi/at.ts";
import { NotFound } from "../../ffi/errors.ts";
import { O_CLOEXEC } from "../../ffi/libc.ts";
import { openEntry, openInRoot, openInRootNoFollow } from "../host/in_root.ts";

/** The file operations a copy makes: the kernel's in {@link realTreeFs}. */
export interface TreeFs {
  /** An O_PATH descriptor on `path` resolved inside `rootFd`; the last part's symlink followed or not. */
  open(rootFd: number, path: string, follow: boolean): number;
  /** An O_PATH descriptor on the entry `name` of `dirFd`, no symlink followed (a symlink is opened itself). */
  entry(dirFd: number, name: string): number;
  stat(fd: number): Stat;
  /** The filesystem's type (statfs f_type). */
  fsType(fd: number): number;
  readLink(fd: number): Uint8Array;
  /** The names in a directory. */
  list(dirFd: number): string[];
  mkdir(dirFd: number, name: string, mode: number): void;
  /** Removes a non-directory. */
  unlink(dirFd: number, name: string): void;
  symlink(target: Uint8Array, dirFd: number, name: string): void;
  mknod(dirFd: number, name: string, mode: number, rdev: Stat["rdev"]): void;
  /** Makes a regular file that was not there, and returns a descriptor open for writing. */
  create(dirFd: number, name: string): number;
  chown(dirFd: number, name: string, uid: number, gid: number): void;
  /** chmod of the entry `name` of `dirFd`; a symlink is left alone. */
  chmod(dirFd: number, name: string, mode: number): void;
  setTimes(dirFd: number, name: string, mtime: Stat["mtime"]): void;
  /** The file a descriptor names, opened for reading or writing (through /proc/self/fd: the same inode). */
  file(fd: number, mode: "read" | "write"): Promise<Deno.FsFile>;
  close(fd: number): void;
}

/** The path of a descriptor's own file, followed by the kernel as a magic link to that inode. */
const fdPath = (fd: number) => `/proc/self/fd/${fd}`;

/** The operations of the running kernel. */
export const realTreeFs: TreeFs = {
  open: (rootFd, path, follow) => (follow ? openInRoot : openInRootNoFollow)(rootFd, path),
  entry: openEntry,
  stat: (fd) => statFd(fd),
  fsType: (fd) => fsType(fd),
  readLink: (fd) => readLinkFd(fd),
  list: (dirFd) => [...Deno.readDirSync(fdPath(dirFd))].map((e) => e.name),
  mkdir: mkdirAt,
  unlink: unlinkAt,
  symlink: symlinkAt,
  mknod: (dirFd, name, mode, rdev) => mknodAt(dirFd, name, mode, rdev.major, rdev.minor),
  create: (dirFd, name) => openAt(dirFd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600),
  chown: chownAt,
  chmod(dirFd, name, mode) {
    const fd = openEntry(dirFd, name);
    try {
      if ((statFd(fd).mode & S_IFMT) !== S_IFLNK) {
        // fchmod refuses an O_PATH descriptor; its magic link is the same inode
        Deno.chmodSync(fdPath(fd), mode);
      }
    } finally {
      closeAt(fd);
    }
  },
  setTimes: setTimesAt,
  file: (fd, mode) => Deno.open(fdPath(fd), mode === "read" ? { read: true } : { write: true }),
  close: closeAt,
};

/** What an entry is, by its mode. */
export type Kind = "dir" | "file" | "symlink" | "fifo" | "char" | "block" | "socket";

export function kindOf(mode: number): Kind {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return "dir";
    case S_IFREG:
      return "file";
    case S_IFLNK:
      return "symlink";
    case S_IFIFO:
      return "fifo";
    case S_IFCHR:
      return "char";
    case S_IFBLK:
      return "block";
    default:
      return "socket";
  }
}

/** One entry of a tree being copied. */
export interface Entry {
  /** Relative to the copy's top: `name`, `name/sub`...; `.` and `./sub` when the top is merged into the destination. */
  path: string;
  kind: Kind;
  stat: Stat;
  /** A symlink's target. */
  link?: Uint8Array;
  /** An O_PATH descriptor on it, open while the entry is being consumed. */
  fd: number;
}

/** procfs, sysfs, devpts, cgroup v1 and v2, whose contents a copy leaves out (docker copies none of them). */
const KERNEL_FS = new Set([0x9fa0, 0x62656572, 0x1cd1, 0x27e0eb, 0x63677270]);

/**
 * The tree at `fd` (the caller's descriptor, left open), named `top`, and
 * everything below it, parents first, names sorted. A directory on a
 * kernel filesystem (a running container's /proc, /sys) is listed without
 * its contents.
 */
export async function* walk(fs: TreeFs, fd: number, top: string): AsyncGenerator<Entry> {
  const stat = fs.stat(fd);
  const kind = kindOf(stat.mode);
  yield { path: top, kind, stat, fd, link: kind === "symlink" ? fs.readLink(fd) : undefined };
  if (kind !== "dir" || KERNEL_FS.has(fs.fsType(fd))) return;
  for (const name of fs.list(fd).sort()) {
    let child: number;
    try {
      child = fs.entry(fd, name);
    } catch (e) {
      if (e instanceof NotFound) continue; // removed meanwhile
      throw e;
    }
    try {
      yield* walk(fs, child, top === "." ? `./${name}` : `${top}/${name}`);
    } finally {
      fs.close(child);
    }
  }
}

/** Who owns what {@link extract} makes: the source's owners, these ids, or whoever copies. */
export type Owners = "keep" | { uid: number; gid: number } | "caller";

/** What {@link extract} makes, and how. */
export interface ExtractOptions {
  owners: Owners;
  /** Make device nodes (in a container, whose root is nodev); else they are left out. */
  devices: boolean;
  /** What the destination is called in messages (`ctr:/dir`). */
  label: (path: string) => string;
}

const join = (dir: string, rel: string) => (rel === "" ? dir : dir === "/" ? `/${rel}` : `${dir}/${rel}`);

/**
 * Writes `entries` (with their files' data) below `destDir` of the tree at `rootFd`: each entry's
 * parent is resolved inside that root (a symlink in it followed there,
 * never outside), and the entry made by its one name in that parent,
 * without following a symlink. As docker's cp does, a directory never
 * replaces a non-directory nor the reverse; a file replaces a file.
 * Hard links are copied as separate files.
 *
 * @throws {Error} `cannot overwrite directory "X" with non-directory "Y"`, and
 *   the failed call otherwise; what was made until then stays
 */
export async function extract(
  fs: TreeFs,
  rootFd: number,
  destDir: string,
  entries: AsyncIterable<Entry>,
  opts: ExtractOptions,
): Promise<void> {
  // directories' times are set last: what is made in them changes their mtime
  const dirTimes: [string, Stat["mtime"]][] = [];
  for await (const e of entries) {
    const rel = e.path.split("/").filter((p) => p !== "" && p !== ".").join("/");
    if (rel === "") continue; // the destination itself, merged into
    const full = join(destDir, rel);
    const slash = full.lastIndexOf("/");
    const parentPath = full.slice(0, slash) || "/";
    const name = full.slice(slash + 1);
    const parent = fs.open(rootFd, parentPath, true);
    try {
      if (!(await make(fs, parent, name, e, opts, full))) continue;
      const { owners } = opts;
      if (owners !== "caller") {
        const { uid, gid } = owners === "keep" ? e.stat : owners;
        fs.chown(parent, name, uid, gid);
      }
      // after chown, which clears set-user-ID bits
      if (e.kind !== "symlink") fs.chmod(parent, name, e.stat.mode & 0o7777);
      if (e.kind === "dir") dirTimes.push([full, e.stat.mtime]);
      else fs.setTimes(parent, name, e.stat.mtime);
    } finally {
      fs.close(parent);
    }
  }
  for (const [full, mtime] of dirTimes.reverse()) {
    const slash = full.lastIndexOf("/");
    const parent = fs.open(rootFd, full.slice(0, slash) || "/", true);
    try {
      fs.setTimes(parent, full.slice(slash + 1), mtime);
    } finally {
      fs.close(parent);
    }
  }
}

/** What the descriptor `open` returns names (closed after); null when `open` finds nothing. */
export function kindThere(fs: TreeFs, open: () => number): Kind | null {
  let fd: number;
  try {
    fd = open();
  } catch (e) {
    if (e instanceof NotFound) return null;
    throw e;
  }
  try {
    return kindOf(fs.stat(fd).mode);
  } finally {
    fs.close(fd);
  }
}

/** Makes one entry, a file with its data; false when it is left out (a device outside a container). */
async function make(
  fs: TreeFs,
  parent: number,
  name: string,
  e: Entry,
  opts: ExtractOptions,
  full: string,
): Promise<boolean> {
  if (e.kind === "socket" || ((e.kind === "char" || e.kind === "block") && !opts.devices)) return false;
  const there = kindThere(fs, () => fs.entry(parent, name));
  if (there === "dir" && e.kind === "dir") return true;
  if (there === "dir") {
    throw new Error(`cannot overwrite directory "${opts.label(full)}" with non-directory "${e.path}"`);
  }
  if (there !== null && e.kind === "dir") {
    throw new Error(`cannot overwrite non-directory "${opts.label(full)}" with directory "${e.path}"`);
  }
  if (there !== null) fs.unlink(parent, name);
  switch (e.kind) {
    case "dir":
      fs.mkdir(parent, name, 0o700);
      return true;
    case "symlink":
      fs.symlink(e.link!, parent, name);
      return true;
    case "file":
      await writeData(fs, e.fd, fs.create(parent, name));
      return true;
    default:
      fs.mknod(parent, name, e.stat.mode, e.stat.rdev);
      return true;
  }
}

async function writeData(fs: TreeFs, from: number, to: number): Promise<void> {
  try {
    const [src, dst] = [await fs.file(from, "read"), await fs.file(to, "write")];
    try {
      await src.readable.pipeTo(dst.writable);
    } finally {
      try {
        src.close();
      } catch { /* closed by pipeTo */ }
      try {
        dst.close();
      } catch { /* closed by pipeTo */ }
    }
  } finally {
    fs.close(to);
  }
}

const BLOCK = 512;
const encoder = new TextEncoder();
/** ustar's typeflags. */
const TYPEFLAG: Record<Kind, string> = {
  file: "0",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
  socket: "",
};

/** A ustar header; fields too long for it go in the pax header written before it. */
function header(
  name: string,
  e: Entry,
  size: number,
  typeflag = TYPEFLAG[e.kind],
  link = e.link,
): Uint8Array {
  const h = new Uint8Array(BLOCK);
  const put = (at: number, width: number, bytes: Uint8Array) => h.set(bytes.subarray(0, width), at);
  const octal = (at: number, width: number, n: number) =>
    put(at, width, encoder.encode(Math.max(0, n).toString(8).padStart(width - 1, "0").slice(-(width - 1))));
  put(0, 100, encoder.encode(name));
  octal(100, 8, e.stat.mode & 0o7777);
  octal(108, 8, e.stat.uid);
  octal(116, 8, e.stat.gid);
  octal(124, 12, size);
  octal(136, 12, e.stat.mtime.sec);
  put(156, 1, encoder.encode(typeflag));
  if (link) put(157, 100, link);
  put(257, 8, encoder.encode("ustar\u000000"));
  octal(329, 8, e.stat.rdev.major);
  octal(337, 8, e.stat.rdev.minor);
  h.fill(0x20, 148, 156);
  const sum = h.reduce((a, b) => a + b, 0);
  put(148, 8, encoder.encode(sum.toString(8).padStart(6, "0") + "\0 "));
  return h;
}

/** A pax record: `LENGTH key=value\n`, LENGTH counting itself. */
function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const body = new Uint8Array([...encoder.encode(` ${key}=`), ...value, 0x0a]);
  let length = body.length + 1;
  while (String(length).length + body.length > length) length++;
  return new Uint8Array([...encoder.encode(String(length)), ...body]);
}

const padding = (size: number) => new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);

/**
 * The headers of one entry: a pax header first when its name, link or a
 * number does not fit ustar's fields (as GNU tar's --format=pax does).
 */
function headers(e: Entry, size: number): Uint8Array[] {
  const name = e.kind === "dir" && !e.path.endsWith("/") ? `${e.path}/` : e.path;
  const nameBytes = encoder.encode(name);
  const records: Uint8Array[] = [];
  if (nameBytes.length > 100) records.push(paxRecord("path", nameBytes));
  if (e.link && e.link.length > 100) records.push(paxRecord("linkpath", e.link));
  const big = (n: number, width: number) => n >= 8 ** (width - 1);
  if (big(size, 12)) records.push(paxRecord("size", encoder.encode(String(size))));
  if (big(e.stat.uid, 8)) records.push(paxRecord("uid", encoder.encode(String(e.stat.uid))));
  if (big(e.stat.gid, 8)) records.push(paxRecord("gid", encoder.encode(String(e.stat.gid))));
  const main = header(name, e, size);
  if (records.length === 0) return [main];
  const data = new Uint8Array(records.reduce((n, r) => n + r.length, 0));
  records.reduce((at, r) => (data.set(r, at), at + r.length), 0);
  const paxName = `PaxHeaders/${name.replace(/\/$/, "").split("/").pop()}`.slice(0, 99);
  return [header(paxName, e, data.length, "x", undefined), data, padding(data.length), main];
}

/**
 * `entries` as a tar (ustar, with pax headers where needed), what `cp ... -`
 * writes: a regular file's data is the size its entry was stat'ed with,
 * cut or padded with zeros if it changed meanwhile, as the header said.
 */
export async function writeTar(fs: TreeFs, entries: AsyncIterable<Entry>, out: WritableStream<Uint8Array>) {
  const writer = out.getWriter();
  try {
    for await (const e of entries) {
      if (e.kind === "socket") continue;
      const size = e.kind === "file" ? e.stat.size : 0;
      for (const block of headers(e, size)) await writer.write(block);
      if (e.kind !== "file") continue;
      const file = await fs.file(e.fd, "read");
      let left = size;
      try {
        for await (const chunk of file.readable) {
          const part = chunk.subarray(0, left);
          left -= part.length;
          if (part.length > 0) await writer.write(part);
          if (left === 0) break;
        }
      } finally {
        try {
          file.close();
        } catch { /* closed at the stream's end */ }
      }
      if (left > 0) await writer.write(new Uint8Array(left));
      await writer.write(padding(size));
    }
    await writer.write(new Uint8Array(2 * BLOCK));
  } finally {
    writer.releaseLock();
  }
}
