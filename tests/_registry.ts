/**
 * Helpers for the registry tests: Debian's `docker-registry` on
 * 127.0.0.1 with a config of the test's own, a fault-injecting proxy in
 * front of it, and OCI layouts built with umoci to fill it with skopeo.
 *
 * @module
 */

import { waitFor } from "./helpers.ts";
import { sh, umociImage as umociLayout } from "./_oci.ts";

export { sh, treeListing } from "./_oci.ts";

/** The compatibility tests' three-layer image (tests/_oci.ts), with `/bin/sh` as its command. */
export async function umociImage(dir: string): Promise<void> {
  await umociLayout(dir, { cmd: "/bin/sh" });
}

/** A running registry. */
export interface TestRegistry {
  /** `127.0.0.1:PORT`, or `[::1]:PORT`. */
  host: string;
  dir: string;
  stop(): Promise<void>;
}

/** A port nobody listens on now, on 127.0.0.1 (or `hostname`). */
export function freePort(hostname = "127.0.0.1"): number {
  const l = Deno.listen({ hostname, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Starts docker-registry on a free port of 127.0.0.1 (with `ipv6`, of
 * ::1), storing in a temporary directory; with `htpasswd`, Basic auth for
 * those users.
 */
export async function startRegistry(
  opts: { users?: Record<string, string>; token?: TokenServer; ipv6?: boolean } = {},
): Promise<TestRegistry> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-registry-" });
  const loopback = opts.ipv6 ? "[::1]" : "127.0.0.1";
  const port = freePort(opts.ipv6 ? "::1" : "127.0.0.1");
  let auth = "";
  if (opts.token) {
    auth =
      `auth:\n  token:\n    realm: http://${opts.token.host}/token\n    service: ${opts.token.service}\n` +
      `    issuer: ${opts.token.issuer}\n    rootcertbundle: ${opts.token.certFile}\n`;
  }
  if (opts.users) {
    for (const [user, password] of Object.entries(opts.users)) {
      await sh(
        `htpasswd -B -b ${exists(`${dir}/htpasswd`) ? "" : "-c"} "$1" "$2" "$3"`,
        `${dir}/htpasswd`,
        user,
        password,
      );
    }
    auth = `auth:\n  htpasswd:\n    realm: skiff-test\n    path: ${dir}/htpasswd\n`;
  }
  await Deno.writeTextFile(
    `${dir}/config.yml`,
    `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${dir}/data
  delete:
    enabled: true
http:
  addr: "${loopback}:${port}"
${auth}`,
  );
  const child = new Deno.Command("docker-registry", {
    args: ["serve", `${dir}/config.yml`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const host = `${loopback}:${port}`;
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
    await child.stderr.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  };
  try {
    await waitFor(async () => {
      try {
        const res = await fetch(`http://${host}/v2/`);
        await res.body?.cancel();
        return res.status === 200 || res.status === 401;
      } catch {
        return false;
      }
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { host, dir, stop };
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** What the proxy does to the next requests. */
export interface Faults {
  /** Answer 429 with Retry-After: 1 to this many blob GETs first. */
  tooMany?: number;
  /** Flip a byte of blob bodies. */
  corrupt?: boolean;
  /** Send only this many bytes of blob bodies, then end. */
  cutAfter?: number;
  /** Send this many bytes of blob bodies, then nothing until the proxy stops. */
  stallAfter?: number;
  /** Answer manifest GETs with this instead of the registry's manifest. */
  manifest?: { body: string; contentType: string };
}

/** A proxy in front of a registry that injects faults and records requests. */
export interface FaultProxy {
  host: string;
  faults: Faults;
  /** "METHOD path [Range]" of each request seen. */
  seen: string[];
  stop(): Promise<void>;
}

/** Starts a fault-injecting HTTP proxy to `upstream` (host:port). */
export function startProxy(upstream: string): FaultProxy {
  const proxy: FaultProxy = { host: "", faults: {}, seen: [], stop: () => Promise.resolve() };
  let release = () => {};
  const stopping = new Promise<void>((r) => release = r);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const range = req.headers.get("Range");
    proxy.seen.push(`${req.method} ${url.pathname}${range ? ` ${range}` : ""}`);
    const isBlob = req.method === "GET" && url.pathname.includes("/blobs/sha256:");
    if (proxy.faults.manifest && req.method === "GET" && url.pathname.includes("/manifests/")) {
      const { body, contentType } = proxy.faults.manifest;
      return new Response(body, { headers: { "Content-Type": contentType } });
    }
    if (isBlob && (proxy.faults.tooMany ?? 0) > 0) {
      proxy.faults.tooMany!--;
      return new Response("slow down", { status: 429, headers: { "Retry-After": "1" } });
    }
    const headers = new Headers(req.headers);
    headers.delete("host");
    const res = await fetch(`http://${upstream}${url.pathname}${url.search}`, {
      method: req.method,
      headers,
      body: req.body,
      redirect: "manual",
    });
    const { corrupt, cutAfter, stallAfter } = proxy.faults;
    if (!isBlob || !res.ok || (!corrupt && cutAfter === undefined && stallAfter === undefined)) {
      return new Response(res.body, { status: res.status, headers: res.headers });
    }
    const body = new Uint8Array(await res.arrayBuffer());
    const out = new Headers(res.headers);
    out.delete("content-length");
    if (proxy.faults.corrupt) {
      body[Math.floor(body.length / 2)] ^= 0xff;
      return new Response(body, { status: res.status, headers: out });
    }
    if (stallAfter !== undefined && body.length > stallAfter) {
      const stream = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(body.slice(0, stallAfter));
          await stopping;
          controller.close();
        },
      });
      return new Response(stream, { status: res.status, headers: out });
    }
    const cut = body.subarray(0, Math.min(cutAfter ?? body.length, body.length));
    return new Response(cut, { status: res.status, headers: out });
  });
  proxy.host = `127.0.0.1:${server.addr.port}`;
  proxy.stop = () => {
    release();
    return server.shutdown();
  };
  return proxy;
}

/** A token server for docker-registry's token auth. */
export interface TokenServer {
  host: string;
  service: string;
  issuer: string;
  /** The PEM certificate the registry trusts (its rootcertbundle). */
  certFile: string;
  /** "service scope user" of each token asked for. */
  seen: string[];
  stop(): Promise<void>;
}

function b64url(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Starts a token server: ES256 JWTs whose x5c header carries a
 * self-signed certificate (made here by openssl, written to `dir`), `aud`
 * a string equal to the service. Anyone may pull; `users` may also push.
 */
export async function startTokenServer(dir: string, users: Record<string, string>): Promise<TokenServer> {
  await sh(
    `cd "$1" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem -out cert.pem -days 2 -subj /CN=skiff-token 2>/dev/null
openssl x509 -in cert.pem -outform DER -out cert.der`,
    dir,
  );
  const pem = await Deno.readTextFile(`${dir}/key.pem`);
  const der = Uint8Array.from(atob(pem.replace(/-----[^-]+-----|\s/g, "")), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, false, [
    "sign",
  ]);
  const x5c = btoa(String.fromCharCode(...await Deno.readFile(`${dir}/cert.der`)));
  const server: TokenServer = {
    host: "",
    service: "skiff-test-registry",
    issuer: "skiff-test-issuer",
    certFile: `${dir}/cert.pem`,
    seen: [],
    stop: () => Promise.resolve(),
  };
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const service = url.searchParams.get("service") ?? "";
    const scopes = url.searchParams.getAll("scope");
    let user = "";
    const auth = req.headers.get("Authorization");
    if (auth?.startsWith("Basic ")) {
      const [name, ...rest] = atob(auth.slice(6)).split(":");
      if (users[name] !== rest.join(":")) return new Response("bad credentials", { status: 401 });
      user = name;
    }
    server.seen.push(`${service} ${scopes.join(" ")} ${user || "-"}`);
    const access = scopes.map((scope) => {
      const [type, name, actions] = scope.split(":");
      const wanted = (actions ?? "").split(",");
      return { type, name, actions: wanted.filter((a) => a === "pull" || user !== "") };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ typ: "JWT", alg: "ES256", x5c: [x5c] }));
    const claims = b64url(JSON.stringify({
      iss: server.issuer,
      sub: user,
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: crypto.randomUUID(),
      access,
    }));
    const signature = new Uint8Array(
      await crypto.subtle.sign(
        { name: "ECDSA", hash: "SHA-256" },
        key,
        new TextEncoder().encode(`${header}.${claims}`),
      ),
    );
    return Response.json({ token: `${header}.${claims}.${b64url(signature)}`, expires_in: 300 });
  });
  server.host = `127.0.0.1:${http.addr.port}`;
  server.stop = () => http.shutdown();
  return server;
}
