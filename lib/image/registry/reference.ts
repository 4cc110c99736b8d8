/**
 * Image references as docker normalises them (distribution's
 * `reference.ParseNormalizedNamed`): `alpine` is
 * `docker.io/library/alpine:latest`, `user/app` is `docker.io/user/app`,
 * and a first component with a `.` or a `:`, or `localhost`, names a
 * registry. Pure functions: nothing here reads a file or the network, so
 * the index may use it on the path of `run`.
 *
 * @module
 */

import { UsageError } from "../../errors.ts";

/** A parsed reference: where, which repository, and a tag or a digest. */
export interface Reference {
  /** The registry as the user names it: `docker.io`, `127.0.0.1:5000`. */
  registry: string;
  /** The repository path: `library/alpine`. */
  repository: string;
  /** The tag; `latest` when neither a tag nor a digest was given. */
  tag?: string;
  /** `sha256:HEX` when pinned by digest. */
  digest?: string;
}

/** docker.io's name in references, and the host its API answers on. */
export const DOCKER_HUB = "docker.io";
const DOCKER_HUB_API = "registry-1.docker.io";

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::\d+)?$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

function invalid(ref: string, why: string): UsageError {
  return new UsageError(`Invalid image reference "${ref}": ${why}`);
}

/** Whether `name`'s first component names a registry (has `.` or `:`, or is `localhost`). */
export function isQualified(name: string): boolean {
  const slash = name.indexOf("/");
  if (slash === -1) return false;
  const first = name.slice(0, slash);
  return first.includes(".") || first.includes(":") || first === "localhost" || first.startsWith("[");
}

/**
 * Parses and normalises a reference.
 *
 * @param defaultRegistry the registry of an unqualified name (docker.io,
 *   or the first of registries.conf's unqualified-search-registries)
 * @throws {UsageError} when the reference is malformed
 */
export function parseReference(ref: string, defaultRegistry = DOCKER_HUB): Reference {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) {
      throw invalid(ref, `"${digest}" is not a digest: use @sha256: and 64 hex digits`);
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(ref, `"${tag}" is not a tag: use letters, digits, "_", ".", "-"`);
  }
  let registry = defaultRegistry;
  let path = rest;
  if (isQualified(rest)) {
    const slash = rest.indexOf("/");
    registry = rest.slice(0, slash);
    path = rest.slice(slash + 1);
    if (!HOST.test(registry)) throw invalid(ref, `"${registry}" is not a registry host[:port]`);
  }
  if (registry === "index.docker.io" || registry === DOCKER_HUB_API) registry = DOCKER_HUB;
  if (path === "" || !path.split("/").every((c) => COMPONENT.test(c))) {
    throw invalid(
      ref,
      'use [REGISTRY/]NAME[:TAG|@DIGEST] with a lowercase name (a-z, 0-9, ".", "_", "-", "/")',
    );
  }
  if (registry === DOCKER_HUB && !path.includes("/")) path = `library/${path}`;
  if (tag === undefined && digest === undefined) tag = "latest";
  return { registry, repository: path, tag, digest };
}

/** `registry/repository`, the name part of a reference. */
export function repoName(ref: Reference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The reference as text: `docker.io/library/alpine:latest`, or `…@sha256:…`. */
export function formatReference(ref: Reference): string {
  return `${repoName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ""}${
    ref.digest !== undefined ? `@${ref.digest}` : ""
  }`;
}

/**
 * The `name:tag` a pulled image is kept under in the index. The index
 * holds tags only, so an image pulled by digest is tagged `sha256-HEX`
 * (as cosign names its artefacts), its tag if any ignored as docker does.
 */
export function storeKey(ref: Reference): string {
  return `${repoName(ref)}:${ref.digest !== undefined ? ref.digest.replace(":", "-") : ref.tag}`;
}

/**
 * The fully qualified `name:tag` an unqualified local name also answers
 * to (`alpine` -> `docker.io/library/alpine:latest`), or null when `ref`
 * is qualified, a digest, or malformed.
 */
export function hubKey(ref: string): string | null {
  if (isQualified(ref) || ref.includes("@")) return null;
  try {
    return storeKey(parseReference(ref));
  } catch {
    return null;
  }
}

/** The host[:port] the registry's HTTP API answers on: docker.io's is registry-1.docker.io. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/**
 * Whether a registry is reached over plain HTTP without asking: loopback
 * (127.0.0.0/8, ::1) and `localhost`, as docker treats them.
 */
export function isLoopback(registry: string): boolean {
  const host = registry.startsWith("[")
    ? registry.slice(1, registry.indexOf("]"))
    : registry.replace(/:\d+$/, "");
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
