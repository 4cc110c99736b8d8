/**
 * The real {@link Sys}: mounts through `ffi/`, files through `Deno.*`.
 *
 * @module
 */

import type { SyscallError } from "../../ffi/errors.ts";
import {
  AT_FDCWD,
  close,
  createFileAt,
  mkdirAt,
  mount,
  mountFlags,
  openInRoot,
  openPath,
} from "../../ffi/libc.ts";
import type { EntryKind, Resolved, Sys } from "./rootfs.ts";

/** The operations of the running kernel. */
export const realSys: Sys = {
  mount,
  mountFlags,
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
    // Through libc: Deno lets only --allow-all write /dev/console, say.
    createFileAt(AT_FDCWD, path, 0o644);
  },
  symlink(target: string, path: string) {
    Deno.symlinkSync(target, path);
  },
  resolveInRoot,
};

const isCode = (e: unknown, code: string) => (e as SyscallError).code === code;

/**
 * `mkdir -p` through mkdirat(2), so a failure is a SyscallError naming
 * the path and keeping errno (ENOTDIR when a part is a file, say).
 */
export function mkdirAll(path: string, mode = 0o755): void {
  const parts = path.split("/").filter((p) => p !== "");
  for (let i = 1; i <= parts.length; i++) {
    try {
      mkdirAt(AT_FDCWD, "/" + parts.slice(0, i).join("/"), mode);
    } catch (e) {
      if (!isCode(e, "EEXIST")) throw e;
    }
  }
}

/**
 * Walks `path` one part at a time, each resolved by openat2 with
 * RESOLVE_IN_ROOT from the root's descriptor, creating a missing part with
 * mkdirat (or an empty file, for the last part of a file bind) in the
 * parent it resolved to. Nothing is looked up by host path below `root`.
 */
export function resolveInRoot(root: string, path: string, kind: "dir" | "file"): Resolved {
  const parts = path.split("/").filter((p) => p !== "");
  const rootFd = openPath(root);
  try {
    let fd = rootFd;
    for (let i = 0; i < parts.length; i++) {
      const sub = parts.slice(0, i + 1).join("/");
      if (fd !== rootFd) close(fd);
      try {
        fd = openInRoot(rootFd, sub);
      } catch (e) {
        if (!isCode(e, "ENOENT")) throw e;
        const parent = i === 0 ? rootFd : openInRoot(rootFd, parts.slice(0, i).join("/"));
        try {
          if (i === parts.length - 1 && kind === "file") createFileAt(parent, parts[i], 0o644);
          else mkdirAt(parent, parts[i], 0o755);
        } catch (e) {
          // EEXIST: a dangling symlink (or another creator) is there
          if (!isCode(e, "EEXIST")) throw e;
        } finally {
          if (parent !== rootFd) close(parent);
        }
        try {
          fd = openInRoot(rootFd, sub);
        } catch (e) {
          if (!isCode(e, "ENOENT")) throw e;
          throw new Error(`"/${sub}" is a symlink to a path missing in the image`);
        }
      }
    }
    const held = fd === rootFd ? openInRoot(rootFd, ".") : fd;
    return { path: `/proc/self/fd/${held}`, release: () => close(held) };
  } finally {
    close(rootFd);
  }
}
