/**
 * Tars built header by header, for tests that need what no archiver
 * writes: a GNU longname and a pax path that disagree, a global header that
 * renames every member, a FIFO with data.
 *
 * @module
 */

const BLOCK = 512;
const encoder = new TextEncoder();

/** Header fields a crafted member may set. */
export interface HeaderFields {
  /** The typeflag: "0" file, "2" symlink, "6" FIFO, "x" pax, "L" GNU longname... */
  type?: string;
  size?: number;
  linkname?: string;
  /** "ustar\0" + "00" (POSIX) unless set; GNU's is "ustar  \0". */
  magic?: string;
  mode?: number;
}

/** One 512-byte header block with a correct checksum. */
export function header(name: string, fields: HeaderFields = {}): Uint8Array {
  const { type = "0", size = 0, linkname = "", magic = "ustar\u000000", mode = 0o644 } = fields;
  const h = new Uint8Array(BLOCK);
  const put = (at: number, text: string) => h.set(encoder.encode(text), at);
  const octal = (at: number, width: number, n: number) =>
    put(at, n.toString(8).padStart(width - 1, "0") + "\0");
  put(0, name);
  octal(100, 8, mode);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, 0);
  put(156, type);
  put(157, linkname);
  put(257, magic);
  h.fill(0x20, 148, 156);
  const sum = h.reduce((a, b) => a + b, 0);
  put(148, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/** Data padded to whole blocks. */
function padded(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / BLOCK) * BLOCK);
  out.set(data);
  return out;
}

/** A member with its data (a regular file unless `fields.type` says otherwise). */
export function member(name: string, data: string | Uint8Array = "", fields: HeaderFields = {}): Uint8Array {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return concat(header(name, { size: bytes.length, ...fields }), padded(bytes));
}

/** A pax extended header (`x`, or `g` for a global one) with these records. */
export function pax(records: [string, string][], type = "x"): Uint8Array {
  const data = records.map(([key, value]) => {
    const body = encoder.encode(` ${key}=${value}\n`).length;
    let length = body + String(body).length;
    if (String(length).length !== String(body).length) length++;
    return `${length} ${key}=${value}\n`;
  }).join("");
  return member("././@PaxHeader", data, { type });
}

/** A GNU longname (`L`) or longlink (`K`) header for the next member. */
export function longName(name: string, type = "L"): Uint8Array {
  return member("././@LongLink", `${name}\0`, { type, magic: "ustar  \0" });
}

/** The parts, then the two zero blocks that end a tar. */
export function tar(...parts: Uint8Array[]): Uint8Array {
  return concat(...parts, new Uint8Array(2 * BLOCK));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
