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
): { (): Deno.DynamicLibrary<S>["symbols"]; errno(): number } {
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
      // (seen: prctl's EINVAL read as ENOENT, under load)
      bind("__errno_location");
      return bind(name);
    },
  });
  const get = () => lib;
  return Object.assign(get, {
    errno(): number {
      const p = (get() as unknown as { __errno_location(): Deno.PointerValue }).__errno_location();
      return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
    },
  });
}
