/**
 * mod.ts must work when imported from a URL: only relative imports,
 * `node:` builtins and full `npm:` specifiers. The repository is served
 * over HTTP on 127.0.0.1 and a fresh Deno imports it from there.
 */

import assert from "node:assert/strict";
import { ROOT_ONLY } from "./helpers.ts";

const REPO = new URL("..", import.meta.url).pathname;

/** Serves the repository's files, read-only, on a free loopback port. */
function serveRepo(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.includes("..")) return new Response("no", { status: 400 });
    try {
      const body = await Deno.readFile(`${REPO}${path}`);
      return new Response(body, { headers: { "content-type": "application/typescript" } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

/** Runs a script that imports mod.ts from the server, in a cold Deno cache. */
async function runImporting(
  base: string,
  code: string,
  store: string,
  permissions: string[],
): Promise<{ code: number; out: string; err: string }> {
  const cache = await Deno.makeTempDir({ prefix: "skiff-denodir-" });
  try {
    const script = `import * as skiff from "${base}/mod.ts";\n${code}`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", "--no-lock", ...permissions, "-"],
      env: { DENO_DIR: cache, STORE: store },
      cwd: "/",
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = out.stdin.getWriter();
    await writer.write(new TextEncoder().encode(script));
    await writer.close();
    const result = await out.output();
    const text = new TextDecoder();
    return { code: result.code, out: text.decode(result.stdout), err: text.decode(result.stderr) };
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
}

Deno.test("mod.ts imports from a URL and lists images without any FFI", async () => {
  const server = serveRepo();
  const store = await Deno.makeTempDir({ prefix: "skiff-url-" });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const r = await runImporting(
      base,
      `const s = new skiff.Store(Deno.env.get("STORE")); await s.init();
       console.log(JSON.stringify(await skiff.listImages(s)), typeof skiff.runContainer);`,
      store,
      [
        `--allow-import=${new URL(base).host}`,
        "--allow-env=STORE",
        `--allow-read=${store}`,
        `--allow-write=${store}`,
      ],
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^\[\] function\n/);
  } finally {
    await server.shutdown();
    await Deno.remove(store, { recursive: true });
  }
});

Deno.test({
  name: "[root] a container runs from a URL import of mod.ts, its init fetched from there too",
  ...ROOT_ONLY,
  async fn() {
    const server = serveRepo();
    const store = await Deno.makeTempDir({ prefix: "skiff-url-" });
    try {
      const base = `http://127.0.0.1:${server.addr.port}`;
      const r = await runImporting(
        base,
        `const code = await skiff.runContainer(new skiff.Store(Deno.env.get("STORE")),
           { image: "busybox", command: ["sh", "-c", "echo pid=$$"], remove: true, network: { network: "none" } });
         console.log("exit", code);`,
        store,
        ["--allow-all"],
      );
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, "pid=1\nexit 0\n");
    } finally {
      await server.shutdown();
      await Deno.remove(store, { recursive: true });
    }
  },
});
