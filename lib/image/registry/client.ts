/**
 * HTTP to one registry (OCI distribution spec), on Deno's own `fetch`:
 * streaming bodies, proxies from the environment, and `Authorization`
 * dropped when a redirect leaves the origin (a blob sent to a CDN never
 * gets the registry's credentials).
 *
 * Auth follows what registries answer: Basic is sent up front when
 * credentials are known; a `Bearer` challenge is answered with a token
 * from its realm, asked with `service` and `scope` (and Basic credentials
 * when known), kept per scope until `expires_in`, and asked again on
 * `insufficient_scope`. 429 and 5xx are retried with backoff, honouring
 * `Retry-After`.
 *
 * @module
 */

import type { Credentials } from "./auth.ts";
import { apiHost, isLoopback } from "./reference.ts";

/** A `WWW-Authenticate` challenge: its scheme and parameters. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header (RFC 7235): `Bearer
 * realm="https://a/token",service="reg",scope="repository:x:pull,push"`.
 * Quoted values may hold commas and escaped quotes.
 */
export function parseChallenge(header: string): Challenge | null {
  const m = /^\s*([A-Za-z][A-Za-z0-9._~+/-]*)\s*(.*)$/s.exec(header);
  if (!m) return null;
  const params: Record<string, string> = {};
  const rest = m[2];
  const param = /\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*(?:,|$)/gy;
  let p: RegExpExecArray | null;
  while (param.lastIndex < rest.length && (p = param.exec(rest)) !== null) {
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3];
  }
  return { scheme: m[1].toLowerCase(), params };
}

/** How to reach a registry. */
export interface ClientOptions {
  /** false: plain HTTP even off loopback (`--tls-verify=false`, `insecure = true`). */
  tlsVerify?: boolean;
  credentials?: Credentials | null;
  /** Retries of a 429 or 5xx before giving up (default 4). */
  retries?: number;
  /** Milliseconds of the first backoff (default 500), doubled each time. */
  backoffMs?: number;
}

/** The registry said no: the status and what it said, for the caller's message. */
export class RegistryError extends Error {
  override name = "RegistryError";
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

/** What a request may add: the scope it needs, for a token. */
export interface RegistryRequest extends RequestInit {
  /** e.g. `repository:library/alpine:pull`. */
  scope: string;
  /** Bodies that can be sent again (strings, bytes) may be retried; streams not. */
  replayable?: boolean;
}

interface Token {
  value: string;
  expires: number;
}

/** A client of one registry. */
export class RegistryClient {
  /** `http://127.0.0.1:5000` or `https://registry-1.docker.io`. */
  readonly base: string;
  #creds: Credentials | null;
  #challenge: Challenge | null = null;
  #tokens = new Map<string, Token>();
  #retries: number;
  #backoff: number;

  /** @param registry host[:port] as references name it (`docker.io`) */
  constructor(readonly registry: string, opts: ClientOptions = {}) {
    const plain = isLoopback(registry) || opts.tlsVerify === false;
    this.base = `${plain ? "http" : "https"}://${apiHost(registry)}`;
    this.#creds = opts.credentials ?? null;
    this.#retries = opts.retries ?? 4;
    this.#backoff = opts.backoffMs ?? 500;
  }

  /** Whether credentials were given. */
  get hasCredentials(): boolean {
    return this.#creds !== null;
  }

  /**
   * Sends a request to `path` (under /v2/) or to an absolute URL, with
   * auth and retries; the response is the caller's, body unread.
   *
   * @throws {Error} when the registry cannot be reached (the cause kept)
   */
  async fetch(path: string, req: RegistryRequest): Promise<Response> {
    const url = /^https?:\/\//.test(path) ? path : `${this.base}${path}`;
    const replayable = req.replayable ?? (req.body === undefined || req.body === null ||
      typeof req.body === "string" || req.body instanceof Uint8Array);
    let triedAuth = false;
    let forceToken = false;
    for (let attempt = 0;; attempt++) {
      const headers = new Headers(req.headers);
      const auth = await this.#authorization(req.scope, forceToken);
      if (auth && sameOrigin(url, this.base)) headers.set("Authorization", auth);
      let res: Response;
      try {
        res = await fetch(url, { ...req, headers });
      } catch (e) {
        throw new Error(`Cannot reach registry "${this.registry}" at ${new URL(url).origin}`, {
          cause: brief(e),
        });
      }
      if (res.status === 401 && !triedAuth && replayable) {
        const challenge = parseChallenge(res.headers.get("WWW-Authenticate") ?? "");
        await res.body?.cancel();
        triedAuth = true;
        if (challenge?.scheme === "bearer") {
          this.#challenge = challenge;
          this.#tokens.delete(req.scope);
          forceToken = true;
          continue;
        }
        if (challenge?.scheme === "basic" && this.#creds && this.#challenge?.scheme !== "basic") {
          this.#challenge = challenge;
          continue;
        }
        return new Response(null, { status: 401, headers: res.headers });
      }
      if (res.status === 403 && replayable && !triedAuth && this.#challenge?.scheme === "bearer") {
        // insufficient_scope: a token for a narrower scope was sent
        const challenge = parseChallenge(res.headers.get("WWW-Authenticate") ?? "");
        if (challenge?.params.error === "insufficient_scope") {
          await res.body?.cancel();
          triedAuth = true;
          this.#tokens.delete(req.scope);
          forceToken = true;
          continue;
        }
      }
      if ((res.status === 429 || res.status >= 500) && replayable && attempt < this.#retries) {
        const wait = retryAfter(res.headers.get("Retry-After")) ?? this.#backoff * 2 ** attempt;
        await res.body?.cancel();
        await new Promise((r) => setTimeout(r, Math.min(wait, 60_000)));
        continue;
      }
      return res;
    }
  }

  /** The Authorization header for a scope: a token, Basic, or none. */
  async #authorization(scope: string, forceToken: boolean): Promise<string | null> {
    if (this.#challenge?.scheme === "bearer") {
      const cached = this.#tokens.get(scope);
      if (cached && cached.expires > Date.now() && !forceToken) return `Bearer ${cached.value}`;
      const token = await this.#fetchToken(this.#challenge, scope);
      return token ? `Bearer ${token}` : null;
    }
    return this.#creds ? basic(this.#creds) : null;
  }

  async #fetchToken(challenge: Challenge, scope: string): Promise<string | null> {
    const realm = challenge.params.realm;
    if (!realm) throw new Error(`Registry "${this.registry}" sent a Bearer challenge without a realm`);
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
    // several scopes (a push that mounts from another repository) go as several parameters
    for (const one of scope.split(" ").filter((x) => x !== "")) url.searchParams.append("scope", one);
    const headers = new Headers();
    if (this.#creds) headers.set("Authorization", basic(this.#creds));
    let res: Response;
    try {
      res = await fetch(url, { headers });
    } catch (e) {
      throw new Error(`Cannot reach the token server of "${this.registry}" at ${url.origin}`, {
        cause: brief(e),
      });
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new RegistryError(`The token server of "${this.registry}" answered ${res.status}`, res.status);
    }
    const body = await res.json().catch(() => ({})) as {
      token?: string;
      access_token?: string;
      expires_in?: number;
    };
    const value = body.token ?? body.access_token;
    if (typeof value !== "string" || value === "") {
      throw new Error(`The token server of "${this.registry}" sent no token`);
    }
    // 60 s is the spec's default lifetime; keep a margin for the clock
    const seconds = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : 60;
    this.#tokens.set(scope, { value, expires: Date.now() + (seconds - 5) * 1000 });
    return value;
  }
}

function basic(c: Credentials): string {
  return `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${c.username}:${c.password}`)))}`;
}

function sameOrigin(a: string, b: string): boolean {
  return new URL(a).origin === new URL(b).origin;
}

/** Retry-After: seconds or an HTTP date, as milliseconds. */
export function retryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** A fetch error as one short line (Deno's messages repeat the URL). */
function brief(e: unknown): Error {
  const message = (e as Error).message ?? String(e);
  const inner = (e as Error).cause as Error | undefined;
  // "error sending request for url (…): client error (Connect): dns error: …" -> "dns error: …"
  const text = (inner?.message ?? message).split("\n")[0].replace(/ \(os error \d+\)/, "")
    .replace(/^error sending request for url \([^)]*\): /, "").replace(/^client error \([A-Za-z]+\): /, "");
  return new Error(text);
}
