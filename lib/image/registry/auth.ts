/**
 * Credentials as containers-auth.json(5) keeps them: `{"auths": {"KEY":
 * {"auth": base64("user:password")}}}`, where KEY is a registry
 * (`quay.io`) or a repository under it (`quay.io/team`), the most specific
 * winning.
 *
 * Which files: `--authfile`, else `$REGISTRY_AUTH_FILE`, alone; else
 * `$XDG_RUNTIME_DIR/containers/auth.json` (root without it:
 * `/run/containers/0/auth.json`), `~/.config/containers/auth.json`, then
 * `~/.docker/config.json`, read in that order. `login` writes the first of
 * them (never docker's), 0600.
 *
 * @module
 */

import { UsageError } from "../../errors.ts";
import { DOCKER_HUB } from "./reference.ts";

/** A user name and password (or an identity token as password). */
export interface Credentials {
  username: string;
  password: string;
}

interface AuthFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string }>;
  [other: string]: unknown;
}

type Env = (name: string) => string | undefined;
const realEnv: Env = (n) => Deno.env.get(n);

/**
 * The auth files to read, in order; the first is the one `login` writes.
 *
 * @param authfile `--authfile`, when given
 */
export function authFiles(authfile?: string, env: Env = realEnv, uid = Deno.uid()): string[] {
  const only = authfile ?? env("REGISTRY_AUTH_FILE");
  if (only) return [only];
  const files: string[] = [];
  const runtime = env("XDG_RUNTIME_DIR");
  if (runtime) files.push(`${runtime}/containers/auth.json`);
  else if (uid === 0) files.push("/run/containers/0/auth.json");
  const home = env("HOME");
  if (home) files.push(`${home}/.config/containers/auth.json`, `${home}/.docker/config.json`);
  return files;
}

/** The keys a registry's credentials may sit under in auth files. */
function registryKeys(registry: string): string[] {
  if (registry !== DOCKER_HUB) return [registry, `https://${registry}`, `http://${registry}`];
  // docker login writes Docker Hub's old index URL
  return [DOCKER_HUB, "https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io"];
}

function readAuthFile(path: string): AuthFile | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new Error(`Cannot read credentials from "${path}"`, { cause: e });
  }
  try {
    const parsed = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new Error("not an object");
    }
    return parsed as AuthFile;
  } catch (e) {
    throw new UsageError(
      `Cannot read credentials from "${path}": it is not valid JSON (${(e as Error).message})`,
    );
  }
}

function decode(entry: { auth?: string; username?: string; password?: string }): Credentials | null {
  if (typeof entry.auth === "string" && entry.auth !== "") {
    let text: string;
    try {
      text = new TextDecoder().decode(Uint8Array.from(atob(entry.auth), (c) => c.charCodeAt(0)));
    } catch {
      return null;
    }
    const colon = text.indexOf(":");
    if (colon === -1) return null;
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  if (typeof entry.username === "string" && typeof entry.password === "string") {
    return { username: entry.username, password: entry.password };
  }
  return null;
}

/**
 * The credentials for a repository: the most specific key of the first
 * file that has one (`reg/a/b`, `reg/a`, then `reg`).
 *
 * @param repository the path under the registry, or undefined for the registry itself
 */
export function findCredentials(files: string[], registry: string, repository?: string): Credentials | null {
  const keys: string[] = [];
  if (repository !== undefined) {
    const parts = repository.split("/");
    for (let n = parts.length; n > 0; n--) keys.push(`${registry}/${parts.slice(0, n).join("/")}`);
  }
  keys.push(...registryKeys(registry));
  for (const file of files) {
    const auths = readAuthFile(file)?.auths ?? {};
    for (const key of keys) {
      const entry = auths[key];
      const found = entry ? decode(entry) : null;
      if (found) return found;
    }
  }
  return null;
}

/** Writes `data` to `path` atomically, 0600, making its directory 0700. */
function writePrivate(path: string, data: AuthFile): void {
  const dir = path.slice(0, path.lastIndexOf("/"));
  if (dir !== "") Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    Deno.writeTextFileSync(tmp, JSON.stringify(data, null, "\t") + "\n", { mode: 0o600 });
    Deno.chmodSync(tmp, 0o600);
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* never made */ }
    throw new Error(`Cannot write credentials to "${path}"`, { cause: e });
  }
}

/** Stores credentials for `key` (a registry, or registry/repository) in `file`. */
export function saveCredentials(file: string, key: string, creds: Credentials): void {
  const data = readAuthFile(file) ?? {};
  const auth = btoa(String.fromCharCode(...new TextEncoder().encode(`${creds.username}:${creds.password}`)));
  data.auths = { ...data.auths, [key]: { auth } };
  writePrivate(file, data);
}

/**
 * Removes the credentials for `key` from every writable auth file (not
 * docker's).
 *
 * @returns whether any were there
 */
export function removeCredentials(files: string[], key: string): boolean {
  let found = false;
  for (const file of files.filter((f) => !f.endsWith("/.docker/config.json") || files.length === 1)) {
    const data = readAuthFile(file);
    if (!data?.auths) continue;
    const keys = key.includes("/") ? [key] : registryKeys(key);
    const present = keys.filter((k) => k in data.auths!);
    if (present.length === 0) continue;
    for (const k of present) delete data.auths[k];
    writePrivate(file, data);
    found = true;
  }
  return found;
}
