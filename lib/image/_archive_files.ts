/**
 * Reading the files of an archive (an unpacked tar, or an OCI layout
 * directory) so that none of its paths can lead out of it: each is opened
 * by openat2 with RESOLVE_IN_ROOT from the archive's directory, so a
 * symlink (`blobs -> /etc`, `v -> /tmp/victim`) or `..` resolves as if the
 * archive were `/`. What is opened is held as an O_PATH descriptor and
 * read, by skiff and by the tools it runs, through `/proc/PID/fd/N`: the
 * very file that was checked, whatever is renamed meanwhile.
 *
 * @module
 */

import { close, openPath } from "../../ffi/libc.ts";
import { openInRoot } from "../host/in_root.ts";
import { ErrnoError, SyscallError } from "../../ffi/errors.ts";

/** Above this, a document (index, manifest, config) is refused unread. */
const MAX_DOCUMENT = 16 << 20;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A regular file of the archive, opened and checked. */
export interface ArchiveFile {
  /** What errors call it, e.g. `layer "abc/layer.tar"` or `manifest sha256:…`. */
  what: string;
  /** Its path for skiff's own reads: `/proc/self/fd/N`. */
  path: string;
  /** Its path for a child process: `/proc/PID/fd/N`, PID as this /proc counts. */
  childPath: string;
  /** Its identity: the same file reached by two names or links is one layer. */
  key: string;
  size: number;
}

/** The files of one archive directory; close it (`using`) to release them. */
export class ArchiveFiles implements Disposable {
  readonly #root: number;
  readonly #fds: number[] = [];
  readonly #pid: string;

  /** @param dir the archive's directory: the root its paths resolve in */
  constructor(readonly dir: string) {
    this.#root = openPath(dir);
    // /proc/self as this /proc mount sees us, which children share
    this.#pid = Deno.readLinkSync("/proc/self");
  }

  /**
   * Opens the regular file at `rel` (relative to the archive, resolved in it).
   *
   * @throws {Error} `WHAT is missing`, `WHAT is not a regular file`
   */
  open(rel: string, what: string): ArchiveFile {
    let fd: number;
    try {
      fd = openInRoot(this.#root, rel);
    } catch (e) {
      if (
        (e instanceof SyscallError || e instanceof ErrnoError) &&
        ["ENOENT", "ENOTDIR", "ELOOP"].includes(e.code)
      ) {
        throw new Error(`${what} is missing`);
      }
      throw new Error(`Cannot open ${what}`, { cause: e });
    }
    this.#fds.push(fd);
    const path = `/proc/self/fd/${fd}`;
    const info = Deno.statSync(path);
    if (!info.isFile) throw new Error(`${what} is not a regular file`);
    return {
      what,
      path,
      childPath: `/proc/${this.#pid}/fd/${fd}`,
      key: `${info.dev}:${info.ino}`,
      size: info.size,
    };
  }

  /** Whether anything is at `rel` in the archive (a FIFO too: open then says what is wrong). */
  has(rel: string): boolean {
    try {
      close(openInRoot(this.#root, rel));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Reads a document: UTF-8 text of at most 16 MiB, with its exact bytes
   * (their digest is checked).
   */
  read(file: ArchiveFile): { text: string; bytes: Uint8Array<ArrayBuffer> } {
    if (file.size > MAX_DOCUMENT) throw new Error(`${file.what} is larger than ${MAX_DOCUMENT >> 20} MiB`);
    const bytes = Deno.readFileSync(file.path);
    try {
      return { text: utf8.decode(bytes), bytes };
    } catch {
      throw new Error(`${file.what}: it is not UTF-8 text`);
    }
  }

  /**
   * Where `file` is by name, when it lies in the archive's directory (an
   * unpacked copy of skiff's, whose files it may move); null otherwise.
   */
  pathInDir(file: ArchiveFile): string | null {
    const real = Deno.readLinkSync(file.path);
    return real.startsWith(`${Deno.realPathSync(this.dir)}/`) ? real : null;
  }

  [Symbol.dispose](): void {
    for (const fd of this.#fds.splice(0)) close(fd);
    close(this.#root);
  }
}
