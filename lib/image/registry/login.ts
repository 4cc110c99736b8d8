/**
 * `login` and `logout`: credentials checked against the registry's
 * `/v2/` (Basic, or a token fetched with them), then kept as
 * containers-auth.json(5) says (see auth.ts).
 *
 * @module
 */

import { UsageError } from "../../errors.ts";
import { authFiles, type Credentials, removeCredentials, saveCredentials } from "./auth.ts";
import { RegistryClient } from "./client.ts";
import { DOCKER_HUB } from "./reference.ts";

/** A registry as `login` takes it: a host[:port], perhaps with a repository path, no scheme. */
export function loginKey(registry: string): string {
  const key = registry.replace(/^https?:\/\//, "").replace(/\/+$/, "");
  if (key === "" || /\s/.test(key)) throw new UsageError(`Invalid registry "${registry}": use HOST[:PORT]`);
  return key === "index.docker.io" || key === "registry-1.docker.io" ? DOCKER_HUB : key;
}

/**
 * Checks `creds` against the registry and stores them.
 *
 * @returns the file written
 * @throws {Error} when the registry refuses them (nothing is written)
 */
export async function login(
  registry: string,
  creds: Credentials,
  opts: { authfile?: string; tlsVerify?: boolean } = {},
): Promise<string> {
  const key = loginKey(registry);
  const host = key.split("/")[0];
  const client = new RegistryClient(host, { credentials: creds, tlsVerify: opts.tlsVerify });
  const res = await client.fetch("/v2/", { scope: "" }).catch((e) => {
    throw new Error(`Cannot log in to "${key}"`, { cause: e });
  });
  await res.body?.cancel();
  if (res.status === 401 || res.status === 403) {
    throw new Error(`Cannot log in to "${key}": the registry refused the user name or password`);
  }
  if (!res.ok) throw new Error(`Cannot log in to "${key}": the registry answered ${res.status} to /v2/`);
  const file = authFiles(opts.authfile)[0];
  if (file === undefined) throw new UsageError("Cannot store credentials: set HOME, or give --authfile FILE");
  saveCredentials(file, key, creds);
  return file;
}

/**
 * Removes the stored credentials of a registry.
 *
 * @throws {Error} when there were none
 */
export function logout(registry: string, opts: { authfile?: string } = {}): void {
  const key = loginKey(registry);
  if (!removeCredentials(authFiles(opts.authfile), key)) {
    throw new Error(`Not logged in to "${key}"`);
  }
}
