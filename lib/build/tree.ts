/**
 * The trees a build reads files from: the build context (a directory, with
 * its `.dockerignore`), and an image or an earlier stage (its layer
 * directories, read as overlay stacks them: the topmost entry wins, a
 * whiteout deletes, an opaque directory hides what is below it). Paths are
 * relative, `/`-separated, without a leading `/`; "" is the root.
 *
 * Symlinks are resolved inside the tree: in an image as in a chroot (an
 * absolute target starts at the image's root); in the context a link whose
 * target leaves it is refused, as docker refuses it.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { isOpaque } from "../image/layers.ts";
import { cleanPath, type IgnoreRules } from "./ignore.ts";

/** One entry found in a tree. */
export interface Found {
  /** Where it is on the host. */
  host: string;
  info: Deno.FileInfo;
}

/** A tree to copy from. */
export interface Tree {
  /** What to call it in errors: `the build context`, `stage "build"`. */
  readonly label: string;
  /** Whether a path's symlink may point out of the tree (refused), or is read as in a chroot. */
  readonly confined: boolean;
  /** The entry at `rel` itself (a symlink not followed), or null. */
  find(rel: string): Found | null;
  /** The names in directory `rel`, sorted. */
  list(rel: string): string[];
  /** Whether `.dockerignore` leaves `rel` out. */
  excluded(rel: string): boolean;
  /** Whether an excluded directory may still hold included entries (`!` patterns). */
  readonly hasExceptions: boolean;
}

function lstat(path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return null;
    throw e;
  }
}

const byCodePoint = (a: string, b: string) => a < b ? -1 : a > b ? 1 : 0;

/** The build context: a directory, less what `.dockerignore` excludes. */
export class ContextTree implements Tree {
  readonly label = "the build context";
  readonly confined = true;
  constructor(readonly dir: string, readonly ignore?: IgnoreRules) {}

  find(rel: string): Found | null {
    const host = rel === "" ? this.dir : `${this.dir}/${rel}`;
    const info = lstat(host);
    return info ? { host, info } : null;
  }

  list(rel: string): string[] {
    return [...Deno.readDirSync(rel === "" ? this.dir : `${this.dir}/${rel}`)].map((e) => e.name).sort(
      byCodePoint,
    );
  }

  excluded(rel: string): boolean {
    return rel !== "" && (this.ignore?.excludes(rel) ?? false);
  }

  get hasExceptions(): boolean {
    return this.ignore?.hasExceptions ?? false;
  }
}

/** An image's tree: its layer directories, topmost first (as layerDirs gives them). */
export class LayerTree implements Tree {
  readonly confined = false;
  readonly hasExceptions = false;
  constructor(readonly label: string, readonly layers: string[]) {}

  excluded(): boolean {
    return false;
  }

  find(rel: string): Found | null {
    for (const layer of this.layers) {
      const host = rel === "" ? layer : `${layer}/${rel}`;
      const info = lstat(host);
      if (info) return isWhiteout(info) ? null : { host, info };
      if (this.#hides(layer, rel)) return null;
    }
    return null;
  }

  list(rel: string): string[] {
    const names = new Set<string>();
    const gone = new Set<string>();
    for (const layer of this.layers) {
      const dir = rel === "" ? layer : `${layer}/${rel}`;
      const info = lstat(dir);
      if (!info) {
        if (this.#hides(layer, rel)) break;
        continue;
      }
      if (!info.isDirectory) break;
      for (const entry of Deno.readDirSync(dir)) {
        if (names.has(entry.name) || gone.has(entry.name)) continue;
        const e = lstat(`${dir}/${entry.name}`);
        if (e && isWhiteout(e)) gone.add(entry.name);
        else names.add(entry.name);
      }
      if (isOpaque(dir)) break;
    }
    return [...names].sort(byCodePoint);
  }

  /** Whether `layer` hides the lower layers' `rel`: an ancestor there is a whiteout, not a directory, or opaque. */
  #hides(layer: string, rel: string): boolean {
    const parts = rel.split("/");
    for (let n = parts.length - 1; n > 0; n--) {
      const host = `${layer}/${parts.slice(0, n).join("/")}`;
      const info = lstat(host);
      if (!info) continue;
      return !info.isDirectory || isOpaque(host);
    }
    return false;
  }
}

/** overlay's whiteout: a 0:0 character device. */
function isWhiteout(info: Deno.FileInfo): boolean {
  return info.isCharDevice === true && info.rdev === 0;
}

/** A tree with nothing in it: `FROM scratch`. */
export const EMPTY_TREE: Tree = new LayerTree("scratch", []);

const MAX_LINKS = 40; // as Linux's MAXSYMLINKS

/**
 * Resolves `rel` in `tree`, following symlinks (all of them, or all but
 * the last component with `followLast` false).
 *
 * @returns the resolved relative path and its entry (null when nothing is there)
 * @throws {UsageError} for a link out of a confined tree, or a loop
 */
export function resolvePath(
  tree: Tree,
  rel: string,
  followLast = true,
): { rel: string; found: Found | null } {
  const todo = cleanPath(rel).split("/").filter((p) => p !== "");
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === "..") {
      done.pop();
      continue;
    }
    const path = [...done, part].join("/");
    const found = tree.find(path);
    if (found?.info.isSymlink && (todo.length > 0 || followLast)) {
      if (++links > MAX_LINKS) {
        throw new UsageError(`Cannot resolve "${rel}" in ${tree.label}: too many symlinks`);
      }
      const target = Deno.readLinkSync(found.host);
      if (tree.confined && (target.startsWith("/") || escapes([...done, ...target.split("/")]))) {
        throw new UsageError(
          `Cannot copy "${rel}": the symlink "${path}" points out of ${tree.label} (to "${target}")`,
        );
      }
      if (target.startsWith("/")) done.length = 0;
      todo.unshift(...target.split("/").filter((p) => p !== "" && p !== "."));
      continue;
    }
    done.push(part);
    if (todo.length > 0 && (found === null || !found.info.isDirectory)) {
      return { rel: [...done, ...todo].join("/"), found: null };
    }
  }
  const path = done.join("/");
  return { rel: path, found: tree.find(path) };
}

/** Whether `rel` is a directory, through symlinks; a link out of a confined tree is none. */
function isDirectory(tree: Tree, rel: string): boolean {
  try {
    return resolvePath(tree, rel).found?.info.isDirectory === true;
  } catch (e) {
    if (e instanceof UsageError) return false;
    throw e;
  }
}

/** Whether a path's `..` parts climb above its start. */
export function escapes(parts: string[]): boolean {
  let depth = 0;
  for (const p of parts) {
    if (p === "..") depth--;
    else if (p !== "" && p !== ".") depth++;
    if (depth < 0) return true;
  }
  return false;
}

/** Whether a path component has glob characters. */
export function isGlob(part: string): boolean {
  return /[*?[]/.test(part);
}

/** A path component's glob (Go's filepath.Match: `*`, `?`, `[...]`, `\` escapes) as a RegExp. */
export function globRegex(part: string): RegExp {
  let re = "";
  for (let i = 0; i < part.length; i++) {
    const ch = part[i];
    if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else if (ch === "[") {
      const end = part.indexOf("]", i + 1);
      if (end === -1) re += "\\[";
      else {
        re += `[${part.slice(i + 1, end).replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else if (ch === "\\" && i + 1 < part.length) re += `\\${part[++i]}`;
    else re += /[.+^${}()|\]\\]/.test(ch) ? `\\${ch}` : ch;
  }
  return new RegExp(`^${re}$`);
}

/**
 * The paths a COPY source names in `tree`: itself, or what its globs
 * match, in name order; what `.dockerignore` excludes is not matched.
 *
 * @throws {UsageError} when the source climbs out of the tree with `..`
 */
export function matchSource(tree: Tree, source: string): string[] {
  const parts = source.split("/").filter((p) => p !== "" && p !== ".");
  if (tree.confined && escapes(parts)) {
    throw new UsageError(`Cannot copy "${source}": it is outside ${tree.label}`);
  }
  let paths = [""];
  const all = cleanPath(parts.join("/")).split("/").filter((p) => p !== "");
  for (const [i, part] of all.entries()) {
    const next: string[] = [];
    for (const base of paths) {
      if (isGlob(part)) {
        const dir = resolvePath(tree, base);
        if (!dir.found?.info.isDirectory) continue;
        const re = globRegex(part);
        for (const name of tree.list(dir.rel)) {
          // a glob before the last component matches only what can be gone into
          if (
            !re.test(name) ||
            (i < all.length - 1 && !isDirectory(tree, dir.rel === "" ? name : `${dir.rel}/${name}`))
          ) {
            continue;
          }
          next.push(base === "" ? name : `${base}/${name}`);
        }
      } else next.push(base === "" ? part : `${base}/${part}`);
    }
    paths = next;
  }
  return paths.filter((p) => !tree.excluded(p));
}
