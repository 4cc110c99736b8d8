/**
 * Layers: tar streams in OCI form (image-spec layer.md) on one side,
 * directories overlay can stack on the other.
 *
 * - {@link extractLayer} takes a layer tar file (plain or gzip), keeps it
 *   as a blob named by its diff id (the sha256 of the uncompressed tar),
 *   or split when it is the user's file (lib/tarsplit.ts: headers only, the
 *   data read back from the tree when `save` needs the tar), and extracts
 *   it with GNU tar into `layers/DIFFID/`, turning OCI whiteouts (`.wh.NAME`,
 *   `.wh..wh..opq`) into overlay's (a 0:0 character device, the
 *   trusted.overlay.opaque xattr, or user.overlay.opaque rootless). GNU tar
 *   refuses `..` members, writes through symlinks and hard links out of the
 *   directory, and strips absolute names; any such refusal fails the whole
 *   extraction.
 * - {@link layerFromUpper} does the reverse for a container's upper dir:
 *   overlay whiteouts become `.wh.` entries, opaque directories get
 *   `.wh..wh..opq`, overlay's own xattrs are left out.
 *
 * Either way the work is in a temporary directory renamed into place, so a
 * failed or interrupted layer leaves nothing; the helpers doing it (tar,
 * gzip, openssl, cp, find) die with skiff (lib/host/spawn.ts), so none
 * outlives an interrupted one. A split is kept only when every file it
 * names is, in the extracted tree, a regular file of its size reached
 * without a symlink; else the tar is copied whole.
 *
 * @module
 */

import { lgetxattr, lsetxattr, mknod, S_IFCHR } from "../../ffi/xattr.ts";
import { inUserNamespace, mappedIds } from "../host/proc.ts";
import { helperCommand, helperFailure, runHelper } from "../host/spawn.ts";
import { joinTar, splitSize, splitTar, unreadablePayload, writeSplit } from "./tarsplit.ts";
import { pinLayer } from "../store/gc.ts";
import { exists, sha256Hex, type Store } from "../store/store.ts";

/** A layer as an image lists it. */
export interface Layer {
  /** sha256 of the uncompressed tar, hex. */
  diffId: string;
  /** Bytes of the uncompressed tar. */
  size: number;
}

const WHITEOUT = ".wh.";
/** overlay's whiteout: a character device numbered 0:0 (mode 0, as the kernel makes them). */
const WHITEOUT_DEVICE = 0n;
const OPAQUE = ".wh..wh..opq";
/** Where overlay marks an opaque dir: trusted.*, or user.* in a user namespace (userxattr). */
const OPAQUE_XATTR = "trusted.overlay.opaque";
const OPAQUE_USER_XATTR = "user.overlay.opaque";
const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * Extracts a layer tar file into the store (see the module doc). GNU tar
 * reads the file itself while openssl hashes it and, unless it is ours to
 * move, cp keeps a copy as the blob: three processes in parallel, no byte
 * passing through Deno. (openssl, not sha256sum: it uses the CPU's SHA
 * instructions, 3x faster here.) A gzip file is first gunzipped into the blob.
 *
 * @param file the layer tar, plain or gzip
 * @param label what to call the source in errors, e.g. its file name
 * @param move the file is a temporary of skiff's: rename it into the store
 *   instead of copying (it is gone afterwards either way)
 * @param whiteouts false when the caller knows the tar has no `.wh.`
 *   entries (commit counts them): no search for them then
 * @throws {Error} when it is not a tar, GNU tar refused a member or a
 *   helper failed (its stderr and exit status in the message); nothing is kept
 */
export async function extractLayer(
  store: Store,
  file: string,
  label: string,
  { move = false, whiteouts = true } = {},
): Promise<Layer> {
  await store.init();
  const dir = await Deno.makeTempDir({ dir: store.tmpDir, prefix: store.tempPrefix("layer") });
  const blob = `${dir}.tar`;
  try {
    let source = file;
    let owned = move;
    if (await isGzip(file)) {
      // sh only opens the output: gzip replaces it (exec), keeping the parent-death signal
      const gunzip = ["-c", 'exec gzip -dc -- "$1" > "$2"', "sh", file, blob];
      await runHelper("sh", gunzip, `Cannot import "${label}"`, { name: "gzip" });
      if (move) await Deno.remove(file);
      [source, owned] = [blob, true];
    }
    const tarArgs = ["-x", "-f", source, "-C", dir, "--numeric-owner", ...ownership()];
    const extracting = helperCommand("tar", { args: tarArgs, stdin: "null", stdout: "null", stderr: "piped" })
      .output();
    const hashing = sha256File(source);
    const copy = () => runHelper("cp", ["--reflink=auto", "--", source, blob], `Cannot import "${label}"`);
    // A file that is not ours is kept split (headers only: lib/tarsplit.ts),
    // read while tar extracts and the digest runs, or else copied.
    let split = owned ? null : splitTar(source);
    // All three end before anything is decided: none may still write into
    // `dir` when a failure removes it.
    const [tar, diffId] = settled(
      await Promise.allSettled([extracting, hashing, owned || split ? Promise.resolve() : copy()]),
    );
    if (!tar.success) {
      const said = new TextDecoder().decode(tar.stderr).split("\n").find((l) => l.trim() !== "") ?? "";
      const why = /does not look like a tar archive|Unexpected EOF|Skipping to next header/.test(said)
        ? "it is not a tar archive"
        : helperFailure("tar", tar).replace(/^tar: /, "");
      throw new Error(`Cannot import "${label}": ${why}`);
    }
    if (owned && source !== blob) await Deno.rename(source, blob);
    if (whiteouts) await convertWhiteouts(dir, `Cannot import "${label}"`);
    // What GNU tar made of the tar must be what the split expects; if not
    // (a crafted tar), a copy is kept instead and `save` never reads the tree.
    if (split && unreadablePayload(split.index, dir) !== null) {
      split = null;
      await copy();
    }
    const size = split ? split.index.size : (await Deno.stat(blob)).size;
    if (split) writeSplit(`${dir}.split`, split);
    await store.locked(async () => {
      pinLayer(store, diffId); // until storeImage records an image that names it
      // Another extraction may have made the same layer: identical by definition.
      await renameUnlessExists(dir, store.layer(diffId));
      if (!split) await renameUnlessExists(blob, store.blob(diffId));
      else if (!exists(store.blob(diffId))) await renameUnlessExists(`${dir}.split`, splitOf(store, diffId));
    });
    return { diffId, size };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(`${dir}.split`, { recursive: true }).catch(() => {});
    await Deno.remove(blob).catch(() => {});
    if (move) await Deno.remove(file).catch(() => {});
  }
}

/**
 * tar's options for owners, modes and xattrs. Root keeps them all. In a
 * user namespace trusted.* xattrs are out of reach, and with only the
 * user's own id mapped every file becomes root's (rootless skiff warned).
 */
function ownership(): string[] {
  if (Deno.uid() !== 0) return ["--no-same-owner"];
  const keep = ["--same-permissions", "--xattrs", "--xattrs-include=*"];
  if (!inUserNamespace()) return ["--same-owner", ...keep];
  return [mappedIds() > 1 ? "--same-owner" : "--no-same-owner", ...keep, "--xattrs-exclude=trusted.*"];
}

/** Below this size a file is hashed in-process: openssl's own start-up (about 14 ms here) would dominate. */
const SMALL = 16 << 20;

/**
 * sha256 of a file, as hex: by openssl (with the CPU's SHA instructions,
 * 3x coreutils' sha256sum here) for a large file, in-process for a small one.
 */
export async function sha256File(path: string): Promise<string> {
  if (Deno.statSync(path).size <= SMALL) return await sha256Hex(Deno.readFileSync(path));
  const out = await runHelper("openssl", ["dgst", "-sha256", "-r", path], `Cannot hash "${path}"`, {
    stdout: true,
  });
  const hex = new TextDecoder().decode(out).slice(0, 64);
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`Cannot hash "${path}": openssl dgst printed no digest`);
  return hex;
}

/** Where a layer kept split lives: beside where its blob would be. */
function splitOf(store: Store, diffId: string): string {
  return `${store.blob(diffId)}.split`;
}

/** The size of a layer's tar, whether kept whole or split. */
export function layerTarSize(store: Store, diffId: string): number {
  return exists(store.blob(diffId))
    ? Deno.statSync(store.blob(diffId)).size
    : splitSize(splitOf(store, diffId));
}

/**
 * Puts a layer's exact tar at `dest`: a hard link to its blob, or rebuilt
 * from its split and the extracted layer, and checked against its digest.
 *
 * @throws {Error} when the rebuilt tar is not the layer's (a damaged layer)
 */
export async function placeLayerTar(store: Store, diffId: string, dest: string): Promise<void> {
  if (exists(store.blob(diffId))) return await Deno.link(store.blob(diffId), dest);
  joinTar(splitOf(store, diffId), store.layer(diffId), dest);
  if (await sha256File(dest) !== diffId) {
    throw new Error(`Layer ${diffId.slice(0, 12)} is damaged: its files no longer give its digest`);
  }
}

/** The values of settled promises, or the first one's error. */
function settled<T extends unknown[]>(results: { [K in keyof T]: PromiseSettledResult<T[K]> }): T {
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as T;
}

async function renameUnlessExists(from: string, to: string): Promise<void> {
  try {
    await Deno.lstat(to);
  } catch {
    await Deno.rename(from, to);
  }
}

async function isGzip(file: string): Promise<boolean> {
  using f = await Deno.open(file);
  const head = new Uint8Array(2);
  const n = await f.read(head);
  return n === 2 && GZIP_MAGIC.every((b, i) => head[i] === b);
}

/**
 * Turns OCI whiteout files in an extracted layer into overlay's: `.wh.NAME`
 * becomes a 0:0 character device NAME, `.wh..wh..opq` marks its directory
 * opaque. find(1) lists them, so the cost follows the layer, once.
 */
async function convertWhiteouts(dir: string, context: string): Promise<void> {
  // find's exit status counts: a directory it could not read hides whiteouts
  const args = [dir, "-name", `${WHITEOUT}*`, "-type", "f", "-print0"];
  const found = await runHelper("find", args, context, { stdout: true });
  const paths = new TextDecoder().decode(found).split("\0").filter((p) => p !== "");
  for (const path of paths) {
    const slash = path.lastIndexOf("/");
    const parent = path.slice(0, slash);
    const name = path.slice(slash + 1);
    await Deno.remove(path);
    if (name === OPAQUE) {
      lsetxattr(parent, inUserNamespace() ? OPAQUE_USER_XATTR : OPAQUE_XATTR, "y");
      continue;
    }
    const target = `${parent}/${name.slice(WHITEOUT.length)}`;
    try {
      mknod(target, S_IFCHR, WHITEOUT_DEVICE);
    } catch (e) {
      throw new Error(`Invalid layer: "${target.slice(dir.length)}" is both present and whited out`, {
        cause: e,
      });
    }
  }
}

/** One entry of a container's upper dir, as overlay means it. */
export interface UpperEntry {
  /** Relative to the upper dir, without a leading slash: `etc/passwd`. */
  path: string;
  info: Deno.FileInfo;
  /** A 0:0 character device: the lower layers' entry of that name is deleted. */
  whiteout: boolean;
  /** A directory marked opaque: nothing of the lower layers shows under it. */
  opaque: boolean;
}

/**
 * The entries of an upper dir, in name order, each directory before what
 * is in it, with whiteouts and opaque directories told apart (trusted.*
 * xattr, or user.* as rootless overlay writes it). A whiteout's own
 * entries are none.
 *
 * @param exclude paths relative to `upper` left out with everything under them
 */
export function* walkUpper(upper: string, exclude: string[], rel = ""): Generator<UpperEntry> {
  const skip = new Set(exclude);
  for (const entry of [...Deno.readDirSync(rel === "" ? upper : `${upper}/${rel}`)].sort(byName)) {
    const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
    if (skip.has(path)) continue;
    const info = Deno.lstatSync(`${upper}/${path}`);
    if (info.isCharDevice && info.rdev === 0) {
      yield { path, info, whiteout: true, opaque: false };
      continue;
    }
    const opaque = info.isDirectory && isOpaque(`${upper}/${path}`);
    yield { path, info, whiteout: false, opaque };
    if (info.isDirectory) yield* walkUpper(upper, exclude, path);
  }
}

/** Whether a layer's directory is opaque (trusted.* xattr, or user.* as rootless overlay writes it). */
export function isOpaque(dir: string): boolean {
  return [OPAQUE_XATTR, OPAQUE_USER_XATTR].some((x) => lgetxattr(dir, x) === "y");
}

/**
 * Makes an OCI layer tar stream from a container's upper dir.
 *
 * @param staging an empty directory for the whiteout markers
 * @param out the tar file to write
 * @param exclude paths relative to `upper` (e.g. `proc`, a volume's mount
 *   point) left out with everything under them: skiff's own mount points
 * @returns how many whiteout and opaque markers the tar has
 * @throws {Error} when GNU tar fails
 */
export async function layerFromUpper(
  upper: string,
  staging: string,
  out: string,
  exclude: string[],
): Promise<{ whiteouts: number }> {
  const members: string[] = [];
  const markers: string[] = [];
  for (const entry of walkUpper(upper, exclude)) {
    const slash = entry.path.lastIndexOf("/");
    if (entry.whiteout) {
      const [dir, name] = [entry.path.slice(0, Math.max(slash, 0)), entry.path.slice(slash + 1)];
      markers.push(await marker(staging, dir, `${WHITEOUT}${name}`));
      continue;
    }
    members.push(entry.path);
    if (entry.opaque) markers.push(await marker(staging, entry.path, OPAQUE));
  }
  const lists = { upper: `${staging}.upper.list`, markers: `${staging}.markers.list` };
  await Deno.writeTextFile(lists.upper, members.map((m) => `${m}\0`).join(""));
  await Deno.writeTextFile(lists.markers, markers.map((m) => `${m}\0`).join(""));
  try {
    await runHelper("tar", [
      "-c",
      "-f",
      out,
      "--numeric-owner",
      "--xattrs",
      "--xattrs-include=*",
      "--xattrs-exclude=trusted.overlay.*",
      "--xattrs-exclude=user.overlay.*",
      "--null",
      "--no-recursion",
      "-C",
      upper,
      "-T",
      lists.upper,
      "-C",
      staging,
      "-T",
      lists.markers,
    ], `Cannot make a layer of "${upper}"`);
  } finally {
    await Deno.remove(lists.upper);
    await Deno.remove(lists.markers);
  }
  return { whiteouts: markers.length };
}

function byName(a: Deno.DirEntry, b: Deno.DirEntry): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Creates an empty marker file `staging/dir/name`; returns its relative path. */
async function marker(staging: string, dir: string, name: string): Promise<string> {
  const rel = dir === "" ? name : `${dir}/${name}`;
  await Deno.mkdir(`${staging}/${dir}`, { recursive: true });
  await Deno.writeFile(`${staging}/${rel}`, new Uint8Array(), { mode: 0o644 });
  return rel;
}
