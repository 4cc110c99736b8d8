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
 * libc with `symbols`, opened on first use, so importing a binding needs no
 * `--allow-ffi`.
 */
export function lazyLibc<S extends typeof ERRNO_SYMBOL & Deno.ForeignLibraryInterface>(
  symbols: S,
): { (): Deno.DynamicLibrary<S>["symbols"]; errno(): number } {
  let lib: Deno.DynamicLibrary<S>["symbols"] | undefined;
  const get = () => (lib ??= Deno.dlopen("libc.so.6", symbols).symbols);
  return Object.assign(get, {
    errno(): number {
      const p = (get() as unknown as { __errno_location(): Deno.PointerValue }).__errno_location();
      return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
    },
  });
}
