/**
 * What every libc binding here needs: C strings, a lazily opened libc, and
 * errno read right after a call, on the same thread.
 *
 * @module
 */

const encoder = new TextEncoder();

/** A NUL-terminated C string (byte length, not string length). */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(s + "\0");
}

/** `__errno_location`, which every symbol table here includes to read errno. */
export const ERRNO_SYMBOL = {
  // int *__errno_location(void)
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/**
 * libc with `symbols`, each bound on its first use, so importing a binding
 * needs no `--allow-ffi`, and a process pays only for the calls it makes:
 * Deno builds a trampoline for every symbol a dlopen() names (measured
 * here: 0.1-0.2 ms each, 9 ms for the whole of libc.ts on the path of
 * `run`, against 3 ms for the ones it calls).
 */
export function lazyLibc<S extends typeof ERRNO_SYMBOL & Deno.ForeignLibraryInterface>(
  symbols: S,
): { (): Deno.DynamicLibrary<S>["symbols"]; errno(): number; bindErrno(): void } {
  type Symbols = Deno.DynamicLibrary<S>["symbols"];
  const bound = new Map<string, unknown>();
  const bind = (name: string) => {
    if (!bound.has(name)) bound.set(name, Deno.dlopen("libc.so.6", { [name]: symbols[name] }).symbols[name]);
    return bound.get(name);
  };
  const lib = new Proxy({} as Symbols, {
    get(_, name: string) {
      if (!(name in symbols)) return undefined;
      // errno's reader is bound with the first call, before it: bound
      // after a failed call, dlopen's own lookups could overwrite errno
      bindErrno();
      return bind(name);
    },
  });
  const get = () => lib;
  // errno's address is the thread's for good (skiff calls libc from its
  // main thread only): asked once, with the first call, so reading errno
  // after a failed call is a plain memory read, no second native call
  // that could change it (seen under load: EINVAL and ENODATA read as ENOENT)
  let where: Deno.UnsafePointerView | null = null;
  const errnoView = () => {
    const p = (bound.get("__errno_location") as () => Deno.PointerValue)();
    return p === null ? null : new Deno.UnsafePointerView(p);
  };
  const bindErrno = () => {
    bind("__errno_location");
    where ??= errnoView();
  };
  return Object.assign(get, {
    errno(): number {
      if (where === null) bindErrno();
      return where === null ? 0 : where.getInt32();
    },
    bindErrno,
  });
}
