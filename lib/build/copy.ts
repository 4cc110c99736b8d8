/**
 * COPY and ADD: what a step copies, planned as a list of entries (target
 * path, type, mode, owner, where the bytes come from), hashed for the
 * cache without mtimes, then written into a staging tree that becomes the
 * step's layer. Docker's rules: several sources and globs; a directory's
 * contents, not the directory; a trailing `/` or several sources make the
 * destination a directory; files from the context are owned by 0:0 and
 * files from a stage or an image keep their owners, unless `--chown`;
 * `--chmod` sets the mode of what is copied; the destination's missing
 * parents are made 0755 root, and its existing ones keep what the image
 * has (the layer names them, as overlay's copy-up would).
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { lchown, mknod } from "../../ffi/xattr.ts";
import { sha256File } from "../image/layers.ts";
import { runHelper } from "../host/spawn.ts";
import { sha256Hex } from "../store/store.ts";
import { cleanPath } from "./ignore.ts";
import { type Found, matchSource, resolvePath, type Tree } from "./tree.ts";

/** One thing a COPY writes, at `target` (relative to the image's root). */
export interface Entry {
  target: string;
  kind: "dir" | "file" | "symlink" | "special" | "archive";
  mode: number;
  uid: number;
  gid: number;
  /** Where the bytes (or the special file's type and device) come from; absent for a made directory. */
  source?: Found;
  /** A heredoc's text, for a file with no source. */
  text?: string;
  /** A parent of what is copied: its metadata is the image's, and it is not part of the cache key. */
  parent?: boolean;
}

/** What one COPY or ADD copies. */
export interface CopyRequest {
  /** Where sources are read: the context, a stage, an image. */
  from: Tree;
  /** The image being built (for the destination's parents and --chown names). */
  into: Tree;
  /** Sources as written (expanded): paths, globs, `<<EOF` heredocs, and for ADD URLs fetched already. */
  sources: string[];
  /** The destination, absolute. */
  dest: string;
  /** Heredoc bodies by delimiter. */
  heredocs?: Record<string, string>;
  /** Files fetched by ADD, by their URL: the temporary file and the name to give it. */
  fetched?: Record<string, { file: string; name: string }>;
  chown?: { uid: number; gid: number };
  chmod?: number;
  /** Sources from a stage or an image keep their owners (the context's become 0:0). */
  keepOwner: boolean;
  /** ADD: a local tar archive is unpacked into the destination. */
  unpack: boolean;
}

const S_IFMT = 0o170000;

/**
 * Plans a COPY or ADD.
 *
 * @throws {UsageError} for a source that matches nothing, leaves the context, or several sources into a file
 */
export async function planCopy(req: CopyRequest): Promise<Entry[]> {
  const matches: {
    source: string;
    path?: string;
    heredoc?: string;
    fetched?: { file: string; name: string };
  }[] = [];
  for (const source of req.sources) {
    const heredoc = /^<<-?["']?([A-Za-z_][A-Za-z0-9_.-]*)["']?$/.exec(source)?.[1];
    if (heredoc !== undefined && req.heredocs?.[heredoc] !== undefined) {
      matches.push({ source, heredoc });
      continue;
    }
    if (req.fetched?.[source]) {
      matches.push({ source, fetched: req.fetched[source] });
      continue;
    }
    const paths = matchSource(req.from, source);
    const existing = paths.filter((p) => resolvePath(req.from, p).found !== null);
    if (existing.length === 0) {
      throw new UsageError(`Cannot copy "${source}": no such file or directory in ${req.from.label}`);
    }
    for (const path of existing) matches.push({ source, path });
  }
  const destParts = req.dest.endsWith("/") || req.dest.endsWith("/.");
  const destResolved = resolvePath(req.into, req.dest);
  const destRel = destResolved.rel;
  const intoDir = destParts || matches.length > 1 || destResolved.found?.info.isDirectory === true;
  if (matches.length > 1 && !destParts && !destResolved.found?.info.isDirectory) {
    throw new UsageError(
      `Cannot copy ${matches.length} sources to "${req.dest}": with more than one source the destination must be a directory and end with a /`,
    );
  }
  const entries = new Map<string, Entry>();
  const owner = (info: Deno.FileInfo) =>
    req.chown ?? (req.keepOwner ? { uid: info.uid ?? 0, gid: info.gid ?? 0 } : { uid: 0, gid: 0 });
  const modeOf = (info: Deno.FileInfo) => req.chmod ?? ((info.mode ?? 0o644) & 0o7777);
  const add = (target: string, found: Found) => {
    const { info } = found;
    const kind = info.isDirectory ? "dir" : info.isFile ? "file" : info.isSymlink ? "symlink" : "special";
    entries.set(target, {
      target,
      kind,
      mode: kind === "symlink" ? 0o777 : modeOf(info),
      ...owner(info),
      source: found,
    });
  };
  const walk = (rel: string, target: string): boolean => {
    let any = false;
    for (const name of req.from.list(rel)) {
      const path = rel === "" ? name : `${rel}/${name}`;
      const to = target === "" ? name : `${target}/${name}`;
      const found = req.from.find(path)!;
      const excluded = req.from.excluded(path);
      if (excluded && !(found.info.isDirectory && req.from.hasExceptions)) continue;
      if (found.info.isDirectory) {
        if (!excluded) add(to, found);
        const inside = walk(path, to);
        if (excluded && inside) add(to, found);
        any ||= !excluded || inside;
      } else {
        add(to, found);
        any = true;
      }
    }
    return any;
  };
  for (const m of matches) {
    const base = (name: string) => intoDir ? join(destRel, name) : destRel;
    if (m.heredoc !== undefined) {
      entries.set(base(m.heredoc), {
        target: base(m.heredoc),
        kind: "file",
        mode: req.chmod ?? 0o644,
        ...(req.chown ?? { uid: 0, gid: 0 }),
        text: req.heredocs![m.heredoc],
      });
      continue;
    }
    if (m.fetched) {
      const info = Deno.statSync(m.fetched.file);
      const target = base(m.fetched.name);
      entries.set(target, {
        target,
        kind: "file",
        mode: req.chmod ?? 0o600, // as docker gives a downloaded file
        ...(req.chown ?? { uid: 0, gid: 0 }),
        source: { host: m.fetched.file, info },
      });
      continue;
    }
    const { rel, found } = resolvePath(req.from, m.path!);
    if (found!.info.isDirectory) {
      walk(rel, destRel);
      continue;
    }
    if (req.unpack && found!.info.isFile && await isArchive(found!.host)) {
      entries.set(`${destRel}\0${rel}`, {
        target: destRel,
        kind: "archive",
        mode: 0,
        uid: 0,
        gid: 0,
        source: found!,
      });
      continue;
    }
    const name = m.path!.split("/").pop()!;
    add(base(name), found!);
  }
  // The destination directory and its parents: as the image has them, or made.
  const dirs = new Set<string>();
  for (const e of entries.values()) {
    const parts = e.target.split("/");
    const upTo = e.kind === "archive" ? parts.length : parts.length - 1;
    for (let n = 1; n <= upTo; n++) dirs.add(parts.slice(0, n).join("/"));
  }
  const made = [...dirs].filter((d) => d !== "" && !entries.has(d)).map((d): Entry => {
    const there = req.into.find(d);
    if (there?.info.isDirectory) {
      return {
        target: d,
        kind: "dir",
        mode: (there.info.mode ?? 0o755) & 0o7777,
        uid: there.info.uid ?? 0,
        gid: there.info.gid ?? 0,
        parent: true,
      };
    }
    return { target: d, kind: "dir", mode: 0o755, uid: 0, gid: 0, parent: true };
  });
  return [...made, ...entries.values()].sort((a, b) =>
    a.target < b.target ? -1 : a.target > b.target ? 1 : 0
  );
}

function join(dir: string, name: string): string {
  return cleanPath(dir === "" ? name : `${dir}/${name}`);
}

/** Whether a file starts as a tar, gzip, bzip2 or xz stream does. */
async function isArchive(path: string): Promise<boolean> {
  const file = await Deno.open(path);
  try {
    const head = new Uint8Array(262);
    const n = (await file.read(head)) ?? 0;
    const at = (bytes: number[], offset = 0) => bytes.every((b, i) => head[offset + i] === b);
    return at([0x1f, 0x8b]) || at([0x42, 0x5a, 0x68]) || at([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) ||
      (n >= 262 && at([0x75, 0x73, 0x74, 0x61, 0x72], 257)); // "ustar"
  } finally {
    file.close();
  }
}

/**
 * The digest of what a COPY copies: each entry's path, type, mode, owner,
 * size, link target and content; not mtimes, and not the parents the
 * image already decides.
 */
export async function hashEntries(entries: Entry[]): Promise<string> {
  const lines: string[] = [];
  for (const e of entries) {
    if (e.parent) continue;
    const info = e.source?.info;
    let content = "";
    if (e.text !== undefined) content = await sha256Hex(e.text);
    else if (e.kind === "file" || e.kind === "archive") content = await sha256File(e.source!.host);
    const link = e.kind === "symlink" ? Deno.readLinkSync(e.source!.host) : "";
    const device = e.kind === "special" ? `${(info!.mode ?? 0) & S_IFMT}:${info!.rdev ?? 0}` : "";
    lines.push(
      JSON.stringify([e.target, e.kind, e.mode, e.uid, e.gid, info?.size ?? 0, link, device, content]),
    );
  }
  return await sha256Hex(lines.join("\n"));
}

/**
 * Writes the entries under `root` (an empty directory): files copied,
 * owners and modes set, mtimes kept; directories' metadata set last, since
 * writing into them changes their mtimes.
 *
 * @throws {Error} naming the entry that could not be written
 */
export async function stageEntries(root: string, entries: Entry[]): Promise<void> {
  const dirs: Entry[] = [];
  for (const e of entries) {
    const to = `${root}/${e.target}`;
    try {
      if (e.kind === "dir") {
        Deno.mkdirSync(to, { recursive: true });
        dirs.push(e);
        continue;
      }
      if (e.kind === "archive") {
        Deno.mkdirSync(to, { recursive: true });
        await runHelper(
          "tar",
          ["-x", "-f", e.source!.host, "-C", to, "--numeric-owner", "--same-owner", "--same-permissions"],
          `Cannot unpack "${e.source!.host}"`,
        );
        continue;
      }
      Deno.removeSync(to, { recursive: true });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        throw new Error(`Cannot copy to "/${e.target}"`, { cause: err });
      }
    }
    try {
      const info = e.source?.info;
      if (e.kind === "file") {
        if (e.text !== undefined) Deno.writeTextFileSync(to, e.text);
        else Deno.copyFileSync(e.source!.host, to);
        Deno.chownSync(to, e.uid, e.gid);
        Deno.chmodSync(to, e.mode); // after chown, which clears set-id bits
        if (info?.mtime && info.atime) Deno.utimeSync(to, info.atime, info.mtime);
      } else if (e.kind === "symlink") {
        Deno.symlinkSync(Deno.readLinkSync(e.source!.host), to);
        lchown(to, e.uid, e.gid);
      } else if (e.kind === "special") {
        if (info!.isSocket) continue; // as docker, sockets are not copied
        mknod(to, ((info!.mode ?? 0) & S_IFMT) | e.mode, BigInt(info!.rdev ?? 0));
        Deno.chownSync(to, e.uid, e.gid);
      }
    } catch (err) {
      throw new Error(`Cannot copy to "/${e.target}"`, { cause: err });
    }
  }
  for (const e of dirs.reverse()) {
    const to = `${root}/${e.target}`;
    Deno.chownSync(to, e.uid, e.gid);
    Deno.chmodSync(to, e.mode);
    const info = e.source?.info;
    if (info?.mtime && info.atime) Deno.utimeSync(to, info.atime, info.mtime);
  }
}

/**
 * `--chown=USER[:GROUP]`: numbers, or names looked up in the image's
 * /etc/passwd and /etc/group; a user alone gives its primary group (a
 * number alone, the same number), as docker.
 *
 * @throws {UsageError} for a name the image does not have
 */
export function parseChown(spec: string, image: Tree): { uid: number; gid: number } {
  const [user, group] = spec.split(":", 2);
  const table = (file: string) => {
    const found = resolvePath(image, file).found;
    if (!found?.info.isFile) return [];
    return Deno.readTextFileSync(found.host).split("\n").map((l) => l.split(":"));
  };
  let uid: number;
  let primary: number | undefined;
  if (/^\d+$/.test(user)) uid = Number(user);
  else {
    const row = table("etc/passwd").find((r) => r[0] === user);
    if (!row) throw new UsageError(`Invalid --chown "${spec}": no user "${user}" in the image's /etc/passwd`);
    uid = Number(row[2]);
    primary = Number(row[3]);
  }
  if (group === undefined || group === "") return { uid, gid: primary ?? uid };
  if (/^\d+$/.test(group)) return { uid, gid: Number(group) };
  const row = table("etc/group").find((r) => r[0] === group);
  if (!row) throw new UsageError(`Invalid --chown "${spec}": no group "${group}" in the image's /etc/group`);
  return { uid, gid: Number(row[2]) };
}

/**
 * `--chmod=MODE`, octal.
 *
 * @throws {UsageError} for anything else
 */
export function parseChmod(spec: string): number {
  if (!/^[0-7]{3,4}$/.test(spec)) {
    throw new UsageError(`Invalid --chmod "${spec}": use an octal mode such as 0755`);
  }
  return parseInt(spec, 8);
}
