/**
 * The store's download area, `ROOT/downloads/`: what a pull has fetched
 * and not unpacked yet, by blob digest. `HEX.partial` is a blob still
 * coming (resumed with `Range` by the next pull), `HEX.tar.partial` its
 * uncompressed tar on the way, `HEX.tar` (or `HEX`, a plain layer) one
 * checked and waiting to be unpacked. `HEX.lock` is the digest's lock: a
 * pull holds it (flock) for as long as it uses any of those files, and
 * removes it when done.
 *
 * Nothing here is an image or a layer; what is left behind (a pull killed
 * or cut off) goes after a week, at the start of the next pull, or at
 * `image prune`, and never while a pull holds its lock.
 *
 * @module
 */

import type { Store } from "../../store/store.ts";

/** The store's download area. */
export function downloadsDir(store: Store): string {
  return `${store.root}/downloads`;
}

/** Downloads untouched for this long are given up on (the week). */
export const STALE_MS = 7 * 24 * 3600 * 1000;

/**
 * Takes an exclusive lock on `path`, made if need be, waiting for its
 * holder. The holder removes it when done, so a waiter that wakes on a
 * removed file tries again.
 */
export async function lockFile(path: string): Promise<Deno.FsFile> {
  for (;;) {
    const file = await Deno.open(path, { write: true, create: true, mode: 0o600 });
    await file.lock(true);
    if (isNamed(file, path)) return file;
    file.close();
  }
}

/** Like {@link lockFile}, without waiting: null when someone holds the lock. */
function tryLockFile(path: string): Deno.FsFile | null {
  const file = Deno.openSync(path, { write: true, create: true, mode: 0o600 });
  if (file.tryLockSync(true) && isNamed(file, path)) return file;
  file.close();
  return null;
}

/** Whether the locked `file` is still the one named `path` (not removed by its last holder). */
function isNamed(file: Deno.FsFile, path: string): boolean {
  try {
    const [held, named] = [file.statSync(), Deno.statSync(path)];
    return held.ino === named.ino && held.dev === named.dev;
  } catch {
    return false; // removed while we waited
  }
}

/** Releases a digest's lock taken with {@link lockFile}: the file goes first, so a waiter tries again. */
export function unlockFile(path: string, file: Deno.FsFile): void {
  try {
    Deno.removeSync(path);
  } catch {
    // gone already
  }
  file.close();
}

/** A download removed by {@link sweepDownloads}. */
export interface RemovedDownload {
  /** Its name in the download area: `HEX.partial`. */
  name: string;
  /** Its size in bytes. */
  size: number;
}

/** `HEX`, then what kind of download: `.partial`, `.tar`, `.tar.partial`, `.lock` or nothing. */
const DOWNLOAD = /^([0-9a-f]{64})(\.tar)?(\.partial|\.lock)?$/;

/**
 * Removes the downloads no pull holds: each digest's files only while
 * holding its lock, taken without waiting, so a running pull's files are
 * never touched. What is left alone: a digest whose lock another process
 * holds, and names that are not skiff's.
 *
 * @param opts.olderThan only files untouched for this many ms (the
 *   lock file itself does not count)
 * @returns what was removed, by name
 */
export function sweepDownloads(store: Store, opts: { olderThan?: number } = {}): RemovedDownload[] {
  const dir = downloadsDir(store);
  const byDigest = new Map<string, Deno.DirEntry[]>();
  try {
    for (const entry of Deno.readDirSync(dir)) {
      const hex = DOWNLOAD.exec(entry.name)?.[1];
      if (hex !== undefined && entry.isFile) byDigest.set(hex, [...byDigest.get(hex) ?? [], entry]);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const now = Date.now();
  const removed: RemovedDownload[] = [];
  for (const [hex, files] of byDigest) {
    const lockPath = `${dir}/${hex}.lock`;
    const lock = tryLockFile(lockPath);
    if (lock === null) continue; // a pull is using it
    try {
      // looked at under the lock: a pull may have used them since they were listed
      for (const { name } of files) {
        if (name.endsWith(".lock")) continue;
        const path = `${dir}/${name}`;
        try {
          const info = Deno.statSync(path);
          const age = now - (info.mtime?.getTime() ?? now);
          if (opts.olderThan !== undefined && age <= opts.olderThan) continue;
          Deno.removeSync(path);
          removed.push({ name, size: info.size });
        } catch { /* a pull finished with it meanwhile */ }
      }
    } finally {
      unlockFile(lockPath, lock); // a killed pull's lock file goes with it
    }
  }
  return removed;
}
