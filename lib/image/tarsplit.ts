/**
 * Keeping a layer tar without keeping its bytes twice, as docker's
 * tar-split does: the tar's headers, padding and trailer are saved as a
 * skeleton, and each regular file's data is taken back from the extracted
 * layer when the exact tar is needed again (`save`). Import then writes
 * each byte once, the tree, instead of the tree and a copy of the tar.
 *
 * Only what can be rebuilt exactly is split: ustar, GNU and pax tars of
 * regular files, links, directories, devices and FIFOs, with UTF-8 names.
 * A sparse member, a file whose data a later member replaces, or anything
 * unknown makes {@link splitTar} decline, and the caller keeps a copy. A
 * rebuilt tar is checked against the layer's digest all the same.
 *
 * @module
 */

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

/** Parses a header block; null when its checksum is wrong (not a tar header). */
export function parseHeader(block: Uint8Array): Header | null {
  const field = (start: number, length: number) => {
    const bytes = block.subarray(start, start + length);
    const end = bytes.indexOf(0);
    return utf8.decode(end === -1 ? bytes : bytes.subarray(0, end));
  };
  const octal = (start: number, length: number) => parseInt(field(start, length).trim() || "0", 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  if (sum !== octal(148, 8)) return null;
  let size = 0;
  if (block[124] & 0x80) {
    // GNU base-256: big-endian in the remaining bits
    size = block[124] & 0x7f;
    for (let i = 125; i < 136; i++) size = size * 256 + block[i];
  } else {
    size = octal(124, 12);
  }
  const posix = field(257, 6) === "ustar" && block[262] === 0;
  const prefix = posix ? field(345, 155) : "";
  const name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
  return { type: String.fromCharCode(block[156] || 0x30), name, size };
}

/** The `key=value` records of a pax extended header ("LENGTH key=value\n", LENGTH in bytes). */
export function parsePax(data: Uint8Array): Map<string, string> {
  const records = new Map<string, string>();
  for (let pos = 0; pos < data.length;) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) break;
    const length = Number(utf8.decode(data.subarray(pos, space)));
    if (!(length > 0) || pos + length > data.length) break;
    const record = utf8.decode(data.subarray(space + 1, pos + length - 1));
    const eq = record.indexOf("=");
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    pos += length;
  }
  return records;
}

/** A member name as a path below the layer: no leading `/`, no `.` parts. */
function normalize(name: string): string {
  return name.split("/").filter((p) => p !== "" && p !== ".").join("/");
}

/**
 * Splits a tar file into its skeleton and payload index.
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
  let pending: { name?: string; size?: number } = {};
  let pos = 0;
  try {
    for (;;) {
      const block = readAt(pos, BLOCK);
      if (block === null) return null;
      if (block.every((b) => b === 0)) {
        const trailer = readAt(pos, size - pos);
        if (trailer === null) return null;
        keep(trailer);
        break;
      }
      const header = parseHeader(block);
      if (header === null) return null;
      keep(block);
      const meta = "xgLKV".includes(header.type);
      // an extended header's own data is its size; the member after it may take another
      const length = meta ? header.size : pending.size ?? header.size;
      const padded = Math.ceil(length / BLOCK) * BLOCK;
      const name = normalize(pending.name ?? header.name);
      if (!meta) {
        pending = {};
        if (withData.has(name)) return null; // a later member replaces a file's data
      }
      if (meta) {
        const data = readAt(pos + BLOCK, padded);
        if (data === null) return null;
        keep(data);
        if (header.type === "x") {
          const pax = parsePax(data.subarray(0, length));
          if ([...pax.keys()].some((k) => k.startsWith("GNU.sparse"))) return null;
          if (pax.has("path")) pending.name = pax.get("path");
          if (pax.has("size")) pending.size = Number(pax.get("size"));
        }
        if (header.type === "L") pending.name = utf8.decode(data.subarray(0, length)).replace(/\0+$/, "");
      } else if ("07".includes(header.type) && length > 0) {
        payloads.push({ at: skeletonLength, path: name, size: length });
        withData.add(name);
        const padding = readAt(pos + BLOCK + length, padded - length);
        if (padding === null) return null;
        keep(padding);
      } else if ("0123456".includes(header.type)) {
        if (length > 0) {
          const data = readAt(pos + BLOCK, padded);
          if (data === null) return null;
          keep(data);
        }
      } else {
        return null; // sparse, multi-volume, or unknown
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
 * Rebuilds the exact tar from a split and the extracted layer.
 *
 * @throws {Error} when a file of the layer no longer has its size
 */
export function joinTar(dir: string, layer: string, out: string): void {
  const index = JSON.parse(Deno.readTextFileSync(`${dir}/index.json`)) as SplitIndex;
  const skeleton = Deno.readFileSync(`${dir}/skeleton`);
  using target = Deno.openSync(out, { write: true, create: true, truncate: true });
  const writeAll = (bytes: Uint8Array) => {
    for (let done = 0; done < bytes.length;) done += target.writeSync(bytes.subarray(done));
  };
  const buf = new Uint8Array(1 << 20);
  let from = 0;
  for (const payload of index.payloads) {
    writeAll(skeleton.subarray(from, payload.at));
    from = payload.at;
    using source = Deno.openSync(`${layer}/${payload.path}`);
    if (source.statSync().size !== payload.size) {
      throw new Error(`The layer's file "/${payload.path}" changed size: the layer is damaged`);
    }
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
}
