import assert from "node:assert/strict";
import { parseChallenge, RegistryClient, retryAfter } from "./client.ts";

Deno.test("a Bearer challenge's quoted values keep their commas and escaped quotes", () => {
  assert.deepEqual(
    parseChallenge(
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push",error="insufficient_scope"',
    ),
    {
      scheme: "bearer",
      params: {
        realm: "https://auth.example/token",
        service: "registry.example",
        scope: "repository:a/b:pull,push",
        error: "insufficient_scope",
      },
    },
  );
  assert.deepEqual(parseChallenge('Basic realm="a \\"quoted\\" realm"'), {
    scheme: "basic",
    params: { realm: 'a "quoted" realm' },
  });
  assert.deepEqual(parseChallenge("Bearer realm=https://x/t, service=svc"), {
    scheme: "bearer",
    params: { realm: "https://x/t", service: "svc" },
  });
  assert.equal(parseChallenge(""), null);
});

Deno.test("Retry-After is read as seconds or as a date", () => {
  assert.equal(retryAfter("3"), 3000);
  assert.equal(retryAfter(new Date(10_000).toUTCString(), 4_000), 6000);
  assert.equal(retryAfter("soon"), null);
  assert.equal(retryAfter(null), null);
});

/** A fake registry with token auth on one port and its token server on another. */
async function withFakes(
  fn: (hosts: { registry: string; other: string }, log: string[]) => Promise<void>,
): Promise<void> {
  const log: string[] = [];
  const tokens = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    log.push(
      `token service=${url.searchParams.get("service")} scope=${url.searchParams.get("scope")} auth=${
        req.headers.get("Authorization") ?? "-"
      }`,
    );
    if (req.headers.get("Authorization") !== `Basic ${btoa("bob:pw")}`) {
      return new Response(null, { status: 401 });
    }
    const scope = url.searchParams.get("scope") ?? "";
    return Response.json({ token: `T(${scope})`, expires_in: 300 });
  });
  const other = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    log.push(`other ${new URL(req.url).pathname} auth=${req.headers.get("Authorization") ?? "-"}`);
    return new Response("blob");
  });
  let tooMany = 1;
  const registry = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    const auth = req.headers.get("Authorization") ?? "-";
    log.push(`registry ${req.method} ${url.pathname} auth=${auth}`);
    const need = url.pathname.includes("/push-me/") ? "repository:a/b:pull,push" : "repository:a/b:pull";
    const challenge = (error = "") =>
      `Bearer realm="http://127.0.0.1:${tokens.addr.port}/token",service="fake, registry",scope="${need}"${
        error ? `,error="${error}"` : ""
      }`;
    if (!auth.startsWith("Bearer ")) {
      return new Response(null, { status: 401, headers: { "WWW-Authenticate": challenge() } });
    }
    if (auth !== `Bearer T(${need})`) {
      return new Response(null, {
        status: 403,
        headers: { "WWW-Authenticate": challenge("insufficient_scope") },
      });
    }
    if (url.pathname.endsWith("/slow") && tooMany-- > 0) {
      return new Response(null, { status: 429, headers: { "Retry-After": "0" } });
    }
    if (url.pathname.endsWith("/redirect")) {
      return new Response(null, {
        status: 307,
        headers: { Location: `http://127.0.0.1:${other.addr.port}/cdn` },
      });
    }
    return new Response("ok");
  });
  try {
    await fn({ registry: `127.0.0.1:${registry.addr.port}`, other: `127.0.0.1:${other.addr.port}` }, log);
  } finally {
    await Promise.all([tokens.shutdown(), other.shutdown(), registry.shutdown()]);
  }
}

Deno.test("a Bearer challenge is answered with a token asked with service, scope and Basic, then kept", async () => {
  await withFakes(async ({ registry }, log) => {
    const client = new RegistryClient(registry, { credentials: { username: "bob", password: "pw" } });
    const scope = "repository:a/b:pull";
    const res = await client.fetch("/v2/a/b/manifests/1", { scope });
    assert.equal(await res.text(), "ok");
    assert.equal((await client.fetch("/v2/a/b/blobs/x", { scope })).status, 200);
    assert.deepEqual(log, [
      `registry GET /v2/a/b/manifests/1 auth=Basic ${btoa("bob:pw")}`,
      `token service=fake, registry scope=${scope} auth=Basic ${btoa("bob:pw")}`,
      `registry GET /v2/a/b/manifests/1 auth=Bearer T(${scope})`,
      `registry GET /v2/a/b/blobs/x auth=Bearer T(${scope})`,
    ]);
  });
});

Deno.test("insufficient_scope asks for a token of the wider scope", async () => {
  await withFakes(async ({ registry }, log) => {
    const client = new RegistryClient(registry, { credentials: { username: "bob", password: "pw" } });
    await (await client.fetch("/v2/a/b/manifests/1", { scope: "repository:a/b:pull" })).body?.cancel();
    log.length = 0;
    const res = await client.fetch("/v2/a/b/push-me/x", {
      scope: "repository:a/b:pull,push",
      method: "HEAD",
    });
    assert.equal(res.status, 200);
    assert.ok(log.some((l) => l.includes("scope=repository:a/b:pull,push")), log.join("\n"));
  });
});

Deno.test("without credentials a token registry's 401 comes back to the caller", async () => {
  await withFakes(async ({ registry }) => {
    const client = new RegistryClient(registry);
    const res = await client.fetch("/v2/a/b/manifests/1", { scope: "repository:a/b:pull" });
    assert.equal(res.status, 401);
  });
});

Deno.test("a 429 is retried, and a redirect to another origin gets no credentials", async () => {
  await withFakes(async ({ registry }, log) => {
    const client = new RegistryClient(registry, {
      credentials: { username: "bob", password: "pw" },
      backoffMs: 1,
    });
    const scope = "repository:a/b:pull";
    assert.equal((await client.fetch("/v2/a/b/slow", { scope })).status, 200);
    assert.equal(log.filter((l) => l.startsWith("registry GET /v2/a/b/slow")).length, 3, log.join("\n"));
    const res = await client.fetch("/v2/a/b/redirect", { scope });
    assert.equal(await res.text(), "blob");
    assert.ok(log.includes("other /cdn auth=-"), log.join("\n"));
  });
});
