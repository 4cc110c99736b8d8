/**
 * Thin bindings to libnftables (Debian's `libnftables1`, which the `nft`
 * command is a front end of, as firewalld uses it): one context, a
 * ruleset run as one transaction, the library's own error text. In the
 * calling thread's network namespace, with no `nft` process to start
 * (measured here: 24 ms for a spawned `nft -f`, 11 ms for the library
 * opened and run in-process). The rules themselves are the callers'
 * (lib/host/net/nft.ts). Opened on first use.
 *
 * @module
 */

import { cstr } from "./_c.ts";

const SYMBOLS = {
  // struct nft_ctx *nft_ctx_new(uint32_t flags)
  nft_ctx_new: { parameters: ["u32"], result: "pointer" },
  // int nft_ctx_buffer_error(struct nft_ctx *ctx)
  nft_ctx_buffer_error: { parameters: ["pointer"], result: "i32" },
  // int nft_run_cmd_from_buffer(struct nft_ctx *nft, const char *buf)
  nft_run_cmd_from_buffer: { parameters: ["pointer", "buffer"], result: "i32" },
  // const char *nft_ctx_get_error_buffer(struct nft_ctx *ctx)
  nft_ctx_get_error_buffer: { parameters: ["pointer"], result: "pointer" },
  // void nft_ctx_free(struct nft_ctx *ctx)
  nft_ctx_free: { parameters: ["pointer"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

let lib: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | undefined;

function nftables(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  if (lib === undefined) {
    try {
      lib = Deno.dlopen("libnftables.so.1", SYMBOLS).symbols;
    } catch (e) {
      throw new Error("Cannot load libnftables.so.1: install nftables (Debian: apt install nftables)", {
        cause: e,
      });
    }
  }
  return lib;
}

/**
 * Runs `ruleset` (nft's language, what `nft -f` reads) as one transaction:
 * all of it or nothing.
 *
 * @throws {Error} the library's first error line, `Error: …`
 */
export function runNftables(ruleset: string): void {
  const nft = nftables();
  const ctx = nft.nft_ctx_new(0);
  if (ctx === null) throw new Error("nftables: cannot make a context");
  try {
    nft.nft_ctx_buffer_error(ctx);
    if (nft.nft_run_cmd_from_buffer(ctx, cstr(ruleset)) !== 0) {
      const text = nft.nft_ctx_get_error_buffer(ctx);
      const first = text === null ? "" : Deno.UnsafePointerView.getCString(text).split("\n")[0];
      throw new Error(first || "nftables refused the ruleset");
    }
  } finally {
    nft.nft_ctx_free(ctx);
  }
}
