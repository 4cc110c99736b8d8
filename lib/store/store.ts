/**
 * Where skiff keeps its state, and the lock that orders changes to it.
 *
 * ```
 * ROOT/lock                   serialises changes to names and the image index
 * ROOT/images/index.json      "name:tag" -> image id (sha256 of its config)
 * ROOT/blobs/sha256/HEX       OCI content-addressed blobs: configs, manifests, layer tars
 * ROOT/blobs/sha256/HEX.split/ a layer tar kept as headers only (lib/tarsplit.ts)
 * ROOT/layers/HEX/            one extracted layer, keyed by its diff id
 * ROOT/containers/ID/         config.json, upper/, work/, merged/, log, exit
 * ROOT/volumes/NAME/          volume.json, _data/ (a named volume)
 * ROOT/tmp/                   work in progress, renamed into place when done
 * RUN/containers/ID/          init.json, init.sync (FIFO), keeper, the log FIFOs
 * ```
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** The directories of one store. */
export class Store {
  /**
   * @param root the store's top directory, e.g. /var/lib/skiff
   * @param runRoot where running containers' state lives (init's spec and
   *   report, the keeper's pid, the log FIFOs), e.g. /run/skiff: nothing
   *   there outlives a reboot. By default inside the store.
   */
  constructor(readonly root: string, readonly runRoot = `${root}/run`) {}

  get lockFile(): string {
    return `${this.root}/lock`;
  }
  get imageIndex(): string {
    return `${this.root}/images/index.json`;
  }
  blob(hex: string): string {
    return `${this.root}/blobs/sha256/${hex}`;
  }
  layer(hex: string): string {
    return `${this.root}/layers/${hex}`;
  }
  get containersDir(): string {
    return `${this.root}/containers`;
  }
  container(id: string): string {
    return `${this.root}/containers/${id}`;
  }
  get volumesDir(): string {
    return `${this.root}/volumes`;
  }
  volume(name: string): string {
    return `${this.root}/volumes/${name}`;
  }
  get tmpDir(): string {
    return `${this.root}/tmp`;
  }
  get runtimeDir(): string {
    return `${this.runRoot}/containers`;
  }
  /** A container's runtime state (see the constructor). */
  runtime(id: string): string {
    return `${this.runRoot}/containers/${id}`;
  }

  /** Creates the store's directories; one stat when they exist. */
  init(): Promise<void> {
    // the runtime dir first: a bad --runroot then leaves nothing made
    const dirs = [this.runtimeDir].concat(
      ["images", "blobs/sha256", "layers", "containers", "volumes", "tmp"].map((d) => `${this.root}/${d}`),
    );
    try {
      Deno.statSync(`${this.root}/tmp`);
      Deno.statSync(this.runtimeDir);
    } catch {
      for (const dir of dirs) {
        try {
          Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
        } catch (e) {
          const flag = dir === this.runtimeDir ? "--runroot" : "--root";
          const why = (e as Error).message.replace(/ \(os error \d+\).*/, "");
          throw new UsageError(`Cannot make "${dir}": ${why}; choose another ${flag}`);
        }
      }
    }
    return Promise.resolve();
  }

  /**
   * Runs `fn` holding the store's exclusive lock (flock, so a killed holder
   * releases it). A store not made yet is made first, so that the first
   * `ps` of a new user lists nothing rather than failing.
   */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    await this.init();
    using file = Deno.openSync(this.lockFile, { create: true, write: true });
    file.lockSync(true);
    return await fn();
  }
}

/**
 * The store to use: `--root`, else $SKIFF_ROOT, else /var/lib/skiff for
 * root and {@link rootlessStoreRoot} for anyone else.
 */
export function defaultStoreRoot(flag?: string): string {
  return flag ?? Deno.env.get("SKIFF_ROOT") ?? (Deno.uid() === 0 ? "/var/lib/skiff" : rootlessStoreRoot());
}

/**
 * Where a store's runtime state goes: `--runroot`; else, for a store
 * named by `--root` or $SKIFF_ROOT, inside it; else /run/skiff for root
 * and $XDG_RUNTIME_DIR/skiff for anyone else (a private directory in /tmp
 * when that is unset, checked to be the user's own).
 *
 * @throws {UsageError} when the private directory is someone else's
 */
export function defaultRunRoot(rootFlag?: string, runRootFlag?: string): string | undefined {
  if (runRootFlag !== undefined) return runRootFlag;
  if (rootFlag !== undefined || Deno.env.get("SKIFF_ROOT") !== undefined) return undefined;
  if (Deno.uid() === 0) return "/run/skiff";
  const runtime = Deno.env.get("XDG_RUNTIME_DIR");
  if (runtime) return `${runtime}/skiff`;
  const own = `/tmp/skiff-run-${Deno.uid()}`;
  try {
    Deno.mkdirSync(own, { mode: 0o700 });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  const info = Deno.lstatSync(own);
  if (!info.isDirectory || info.uid !== Deno.uid() || ((info.mode ?? 0) & 0o077) !== 0) {
    throw new UsageError(
      `Cannot keep runtime state in "${own}": it is not a private directory of yours; set XDG_RUNTIME_DIR, or remove it`,
    );
  }
  return `${own}/skiff`;
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
// (measured: createContainer went from 10 ms to 3 ms).

/**
 * Writes a file atomically: to `path.tmp`, then renamed over `path`, so a
 * reader sees the old or the new content, never a part. A write that fails
 * (a full disk, a read-only one) leaves the old content and no `.tmp`.
 * Callers hold the store lock, so no two writers share the `.tmp` name.
 */
export function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    Deno.writeTextFileSync(tmp, data, { mode: 0o600 });
    Deno.renameSync(tmp, path);
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

/** Reads a JSON file, or returns null when it does not exist. */
export function readJson<T>(path: string): Promise<T | null> {
  try {
    return Promise.resolve(JSON.parse(Deno.readTextFileSync(path)) as T);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return Promise.resolve(null);
    return Promise.reject(e);
  }
}
