/**
 * The real {@link Sys}: mounts through `ffi/`, files through `Deno.*`.
 *
 * @module
 */

import { mount } from "../ffi/libc.ts";
import type { EntryKind, Sys } from "./rootfs.ts";

/** The operations of the running kernel. */
export const realSys: Sys = {
  mount,
  lstat(path: string): EntryKind | null {
    try {
      const info = Deno.lstatSync(path);
      if (info.isSymlink) return "symlink";
      if (info.isDirectory) return "dir";
      return info.isFile ? "file" : "other";
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
  },
  mkdir(path: string, mode: number) {
    Deno.mkdirSync(path, { mode });
    // mkdir's mode is filtered by the umask; sticky bits need chmod anyway
    Deno.chmodSync(path, mode);
  },
  touch(path: string) {
    Deno.writeFileSync(path, new Uint8Array(), { createNew: true, mode: 0o644 });
  },
  symlink(target: string, path: string) {
    Deno.symlinkSync(target, path);
  },
};
