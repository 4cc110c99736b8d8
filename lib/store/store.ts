/**
 * Where skiff keeps its state, and the lock that orders changes to it.
 *
 * ```
 * ROOT/skiff-store.json       the marker: skiff uses no other non-empty directory as a store
 * ROOT/lock                   serialises changes to names and the image index
 * ROOT/images/index.json      "name:tag" -> image id (sha256 of its config)
 * ROOT/images/build-cache.json a build step's cache key -> the image it made
 * ROOT/blobs/sha256/HEX       OCI content-addressed blobs: configs, manifests, layer tars
 * ROOT/blobs/sha256/HEX.split/ a layer tar kept as headers only (lib/tarsplit.ts)
 * ROOT/layers/HEX/            one extracted layer, keyed by its diff id
 * ROOT/containers/ID/         config.json, upper/, work/, merged/, log, exit
 * ROOT/volumes/NAME/          volume.json, _data/ (a named volume)
 * ROOT/tmp/KIND-PID-START-*   work in progress, renamed into place when done, and
 *                             the trash (rm-*): named after the process that made it
 * RUN/containers/ID/          init.json, init.sync (FIFO), keeper, the log FIFOs
 * ```
 *
 * Garbage collection is in lib/store/gc.ts.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { selfPid } from "../../ffi/libc.ts";

/**
 * The file that makes a directory a store: skiff refuses to use (and so to
 * sweep or collect in) a directory that is neither empty nor a store.
 */
export const MARKER = "skiff-store.json";
const MARKER_CONTENT = '{"skiff":"store","version":1}\n';
/** The directories of a store, made with it; `tmp` last (see {@link Store.init}). */
const LAYOUT = ["images", "blobs/sha256", "layers", "containers", "volumes", "tmp"];
/**
 * What a store made by skiff before the marker holds (see {@link Store.init}),
 * and `seccomp`, the filter cache a run of today's skiff adds to one.
 */
const OLD_ENTRIES = new Set([
  "lock",
  "run",
  "images",
  "blobs",
  "layers",
  "containers",
  "volumes",
  "tmp",
  "seccomp",
]);
/** A marker being written by a racing first command: `skiff-store.json.PID.tmp`. */
const MARKER_TMP = /^skiff-store\.json\.\d+\.tmp$/;

/** The directories of one store. */
export class Store {
  #runRoot: string | undefined;
  #ready = false;
  /** Entries renamed into tmp/ under the lock, deleted once it is released. */
  #trash: string[] = [];
  #discarded = 0;

  /**
   * A store at `root`; nothing is made until the first command needs it.
   *
   * @param root the store's top directory, e.g. /var/lib/skiff
   * @param runRoot where running containers' state lives (init's spec and
   *   report, the keeper's pid, the log FIFOs), e.g. /run/skiff: nothing
   *   there outlives a reboot. By default {@link defaultRunRoot} of `root`,
   *   the same as the CLI's.
   */
  constructor(readonly root: string, runRoot?: string) {
    this.#runRoot = runRoot;
  }

  /** The runtime dir: the constructor's, else {@link defaultRunRoot} (computed on first use). */
  get runRoot(): string {
    return this.#runRoot ??= defaultRunRoot(this.root);
  }
  /** The flock file that serialises changes to records and the image index. */
  get lockFile(): string {
    return `${this.root}/lock`;
  }
  /** `name:tag` -> image id, manifest digest and size. */
  get imageIndex(): string {
    return `${this.root}/images/index.json`;
  }
  /** The build cache: a step's cache key -> the image it made (lib/build/cache.ts). */
  get buildCache(): string {
    return `${this.root}/images/build-cache.json`;
  }
  /** An OCI blob (layer tar, config, manifest) by its sha256, hex. */
  blob(hex: string): string {
    return `${this.root}/blobs/sha256/${hex}`;
  }
  /** An extracted layer, by its diff id, hex. */
  layer(hex: string): string {
    return `${this.root}/layers/${hex}`;
  }
  /** Where container records and writable layers live. */
  get containersDir(): string {
    return `${this.root}/containers`;
  }
  /** A container's directory: its record, upper/, work/, merged/ and log. */
  container(id: string): string {
    return `${this.root}/containers/${id}`;
  }
  /** A container's record. */
  record(id: string): string {
    return `${this.root}/containers/${id}/config.json`;
  }
  /** Where named volumes live. */
  get volumesDir(): string {
    return `${this.root}/volumes`;
  }
  /** A named volume's directory: volume.json and _data/. */
  volume(name: string): string {
    return `${this.root}/volumes/${name}`;
  }
  /** Where networks live: NAME.json and NAME.members/ (lib/container/network.ts). */
  get networksDir(): string {
    return `${this.root}/networks`;
  }
  /** Work in progress (imports, removals), renamed into place or swept. */
  get tmpDir(): string {
    return `${this.root}/tmp`;
  }
  /** Compiled seccomp filters, by a digest of what each is made from (lib/container/security.ts). */
  get seccompDir(): string {
    return `${this.root}/seccomp`;
  }
  /** Where running containers' runtime state lives. */
  get runtimeDir(): string {
    return `${this.runRoot}/containers`;
  }
  /** A container's runtime state (see the constructor). */
  runtime(id: string): string {
    return `${this.runRoot}/containers/${id}`;
  }

  /**
   * The prefix of a temporary entry of this process in tmp/:
   * `KIND-PID-STARTTIME-`. The sweep ({@link sweepTmp}) removes it once
   * that process is gone, and never while it lives.
   */
  tempPrefix(kind: string): string {
    return `${kind}-${selfPid()}-${ownStartTime()}-`;
  }

  /**
   * Makes the store's directories, or checks that `root` is a store.
   * A store is a directory with {@link MARKER}; an empty or missing
   * directory becomes one. A directory that holds exactly the layout of an
   * older skiff's store (images, blobs, layers, containers, volumes, tmp,
   * and maybe lock and run) is adopted: it gets the marker. Anything else
   * is refused, so that no sweep or collection touches a directory that is
   * not skiff's. After the first call, nothing is checked again.
   *
   * @throws {UsageError} for an empty name, a file, a non-empty directory
   *   that is not a store, a read-only store, or a directory that cannot
   *   be made (naming --root or --runroot)
   */
  init(): Promise<void> {
    if (this.#ready) return Promise.resolve();
    try {
      this.#init();
    } catch (e) {
      return Promise.reject(e);
    }
    this.#ready = true;
    return Promise.resolve();
  }

  #init(): void {
    const root = this.root;
    if (root === "") {
      throw new UsageError("The store's directory is empty: give --root DIR (or SKIFF_ROOT) a path");
    }
    const state = this.#state();
    // The runtime dir first: a bad --runroot then leaves nothing made.
    const runFlag = isInside(this.runtimeDir, root) ? "--root" : "--runroot";
    if (state === "store") {
      try {
        Deno.statSync(this.tmpDir);
        Deno.statSync(this.runtimeDir);
        return;
      } catch {
        // made halfway (the marker comes first), or a fresh --runroot
      }
    }
    this.#mkdir(this.runtimeDir, runFlag);
    this.#mkdir(root, "--root");
    if (state !== "store") {
      const tmp = `${root}/${MARKER}.${selfPid()}.tmp`;
      try {
        writeDurably(tmp, MARKER_CONTENT);
        Deno.renameSync(tmp, `${root}/${MARKER}`);
      } catch (e) {
        throw storeError(root, e, "--root");
      }
    }
    for (const dir of LAYOUT) this.#mkdir(`${root}/${dir}`, "--root");
  }

  /** What `root` is now: a store, nothing yet (or empty), or an old skiff store. */
  #state(): "store" | "new" | "old" {
    const root = this.root;
    try {
      if (Deno.readTextFileSync(`${root}/${MARKER}`) === MARKER_CONTENT) return "store";
    } catch (e) {
      if (e instanceof Deno.errors.NotADirectory) {
        throw new UsageError(`Cannot use "${root}" as a store: it is not a directory; choose another --root`);
      }
      if (!(e instanceof Deno.errors.NotFound)) throw storeError(root, e, "--root", false);
    }
    let names: string[];
    try {
      if (!Deno.statSync(root).isDirectory) {
        throw new UsageError(`Cannot use "${root}" as a store: it is not a directory; choose another --root`);
      }
      names = [...Deno.readDirSync(root)].map((e) => e.name);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return "new";
      throw storeError(root, e, "--root", false);
    }
    // A first command makes the runtime dir (ROOT/run by default), then the
    // marker: a racing first command sees those and makes the store too.
    const base = root.length > 1 ? root.replace(/\/+$/, "") : root;
    const runTop = isInside(this.runtimeDir, base) ? this.runtimeDir.slice(base.length).split("/")[1] : "";
    // A racing first command may have put its marker in since we looked.
    if (names.includes(MARKER) && this.#markedNow()) return "store";
    const ours = names.filter((n) => n !== MARKER && !MARKER_TMP.test(n) && n !== runTop);
    if (ours.length === 0) return "new";
    const old = ours.every((n) => OLD_ENTRIES.has(n)) &&
      LAYOUT.every((d) => exists(`${root}/${d}`) && Deno.statSync(`${root}/${d}`).isDirectory);
    if (old) return "old";
    throw new UsageError(
      `Cannot use "${root}" as a store: it is a directory with other files and no ${MARKER}; choose an empty or new directory for --root`,
    );
  }

  /** Whether the marker is there now, and skiff's. */
  #markedNow(): boolean {
    try {
      return Deno.readTextFileSync(`${this.root}/${MARKER}`) === MARKER_CONTENT;
    } catch {
      return false;
    }
  }

  #mkdir(dir: string, flag: string): void {
    try {
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) {
        throw new UsageError(`Cannot make "${dir}": it is not a directory; choose another ${flag}`);
      }
      throw storeError(dir, e, flag);
    }
  }

  /**
   * Runs `fn` holding the store's exclusive lock (flock, so a killed holder
   * releases it). A store not made yet is made first, so that the first
   * `ps` of a new user lists nothing rather than failing. The lock is
   * awaited on Deno's blocking pool, not on the main thread, so a wait
   * for another skiff's lock does not stall this one's event loop. What
   * `fn` gave to {@link discard} is deleted after the lock is released,
   * and so is what killed skiffs left in tmp/ ({@link sweepTmp}).
   */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    await this.init();
    try {
      let file: Deno.FsFile;
      try {
        file = Deno.openSync(this.lockFile, { create: true, write: true });
      } catch (e) {
        throw storeError(this.root, e, "--root", false);
      }
      try {
        await file.lock(true);
        sweepTmp(this);
        return await fn();
      } finally {
        file.close();
      }
    } finally {
      await this.#emptyTrash();
    }
  }

  /**
   * Moves `path` out of sight into tmp/, to be deleted once the lock is
   * released: a rename is all that happens under the lock, however big the
   * tree. The caller holds the lock.
   *
   * @returns false when there was nothing at `path`
   */
  discard(path: string): boolean {
    const trash = `${this.tmpDir}/${this.tempPrefix("rm")}${this.#discarded++}-${path.split("/").pop()}`;
    try {
      Deno.renameSync(path, trash);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
    this.#trash.push(trash);
    return true;
  }

  async #emptyTrash(): Promise<void> {
    while (this.#trash.length > 0) {
      const trash = this.#trash.pop()!;
      await Deno.remove(trash, { recursive: true }).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
    }
  }
}

/** Whether `path` is `dir` or below it. */
function isInside(path: string, dir: string): boolean {
  const d = dir.replace(/\/+$/, "");
  return path === d || path.startsWith(`${d}/`);
}

/**
 * A failure to read or write the store as one line: a read-only store is
 * said as such (no flag would help); anything else names the flag to change.
 */
function storeError(path: string, e: unknown, flag: string, making = true): Error {
  if (e instanceof UsageError) return e;
  const why = (e as Error).message.replace(/ \(os error \d+\).*/, "");
  if (/Read-only file system/.test(why)) {
    return new UsageError(`Cannot write the store "${path}": read-only file system`);
  }
  const what = making ? `Cannot make "${path}"` : `Cannot use the store "${path}"`;
  return new UsageError(`${what}: ${why}; choose another ${flag}`);
}

/**
 * Removes what killed skiffs left in tmp/: entries named
 * `KIND-PID-STARTTIME-...` ({@link Store.tempPrefix}) whose process is
 * gone. A live maker's entry is left alone, and so is any other name. Under
 * the lock, each is claimed by a rename into this process's trash; the
 * delete comes after the lock is released.
 */
export function sweepTmp(store: Store): void {
  let names: string[];
  try {
    names = [...Deno.readDirSync(store.tmpDir)].map((e) => e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  for (const name of names) {
    const maker = /^[a-z]+-(\d+)-(\d+)-/.exec(name);
    if (maker === null) continue;
    const [pid, start] = [Number(maker[1]), Number(maker[2])];
    if (pid === selfPid() || startTimeOf(pid) === start) continue;
    store.discard(`${store.tmpDir}/${name}`);
  }
}

let selfStartTime: number | undefined;

/** This process's start time (see {@link startTimeOf}), read once. */
function ownStartTime(): number {
  return selfStartTime ??= startTimeOf(selfPid()) ?? -1;
}

/**
 * A process's start time in clock ticks since boot (field 22 of
 * /proc/PID/stat), or null when it is gone (or a zombie). The same reading
 * as lib/host/proc.ts's processStartTime, which the store may not import
 * (store sits below host: tests/layering_test.ts).
 */
function startTimeOf(pid: number): number | null {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (e) {
    // ESRCH: it exited between the open and the read
    // (Deno has no class for ESRCH, nor a code: its message names the errno)
    if (e instanceof Deno.errors.NotFound || (e instanceof Error && e.message.includes("(os error 3)"))) {
      return null;
    }
    throw e;
  }
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return null;
  return Number(fields[19]);
}

/** The store of root's skiff when neither --root nor $SKIFF_ROOT names one. */
export const ROOT_STORE = "/var/lib/skiff";

/**
 * The store to use: `--root`, else $SKIFF_ROOT, else /var/lib/skiff for
 * root and {@link rootlessStoreRoot} for anyone else. An empty value is
 * unset, as it is for a shell's `${VAR:-default}`: it must never make the
 * store "/".
 *
 * @param uid whose store: the caller's uid on the host (root of a
 *   rootless user's namespace is that user)
 */
export function defaultStoreRoot(flag?: string, uid?: number): string {
  return flag || Deno.env.get("SKIFF_ROOT") || ((uid ?? Deno.uid()) === 0 ? ROOT_STORE : rootlessStoreRoot());
}

/**
 * Where the runtime state of the store at `root` goes unless --runroot
 * says otherwise: the one definition, used by the CLI and by `new
 * Store(root)` alike. For the default store that is /run/skiff for root
 * and $XDG_RUNTIME_DIR/skiff for anyone else (a private directory in /tmp
 * when that is unset, checked to be the user's own); for any other store,
 * `ROOT/run`.
 *
 * @param uid whose: as for {@link defaultStoreRoot}
 * @throws {UsageError} when the private directory is someone else's
 */
export function defaultRunRoot(root: string, uid?: number): string {
  const dir = root.length > 1 ? root.replace(/\/+$/, "") : root;
  // Only a default store (ROOT_STORE, or one ending in /skiff as the
  // rootless ones do) needs the uid and the environment: a library user
  // with a store of its own needs no --allow-sys or --allow-env.
  if (dir !== ROOT_STORE && !dir.endsWith("/skiff")) return `${dir}/run`;
  let own: string | undefined;
  let who: number | null = uid ?? null;
  try {
    who ??= Deno.uid();
    if (who === 0) return dir === ROOT_STORE ? "/run/skiff" : `${dir}/run`;
    own = rootlessStoreRoot();
  } catch (e) {
    // without the permission to tell, or no HOME: not the default store
    if (e instanceof Deno.errors.NotCapable || e instanceof UsageError) return `${dir}/run`;
    throw e;
  }
  if (dir !== own) return `${dir}/run`;
  const runtime = Deno.env.get("XDG_RUNTIME_DIR");
  if (runtime) return `${runtime}/skiff`;
  const tmp = `/tmp/skiff-run-${who}`;
  try {
    Deno.mkdirSync(tmp, { mode: 0o700 });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  const info = Deno.lstatSync(tmp);
  if (!info.isDirectory || info.uid !== Deno.uid() || ((info.mode ?? 0) & 0o077) !== 0) {
    throw new UsageError(
      `Cannot keep runtime state in "${tmp}": it is not a private directory of yours; set XDG_RUNTIME_DIR, or remove it`,
    );
  }
  return `${tmp}/skiff`;
}

/** Where an ordinary user's store is: $XDG_DATA_HOME/skiff, else ~/.local/share/skiff. */
export function rootlessStoreRoot(
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): string {
  const data = env("XDG_DATA_HOME");
  if (data) return `${data}/skiff`;
  const home = env("HOME");
  if (!home) throw new UsageError("Cannot find your store: set HOME or XDG_DATA_HOME, or give --root DIR");
  return `${home}/.local/share/skiff`;
}

// The store's files are small and read on the path of every `run`: sync
// calls skip the thread-pool round trip that each async fs op costs Deno
// (measured: createContainer went from 10 ms to 3 ms). init, writeAtomic
// and readJson keep their Promise signatures so a body can go async again
// without changing every caller.

/**
 * Writes a file atomically and durably: to `path.tmp`, flushed to disk,
 * then renamed over `path`, so a reader sees the old or the new content,
 * never a part, and a crash (of the machine, not just skiff) cannot leave
 * an empty record behind the rename: ext4 and xfs may commit a rename
 * before the data it points at. When the rename makes a new name, the
 * directory is flushed too, so the new file survives a crash; over an
 * existing file that flush is skipped (each costs ~8 ms on this VM's
 * disk), as either name then holds a whole record. A write that fails (a
 * full disk, a read-only one) leaves the old content and no `.tmp`.
 * Callers hold the store lock, so no two writers share the `.tmp` name.
 */
export function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    const replacing = exists(path);
    writeDurably(tmp, data);
    Deno.renameSync(tmp, path);
    if (!replacing) syncDir(path.slice(0, path.lastIndexOf("/")) || "/");
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // never made, or the disk refuses even that
    }
    return Promise.reject(e);
  }
  return Promise.resolve();
}

/** Writes `data` to a new or truncated file (0600) and fsyncs it. */
function writeDurably(path: string, data: string): void {
  using file = Deno.openSync(path, { write: true, create: true, truncate: true, mode: 0o600 });
  const bytes = new TextEncoder().encode(data);
  for (let done = 0; done < bytes.length;) done += file.writeSync(bytes.subarray(done));
  file.syncSync();
}

/** fsyncs a directory, so that a rename in it survives a crash. */
function syncDir(dir: string): void {
  using file = Deno.openSync(dir, { read: true });
  file.syncSync();
}

/** Whether anything is at `path` (a dangling symlink counts). */
export function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** sha256 of a string's UTF-8 bytes, or of bytes, as hex: a blob's name. */
export async function sha256Hex(data: string | Uint8Array<ArrayBuffer>): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Reads a JSON file, or returns null when it does not exist.
 *
 * @throws {Error} naming the file, when it cannot be read or parsed
 */
export function readJson<T>(path: string): Promise<T | null> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return Promise.resolve(null);
    return Promise.reject(new Error(`Cannot read "${path}"`, { cause: e }));
  }
  try {
    return Promise.resolve(JSON.parse(text) as T);
  } catch (e) {
    return Promise.reject(new DamagedFileError(path, e));
  }
}

/** A store file that is there but cannot be parsed (cut short by a crash, say). */
export class DamagedFileError extends Error {
  override name = "DamagedFileError";
  constructor(readonly path: string, cause: unknown) {
    super(`Cannot parse "${path}"`, { cause });
  }
}
