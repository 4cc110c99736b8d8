/**
 * `cp`: files between a container and the host, or a tar stream, with
 * docker's rules for what goes where (trailing `/`, `/.`, directories),
 * and every path in the container resolved inside its root: a symlink the
 * container holds, to `/etc` or `../../..`, leads to the container's own
 * `/etc` or `/`, never the host's (the class of CVE-2018-15664 and
 * CVE-2019-14271). The copying itself is lib/container/cp_tree.ts.
 *
 * The container's root is a running container's own (its PID 1's
 * `/proc/PID/root`, volumes and all), or a stopped one's overlay (its
 * upper dir over its image's layers, without volumes) mounted in a mount
 * namespace of a helper's that dies with skiff.
 *
 * @module
 */

import { findContainer, listContainers } from "./containers.ts";
import { pid1Of } from "./lifecycle.ts";
import {
  type Entry,
  extract,
  kindOf,
  kindThere,
  realTreeFs,
  type TreeFs,
  walk,
  writeTar,
} from "./cp_tree.ts";
import { NotFound } from "../../ffi/errors.ts";
import { close, openPath } from "../../ffi/libc.ts";
import { NotFoundError, UsageError } from "../errors.ts";
import { type ImageConfig, layerDirs } from "../image/images.ts";
import { helperArgv, helperFailure } from "../host/spawn.ts";
import { inUserNamespace } from "../host/proc.ts";
import { readJson, type Store } from "../store/store.ts";
import { inPrivateMounts } from "./export.ts";

/** One of cp's arguments, split as docker splits it. */
export type CpArg = { container: string; path: string } | { host: string } | { stream: true };

/**
 * docker's splitCpArg: `-` is a tar stream; an absolute path, a path
 * starting with `.`, or one without `:` is the host's; else
 * `CONTAINER:PATH`.
 */
export function parseCpArg(arg: string): CpArg {
  if (arg === "-") return { stream: true };
  const colon = arg.indexOf(":");
  if (arg.startsWith("/") || arg.startsWith(".") || colon <= 0) return { host: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

/** cp's options. */
export interface CpOptions {
  /** `-a`: the source's owners, not root's in a container nor the caller's on the host. */
  archive?: boolean;
  /** `-L`: a symlink source is followed. */
  followLink?: boolean;
  /** The file operations (a test's fake). */
  fs?: TreeFs;
  /** Where `-` reads and writes (the process's stdin and stdout unless given). */
  stdout?: WritableStream<Uint8Array>;
}

/** `/a/./b/../c/` as docker's filepath.Clean has it: `/a/c`; always absolute. */
export function cleanPath(path: string): string {
  const parts: string[] = [];
  for (const p of path.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return `/${parts.join("/")}`;
}

const split = (path: string): [string, string] => {
  const slash = path.lastIndexOf("/");
  return [path.slice(0, slash) || "/", path.slice(slash + 1)];
};
/** docker's "copy the contents": a path ending in `/.` (or `.`). */
const contentsOf = (path: string) => path === "." || path.endsWith("/.");

/** One side of a copy: a root, a path in it, and how to name it to the user. */
interface Side {
  rootFd: number;
  /** Absolute in the root, as given (a trailing `/` or `/.` kept). */
  path: string;
  /** Whether the root is a container's. */
  container: boolean;
  label: string;
  /** What to say when the path is not there. */
  missing(path: string): string;
  release(): Promise<void>;
}

/**
 * Copies as `skiff cp SRC DEST` does (see the module doc and
 * docs/commands.md for the rules).
 *
 * @throws {UsageError} for two containers or none
 * @throws {NotFoundError} when the source, or the destination's directory, is not there
 */
export async function copy(store: Store, src: CpArg, dst: CpArg, opts: CpOptions = {}): Promise<void> {
  if ("container" in src && "container" in dst) {
    throw new UsageError("copying between containers is not supported");
  }
  if (!("container" in src) && !("container" in dst)) {
    throw new UsageError("must specify at least one container source");
  }
  const fs = opts.fs ?? realTreeFs;
  if ("stream" in src) {
    return await copyFromStream(store, fs, dst as { container: string; path: string }, opts);
  }
  const from = await openSide(store, src, false);
  try {
    const follow = Boolean(opts.followLink) || from.path.endsWith("/") || contentsOf(from.path);
    const path = cleanPath(from.path);
    const top = openExisting(fs, from, path, follow);
    try {
      const isDir = kindOf(fs.stat(top).mode) === "dir";
      if ((from.path.endsWith("/") || contentsOf(from.path)) && !isDir) {
        throw new Error(`Cannot copy "${from.label}": not a directory`);
      }
      const name = contentsOf(from.path) || path === "/" ? "." : split(path)[1];
      if ("stream" in dst) {
        await writeTar(fs, walk(fs, top, name), opts.stdout ?? Deno.stdout.writable);
        return;
      }
      const to = await openSide(store, dst, true);
      try {
        const [dir, topName] = destination(fs, to, isDir, name);
        await extractTo(fs, to, dir, walk(fs, top, topName), opts);
      } finally {
        await to.release();
      }
    } finally {
      fs.close(top);
    }
  } finally {
    await from.release();
  }
}

function openExisting(fs: TreeFs, side: Side, path: string, follow: boolean): number {
  try {
    return fs.open(side.rootFd, path, follow);
  } catch (e) {
    if (e instanceof NotFound) throw new NotFoundError(side.missing(path));
    throw e;
  }
}

/** What is at `path` in the side's root, a symlink followed there; null when nothing. */
const kindAt = (fs: TreeFs, side: Side, path: string) =>
  kindThere(fs, () => fs.open(side.rootFd, path, true));

/**
 * Where the source's top goes, as docker decides: into an existing
 * directory under its own name (its contents, for `/.`); over an existing
 * file (a file only); or as the destination's name, in its directory,
 * which must exist.
 *
 * @returns the directory and the top's name in it (`.`: the directory itself)
 */
function destination(fs: TreeFs, to: Side, srcIsDir: boolean, name: string): [string, string] {
  const path = cleanPath(to.path);
  const kind = kindAt(fs, to, path);
  if (kind === "dir") return [path, name];
  if (kind !== null && srcIsDir) throw new Error(`Cannot copy a directory to "${to.label}": it is a file`);
  if (kind === null && to.path.endsWith("/") && !srcIsDir) {
    throw new NotFoundError(`Cannot copy to "${to.label}": no such directory`);
  }
  const [dir, base] = split(path);
  if (kindAt(fs, to, dir) !== "dir") throw new NotFoundError(to.missing(dir));
  return [dir, base];
}

/** extract, owned as docker has it: root's in a container, the caller's on the host, the source's with -a. */
async function extractTo(fs: TreeFs, to: Side, dir: string, entries: AsyncIterable<Entry>, opts: CpOptions) {
  try {
    await extract(fs, to.rootFd, dir, entries, {
      owners: opts.archive ? "keep" : to.container ? { uid: 0, gid: 0 } : "caller",
      devices: to.container,
      label: (path) => to.container ? `${to.label.split(":")[0]}:${path}` : path,
    });
  } catch (e) {
    throw new Error(`Cannot copy to "${to.label}"`, { cause: e });
  }
}

/**
 * `cp - CONTAINER:DIR`: the tar on stdin, extracted by GNU tar into a
 * directory of the store's tmp/ first (tar's own checks against names
 * with `..` and symlinked members apply there), then copied from it into
 * the container as a tree is.
 */
async function copyFromStream(
  store: Store,
  fs: TreeFs,
  dst: { container: string; path: string },
  opts: CpOptions,
): Promise<void> {
  const to = await openSide(store, dst, true);
  try {
    const path = cleanPath(to.path);
    if (kindAt(fs, to, path) !== "dir") throw new Error(`destination "${to.label}" must be a directory`);
    await store.init();
    const staging = await Deno.makeTempDir({ dir: store.tmpDir, prefix: store.tempPrefix("cp") });
    try {
      const [cmd, ...args] = helperArgv("tar", [
        "-x",
        "-f",
        "-",
        "-C",
        staging,
        "--numeric-owner",
        "-p",
        "--same-owner",
      ]);
      const tar = await new Deno.Command(cmd, { args, stdin: "inherit", stdout: "null", stderr: "piped" })
        .output();
      if (!tar.success) throw new Error(`Cannot extract the tar on stdin: ${helperFailure("tar", tar)}`);
      const stagingFd = openPath(staging);
      try {
        await extractTo(fs, to, path, topEntries(fs, stagingFd), opts);
      } finally {
        close(stagingFd);
      }
    } finally {
      await Deno.remove(staging, { recursive: true });
    }
  } finally {
    await to.release();
  }
}

/** The entries of each thing in a directory, as trees of their own (the directory itself left out). */
async function* topEntries(fs: TreeFs, dirFd: number): AsyncGenerator<Entry> {
  for (const name of fs.list(dirFd).sort()) {
    const fd = fs.entry(dirFd, name);
    try {
      yield* walk(fs, fd, name);
    } finally {
      fs.close(fd);
    }
  }
}

/** A side's root: the host's `/`, or the container's (see the module doc). */
async function openSide(store: Store, arg: CpArg, write: boolean): Promise<Side> {
  if ("host" in arg) {
    const path = arg.host.startsWith("/") ? arg.host : `${Deno.cwd()}/${arg.host}`;
    const rootFd = openPath("/");
    return {
      rootFd,
      path,
      container: false,
      label: arg.host,
      missing: (p) => `lstat ${p}: no such file or directory`,
      release: () => Promise.resolve(close(rootFd)),
    };
  }
  const { container: ref, path: given } = arg as { container: string; path: string };
  const record = findContainer(await listContainers(store), ref);
  const side = {
    path: given.startsWith("/") ? given : `/${given}`,
    container: true,
    label: `${ref}:${given}`,
    missing: (p: string) => `Could not find the file ${p} in container ${ref}`,
  };
  const pid1 = pid1Of(record);
  if (pid1 !== undefined) {
    const rootFd = openPath(`/proc/${pid1}/root`);
    // still its PID 1, not a process that took the pid since
    if (pid1Of(record) === pid1) return { ...side, rootFd, release: () => Promise.resolve(close(rootFd)) };
    close(rootFd);
  }
  return { ...side, ...(await mountStopped(store, record.id, ref, write && !record.readOnly)) };
}

/**
 * A stopped container's overlay, mounted by a helper in a private mount
 * namespace of its own (it dies with skiff: nothing outlives a SIGKILL),
 * opened through the helper's `/proc/PID/root`. Read-only unless copying
 * in; then with a work dir of its own in tmp/, so it shares none with a
 * start.
 */
async function mountStopped(
  store: Store,
  id: string,
  ref: string,
  write: boolean,
): Promise<{ rootFd: number; release(): Promise<void> }> {
  const record = findContainer(await listContainers(store), id);
  const config = await readJson<ImageConfig>(store.blob(record.imageId));
  if (config === null) throw new Error(`Cannot copy with "${ref}": its image's config is gone`);
  const upper = `${store.container(id)}/upper`;
  const layers = layerDirs(store, config);
  await store.init();
  const tmp = await Deno.makeTempDir({ dir: store.tmpDir, prefix: store.tempPrefix("cp") });
  for (const dir of [upper, ...layers, tmp]) {
    // overlay splits its options on "," and lowerdir on ":"
    if (/[,:]/.test(dir)) throw new Error(`Cannot mount "${ref}": the path "${dir}" has a "," or ":"`);
  }
  Deno.mkdirSync(`${tmp}/root`);
  Deno.mkdirSync(`${tmp}/work`);
  const dirs = write
    ? `lowerdir=${layers.join(":")},upperdir=${upper},workdir=${tmp}/work`
    : `ro,lowerdir=${[upper, ...layers].join(":")}`;
  const options = `${dirs}${inUserNamespace() ? ",userxattr" : ""}`;
  // each exec keeps the pid, so the namespace is the helper's own
  const [cmd, ...args] = inPrivateMounts(
    'mount -t overlay overlay -o "$1" "$2" && echo mounted && exec cat',
    [options, `${tmp}/root`],
  );
  const helper = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
  const stdin = helper.stdin.getWriter();
  const said = new Response(helper.stderr).text();
  const end = async () => {
    await stdin.close().catch(() => {});
    await helper.stdout.cancel().catch(() => {});
    const status = await helper.status;
    await Deno.remove(tmp, { recursive: true });
    return status;
  };
  const reader = helper.stdout.getReader();
  const first = await reader.read();
  reader.releaseLock();
  if (first.done || !new TextDecoder().decode(first.value).startsWith("mounted")) {
    const status = await end();
    throw new Error(`Cannot mount "${ref}": ${helperFailure("mount", { ...status, stderr: await said })}`);
  }
  let rootFd: number;
  try {
    rootFd = openPath(`/proc/${helper.pid}/root${tmp}/root`);
  } catch (e) {
    await end();
    throw e;
  }
  return {
    rootFd,
    async release() {
      close(rootFd);
      await end();
      await said;
    },
  };
}
