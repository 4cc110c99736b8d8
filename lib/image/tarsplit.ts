/**
 * Keeping a layer tar without keeping its bytes twice, as docker's
 * tar-split does: the tar's headers, padding and trailer are saved as a
 * skeleton, and each regular file's data is taken back from the extracted
 * layer when the exact tar is needed again (`save`). Import then writes
 * each byte once, the tree, instead of the tree and a copy of the tar.
 *
 * Only what can be rebuilt exactly is split: ustar, GNU and pax tars of
 * regular files, links, directories, devices and FIFOs, with UTF-8 names,
 * each member named as GNU tar names it when it extracts the tar. A sparse
 * member, a file whose data a later member replaces, a header GNU tar
 * might read another way, or anything unknown makes {@link splitTar}
 * decline, and the caller keeps a copy. Before a split is kept, import
 * checks each of its files is, in the extracted layer, a regular file of
 * its size reached without a symlink ({@link unreadablePayload}); `save`
 * reads them the same way. A rebuilt tar is checked against the layer's
 * digest all the same.
 *
 * @module
 */

import { closeFd, fstatx, openBeneath, openDirPath, S_IFMT, S_IFREG } from "../../ffi/file.ts";
import { SyscallError } from "../../ffi/errors.ts";

const BLOCK = 512;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Where a member's data goes back into the skeleton. */
export interface Payload {
  /** Offset in the skeleton where the data is inserted. */
  at: number;
  /** The file, relative to the extracted layer. */
  path: string;
  size: number;
}

/** A split tar: its size, and the payloads to put back into the skeleton. */
export interface SplitIndex {
  size: number;
  payloads: Payload[];
}

/** A member's header fields that splitting needs. */
interface Header {
  type: string;
  name: string;
  size: number;
}

/** A numeric field as GNU tar reads it: octal digits between spaces and NULs, or base-256. */
function number(block: Uint8Array, start: number, length: number): number | null {
  if (block[start] === 0x80) {
    // GNU base-256, positive: big-endian in the remaining bytes (0xff, negative, is no size)
    let n = 0;
    for (let i = start + 1; i < start + length; i++) n = n * 256 + block[i];
    return n;
  }
  const text = String.fromCharCode(...block.subarray(start, start + length));
  const match = /^ *([0-7]+)[ \0]*$/.exec(text);
  return match ? parseInt(match[1], 8) : null;
}

/** A C string: the bytes up to the first NUL, as UTF-8 (throws a TypeError when not UTF-8). */
function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return utf8.decode(end === -1 ? bytes : bytes.subarray(0, end));
}

/** Parses a header block; null when its checksum or size is not one GNU tar reads the same way. */
export function parseHeader(block: Uint8Array): Header | null {
  const field = (start: number, length: number) => cString(block.subarray(start, start + length));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  if (sum !== parseInt(field(148, 8).trim() || "0", 8)) return null;
  const size = number(block, 124, 12);
  if (size === null) return null;
  // GNU tar takes the prefix field only with the POSIX magic "ustar\0" (list.c, read_header)
  const posix = field(257, 6) === "ustar" && block[262] === 0;
  const prefix = posix ? field(345, 155) : "";
  const name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
  return { type: String.fromCharCode(block[156] || 0x30), name, size };
}

/**
 * The `key=value` records of a pax extended header ("LENGTH key=value\n",
 * LENGTH in bytes).
 *
 * @returns null when the records do not fill the data exactly (GNU tar
 *   fails on such a header: "Malformed extended header")
 */
export function parsePax(data: Uint8Array): Map<string, string> | null {
  const records = new Map<string, string>();
  for (let pos = 0; pos < data.length;) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) return null;
    const digits = utf8.decode(data.subarray(pos, space));
    const length = Number(digits);
    const fits = length > space - pos + 1 && pos + length <= data.length && data[pos + length - 1] === 0x0a;
    if (!/^[0-9]+$/.test(digits) || !fits) {
      return null;
    }
    const record = utf8.decode(data.subarray(space + 1, pos + length - 1));
    const eq = record.indexOf("=");
    if (eq <= 0) return null;
    records.set(record.slice(0, eq), record.slice(eq + 1));
    pos += length;
  }
  return records;
}

/** A member name as a path below the layer: no leading `/`, no `.` parts. */
function normalize(name: string): string {
  return name.split("/").filter((p) => p !== "" && p !== ".").join("/");
}

/** pax keys that would change the name or the data of every later member if in a global header. */
const GLOBAL_DECLINED = /^(path|linkpath|size|GNU\.sparse\..*)$/;

/**
 * What the headers before a member said about it. GNU tar 1.34, measured
 * here (tarsplit_test.ts builds each case): a pax `path` names the member
 * whether it comes before or after a GNU longname; of two longnames, or of
 * two pax headers, the last one counts, and a pax header replaces the
 * previous one whole (its `size` too); both survive a global header in
 * between; a name or pax value ends at its first NUL, as a C string.
 */
interface Pending {
  /** From a GNU longname (`L`). */
  longName?: string;
  /** The records of the last pax extended header (`x`). */
  pax?: Map<string, string>;
}

/**
 * Splits a tar file into its skeleton and payload index.
 *
 * Each member's name and data size are the ones GNU tar gives it (see
 * {@link Pending}); what GNU tar might read differently from its own
 * listing is declined: a global pax header that renames or resizes every
 * later member, a non-regular member with data (GNU tar 1.34 extracts the
 * header after a directory, FIFO or link with a size as a member, and its
 * listing skips it), a data member whose name ends in `/` (a directory to
 * GNU tar), has a `..` part or is empty.
 *
 * @returns null when it cannot be rebuilt exactly (see the module doc)
 */
export function splitTar(file: string): { index: SplitIndex; skeleton: Uint8Array } | null {
  using f = Deno.openSync(file);
  const size = f.statSync().size;
  const chunks: Uint8Array[] = [];
  let skeletonLength = 0;
  const keep = (bytes: Uint8Array) => {
    chunks.push(bytes);
    skeletonLength += bytes.length;
  };
  const readAt = (pos: number, length: number) => {
    const buf = new Uint8Array(length);
    f.seekSync(pos, Deno.SeekMode.Start);
    let got = 0;
    while (got < length) {
      const n = f.readSync(buf.subarray(got));
      if (n === null) return null;
      got += n;
    }
    return buf;
  };
  const payloads: Payload[] = [];
  const withData = new Set<string>();
  let pending: Pending = {};
  let pos = 0;
  try {
    for (;;) {
      const block = readAt(pos, BLOCK);
      if (block === null) return null;
      if (block.every((b) => b === 0)) {
        // GNU tar stops at the first zero block too ("A lone zero block")
        const trailer = readAt(pos, size - pos);
        if (trailer === null) return null;
        keep(trailer);
        break;
      }
      const header = parseHeader(block);
      if (header === null) return null;
      keep(block);
      if ("xgLKV".includes(header.type)) {
        // an extended header's own data is its size
        const padded = Math.ceil(header.size / BLOCK) * BLOCK;
        const data = readAt(pos + BLOCK, padded);
        if (data === null) return null;
        keep(data);
        const own = data.subarray(0, header.size);
        if (header.type === "x" || header.type === "g") {
          const pax = parsePax(own);
          if (pax === null) return null;
          const keys = [...pax.keys()];
          if (keys.some((k) => k.startsWith("GNU.sparse"))) return null;
          if (header.type === "g" && keys.some((k) => GLOBAL_DECLINED.test(k))) return null;
          if (header.type === "x") pending.pax = pax;
        }
        if (header.type === "L") pending.longName = cString(own);
        pos += BLOCK + padded;
        continue;
      }
      const paxSize = pending.pax?.get("size");
      if (paxSize !== undefined && !/^[0-9]+$/.test(paxSize)) return null;
      const length = paxSize !== undefined ? Number(paxSize) : header.size;
      const paxPath = pending.pax?.get("path")?.split("\0")[0];
      const raw = paxPath ?? pending.longName ?? header.name;
      const name = normalize(raw);
      pending = {};
      if (name.split("/").includes("..")) return null; // GNU tar refuses it, or strips up to it
      if (withData.has(name)) return null; // a later member replaces a file's data
      const padded = Math.ceil(length / BLOCK) * BLOCK;
      if ("07".includes(header.type)) {
        if (length > 0 && (name === "" || raw.endsWith("/"))) return null; // not a file to GNU tar
        if (length > 0) {
          payloads.push({ at: skeletonLength, path: name, size: length });
          withData.add(name);
          const padding = readAt(pos + BLOCK + length, padded - length);
          if (padding === null) return null;
          keep(padding);
        }
      } else if (!"123456".includes(header.type) || length > 0) {
        return null; // sparse, multi-volume, unknown, or a non-file with data
      }
      pos += BLOCK + padded;
    }
  } catch (e) {
    if (e instanceof TypeError) return null; // a name that is not UTF-8
    throw e;
  }
  const skeleton = new Uint8Array(skeletonLength);
  let at = 0;
  for (const chunk of chunks) {
    skeleton.set(chunk, at);
    at += chunk.length;
  }
  return { index: { size, payloads }, skeleton };
}

/** Saves a split in `dir` (made here): `index.json` and `skeleton`. */
export function writeSplit(dir: string, split: { index: SplitIndex; skeleton: Uint8Array }): void {
  Deno.mkdirSync(dir, { mode: 0o700 });
  Deno.writeFileSync(`${dir}/skeleton`, split.skeleton);
  Deno.writeTextFileSync(`${dir}/index.json`, JSON.stringify(split.index));
}

/** The size of the tar a split stands for. */
export function splitSize(dir: string): number {
  return (JSON.parse(Deno.readTextFileSync(`${dir}/index.json`)) as SplitIndex).size;
}

/**
 * Opens a payload's file for reading, only as what the split says it is: a
 * regular file of the layer, of its size, reached with no symlink (the
 * last part included) and no `..` out of the layer. The file is looked at
 * through an O_PATH descriptor before anything opens it, so a FIFO cannot
 * block and a device's open has no effect; only then is it opened, through
 * /proc/self/fd.
 *
 * @param root an O_PATH descriptor on the extracted layer
 * @throws {Error} saying what the path is instead
 */
function openPayload(root: number, payload: Payload): Deno.FsFile {
  const fd = payloadPath(root, payload);
  try {
    return Deno.openSync(`/proc/self/fd/${fd}`);
  } finally {
    closeFd(fd);
  }
}

/** The O_PATH descriptor of a payload's file, checked as {@link openPayload} says. */
function payloadPath(root: number, payload: Payload): number {
  let fd: number;
  try {
    fd = openBeneath(root, payload.path);
  } catch (e) {
    const code = e instanceof SyscallError ? e.code : "";
    const why = code === "ELOOP"
      ? "it is reached through a symlink"
      : code === "ENOENT"
      ? "it is gone"
      : (e as Error).message;
    throw new Error(`The layer's file "/${payload.path}" cannot be read back: ${why}`, { cause: e });
  }
  try {
    const { mode, size } = fstatx(fd, payload.path);
    if ((mode & S_IFMT) !== S_IFREG) {
      throw new Error(`The layer's file "/${payload.path}" cannot be read back: it is not a regular file`);
    }
    if (size !== payload.size) {
      throw new Error(`The layer's file "/${payload.path}" changed size: the layer is damaged`);
    }
    return fd;
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}

/**
 * Checks that every payload of a split can be read back from the extracted
 * layer (see {@link openPayload}), as import does before it keeps a split
 * instead of a copy: what GNU tar made of the tar is then what the split
 * expects, whatever the tar's headers tried.
 *
 * @returns null when all can, else why not
 */
export function unreadablePayload(index: SplitIndex, layer: string): string | null {
  const root = openDirPath(layer);
  try {
    for (const payload of index.payloads) {
      try {
        closeFd(payloadPath(root, payload));
      } catch (e) {
        return (e as Error).message;
      }
    }
    return null;
  } finally {
    closeFd(root);
  }
}

/**
 * Rebuilds the exact tar from a split and the extracted layer.
 *
 * @throws {Error} when a file of the layer is no longer the regular file of
 *   its size that it was
 */
export function joinTar(dir: string, layer: string, out: string): void {
  const index = JSON.parse(Deno.readTextFileSync(`${dir}/index.json`)) as SplitIndex;
  const skeleton = Deno.readFileSync(`${dir}/skeleton`);
  using target = Deno.openSync(out, { write: true, create: true, truncate: true });
  const writeAll = (bytes: Uint8Array) => {
    for (let done = 0; done < bytes.length;) done += target.writeSync(bytes.subarray(done));
  };
  const buf = new Uint8Array(1 << 20);
  const root = openDirPath(layer);
  try {
    let from = 0;
    for (const payload of index.payloads) {
      writeAll(skeleton.subarray(from, payload.at));
      from = payload.at;
      using source = openPayload(root, payload);
      for (let left = payload.size; left > 0;) {
        const n = source.readSync(buf.subarray(0, Math.min(buf.length, left)));
        if (n === null) {
          throw new Error(`The layer's file "/${payload.path}" ended early: the layer is damaged`);
        }
        writeAll(buf.subarray(0, n));
        left -= n;
      }
    }
    writeAll(skeleton.subarray(from));
  } finally {
    closeFd(root);
  }
}
