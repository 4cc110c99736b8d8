import assert from "node:assert/strict";
import { authFiles, findCredentials, removeCredentials, saveCredentials } from "./auth.ts";

async function withDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-auth-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("auth files in containers-auth.json(5)'s order; --authfile or $REGISTRY_AUTH_FILE alone", () => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  assert.deepEqual(authFiles(undefined, env({ HOME: "/h", XDG_RUNTIME_DIR: "/run/user/1" }), 1), [
    "/run/user/1/containers/auth.json",
    "/h/.config/containers/auth.json",
    "/h/.docker/config.json",
  ]);
  assert.deepEqual(authFiles(undefined, env({ HOME: "/root" }), 0), [
    "/run/containers/0/auth.json",
    "/root/.config/containers/auth.json",
    "/root/.docker/config.json",
  ]);
  assert.deepEqual(authFiles(undefined, env({ HOME: "/h", REGISTRY_AUTH_FILE: "/x.json" }), 0), ["/x.json"]);
  assert.deepEqual(authFiles("/flag.json", env({ REGISTRY_AUTH_FILE: "/x.json" }), 0), ["/flag.json"]);
});

Deno.test("the most specific key of the first file wins; docker's Hub key is read", () =>
  withDir((dir) => {
    const a = `${dir}/a.json`;
    const b = `${dir}/b.json`;
    const enc = (s: string) => btoa(s);
    Deno.writeTextFileSync(
      a,
      JSON.stringify({
        auths: { "quay.io": { auth: enc("u:reg") }, "quay.io/team": { auth: enc("u:team") } },
      }),
    );
    Deno.writeTextFileSync(
      b,
      JSON.stringify({ auths: { "https://index.docker.io/v1/": { auth: enc("d:hub:pw") } } }),
    );
    assert.deepEqual(findCredentials([a, b], "quay.io", "team/app"), { username: "u", password: "team" });
    assert.deepEqual(findCredentials([a, b], "quay.io", "other/app"), { username: "u", password: "reg" });
    assert.deepEqual(findCredentials([a, b], "docker.io", "library/alpine"), {
      username: "d",
      password: "hub:pw",
    });
    assert.equal(findCredentials([a, b], "ghcr.io", "x"), null);
    assert.equal(findCredentials([`${dir}/missing.json`], "quay.io"), null);
    Deno.writeTextFileSync(`${dir}/bad.json`, "{");
    assert.throws(
      () => findCredentials([`${dir}/bad.json`], "quay.io"),
      /Cannot read credentials from ".*bad.json": it is not valid JSON/,
    );
  }));

Deno.test("saved credentials are 0600 in a 0700 directory, other keys kept; removal says whether any were there", () =>
  withDir((dir) => {
    const file = `${dir}/containers/auth.json`;
    saveCredentials(file, "a.example", { username: "x", password: "p:é" });
    saveCredentials(file, "b.example", { username: "y", password: "q" });
    assert.equal(Deno.statSync(file).mode! & 0o777, 0o600);
    assert.equal(Deno.statSync(`${dir}/containers`).mode! & 0o777, 0o700);
    assert.deepEqual(findCredentials([file], "a.example"), { username: "x", password: "p:é" });
    assert.equal(removeCredentials([file], "a.example"), true);
    assert.equal(removeCredentials([file], "a.example"), false);
    assert.deepEqual(Object.keys(JSON.parse(Deno.readTextFileSync(file)).auths), ["b.example"]);
  }));
