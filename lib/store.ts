/**
 * Where skiff keeps its state, and the lock that orders changes to it.
 *
 * ```
 * ROOT/lock                   serialises changes to names and the image index
 * ROOT/images/index.json      "name:tag" -> image id (sha256 of its config)
 * ROOT/blobs/sha256/HEX       image configs, as OCI content-addressed blobs
 * ROOT/layers/HEX/            one extracted layer, keyed by its diff id
 * ROOT/containers/ID/         config.json, upper/, work/, merged/, init.status
 * ROOT/tmp/                   work in progress, renamed into place when done
 * ```
 *
 * @module
 */

/** The directories of one store. */
export class Store {
  /**
   * @param root the store's top directory, e.g. /var/lib/skiff
   */
  constructor(readonly root: string) {}

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
  get tmpDir(): string {
    return `${this.root}/tmp`;
  }

  /** Creates the store's directories; cheap when they exist. */
  async init(): Promise<void> {
    for (const dir of ["images", "blobs/sha256", "layers", "containers", "tmp"]) {
      await Deno.mkdir(`${this.root}/${dir}`, { recursive: true, mode: 0o700 });
    }
  }

  /**
   * Runs `fn` holding the store's exclusive lock (flock, so a killed holder
   * releases it).
   */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    using file = await Deno.open(this.lockFile, { create: true, write: true });
    await file.lock(true);
    return await fn();
  }
}

/** The store to use: `--root`, else $SKIFF_ROOT, else /var/lib/skiff. */
export function defaultStoreRoot(flag?: string): string {
  return flag ?? Deno.env.get("SKIFF_ROOT") ?? "/var/lib/skiff";
}

/**
 * Writes a file atomically: to `path.tmp`, then renamed over `path`, so a
 * reader sees the old or the new content, never a part.
 */
export async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, data, { mode: 0o600 });
  await Deno.rename(tmp, path);
}

/** Reads a JSON file, or returns null when it does not exist. */
export async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}
