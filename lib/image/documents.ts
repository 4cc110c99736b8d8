/**
 * The JSON documents of image archives and registries, checked for shape
 * before anything uses them: OCI indexes, manifests and configs
 * (image-spec), and docker's `manifest.json` (`docker save`). Each check
 * takes the parsed value and `where` (the document's file or digest) and
 * returns it typed, or throws `WHERE: layers must be an array` and the like.
 * Fields skiff does not read are left as they are.
 *
 * @module
 */

import { checkEnv } from "./env.ts";
import type { ImageConfig } from "./images.ts";
import type { Platform } from "./platform.ts";

/** A content descriptor, as checked: a sha256 digest and a size. */
export interface CheckedDescriptor {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
}

/** An OCI image index (or docker manifest list). */
export interface CheckedIndex {
  mediaType?: string;
  manifests: CheckedDescriptor[];
}

/** An OCI image manifest (or docker's v2 schema 2, the same shape). */
export interface CheckedManifest {
  mediaType?: string;
  config: CheckedDescriptor;
  layers: CheckedDescriptor[];
}

/** One image of a `docker save` manifest.json. */
export interface DockerEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

/** The media types of an index, OCI's and docker's. */
export const INDEX_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
];

const DIGEST = /^sha256:[0-9a-f]{64}$/;

type Doc = Record<string, unknown>;

function isObject(v: unknown): v is Doc {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string");
}

/** A value as an error shows it: JSON, cut when long. */
function shown(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/**
 * Parses a document. The error never quotes it: V8's message does, and a
 * document may be someone's secret reached through a link.
 *
 * @throws {Error} `WHERE: it is not valid JSON`
 */
export function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${where}: it is not valid JSON`);
  }
}

/** Checks that `v` is an object; returns it. */
function object(v: unknown, where: string, field?: string): Doc {
  if (!isObject(v)) {
    throw new Error(field ? `${where}: ${field} must be an object` : `${where}: it must be an object`);
  }
  return v;
}

function schemaVersion2(doc: Doc, where: string): void {
  if (doc.schemaVersion !== 2) throw new Error(`${where}: schemaVersion must be 2`);
}

/** A sha256 digest; other algorithms and malformed ones are refused. */
export function checkDigest(v: unknown, where: string, field: string): string {
  if (typeof v !== "string") throw new Error(`${where}: ${field} must be a string`);
  if (!DIGEST.test(v)) throw new Error(`${where}: ${field} ${shown(v)} is not a sha256 digest`);
  return v;
}

function optionalString(doc: Doc, key: string, where: string, field: string): void {
  if (doc[key] !== undefined && typeof doc[key] !== "string") {
    throw new Error(`${where}: ${field} must be a string`);
  }
}

/** Checks a content descriptor (image-spec descriptor.md). */
export function checkDescriptor(v: unknown, where: string, field: string): CheckedDescriptor {
  const d = object(v, where, field);
  optionalString(d, "mediaType", where, `${field}.mediaType`);
  checkDigest(d.digest, where, `${field}.digest`);
  if (!Number.isSafeInteger(d.size) || (d.size as number) < 0) {
    throw new Error(`${where}: ${field}.size must be a non-negative integer`);
  }
  if (d.annotations !== undefined) {
    if (!isObject(d.annotations) || !Object.values(d.annotations).every((s) => typeof s === "string")) {
      throw new Error(`${where}: ${field}.annotations must map strings to strings`);
    }
  }
  if (d.platform !== undefined) {
    const p = object(d.platform, where, `${field}.platform`);
    for (const key of ["os", "architecture"]) {
      if (typeof p[key] !== "string") throw new Error(`${where}: ${field}.platform.${key} must be a string`);
    }
    optionalString(p, "variant", where, `${field}.platform.variant`);
  }
  return d as unknown as CheckedDescriptor;
}

/** Checks an image index (image-spec image-index.md). */
export function checkIndex(v: unknown, where: string): CheckedIndex {
  const doc = object(v, where);
  schemaVersion2(doc, where);
  optionalString(doc, "mediaType", where, "mediaType");
  if (!Array.isArray(doc.manifests)) throw new Error(`${where}: manifests must be an array`);
  doc.manifests.forEach((d, i) => checkDescriptor(d, where, `manifests[${i}]`));
  return doc as unknown as CheckedIndex;
}

/** Whether a parsed document is an index rather than a manifest (when no media type says). */
export function looksLikeIndex(v: unknown): boolean {
  return isObject(v) && (INDEX_TYPES.includes(v.mediaType as string) || Array.isArray(v.manifests));
}

/** Checks an image manifest (image-spec manifest.md). */
export function checkManifest(v: unknown, where: string): CheckedManifest {
  const doc = object(v, where);
  schemaVersion2(doc, where);
  optionalString(doc, "mediaType", where, "mediaType");
  checkDescriptor(doc.config, where, "config");
  if (!Array.isArray(doc.layers)) throw new Error(`${where}: layers must be an array`);
  doc.layers.forEach((d, i) => checkDescriptor(d, where, `layers[${i}]`));
  return doc as unknown as CheckedManifest;
}

/**
 * Checks an image config (image-spec config.md) for what skiff reads:
 * rootfs.diff_ids, and the run defaults (Cmd, Entrypoint, Env with
 * {@link checkEnv}, WorkingDir), which may be null as docker writes them.
 */
export function checkConfig(v: unknown, where: string): ImageConfig {
  const doc = object(v, where);
  for (const key of ["created", "architecture", "os"]) optionalString(doc, key, where, key);
  const rootfs = object(doc.rootfs, where, "rootfs");
  if (rootfs.type !== "layers") throw new Error(`${where}: rootfs.type must be "layers"`);
  if (!Array.isArray(rootfs.diff_ids)) throw new Error(`${where}: rootfs.diff_ids must be an array`);
  rootfs.diff_ids.forEach((d, i) => checkDigest(d, where, `rootfs.diff_ids[${i}]`));
  if (doc.config !== undefined && doc.config !== null) {
    const run = object(doc.config, where, "config");
    for (const key of ["Cmd", "Entrypoint"]) {
      if (run[key] !== undefined && run[key] !== null && !isStrings(run[key])) {
        throw new Error(`${where}: config.${key} must be an array of strings`);
      }
    }
    if (run.Env !== undefined && run.Env !== null) checkEnv(run.Env, where);
    if (run.WorkingDir !== null) optionalString(run, "WorkingDir", where, "config.WorkingDir");
  }
  if (doc.history !== undefined && doc.history !== null && !Array.isArray(doc.history)) {
    throw new Error(`${where}: history must be an array`);
  }
  return doc as unknown as ImageConfig;
}

/** Checks a `docker save` manifest.json: a list of images. */
export function checkDockerManifest(v: unknown, where: string): DockerEntry[] {
  if (!Array.isArray(v)) throw new Error(`${where}: it must be an array`);
  return v.map((item, i) => {
    const entry = object(item, where, `[${i}]`);
    if (typeof entry.Config !== "string") throw new Error(`${where}: [${i}].Config must be a string`);
    if (!isStrings(entry.Layers)) throw new Error(`${where}: [${i}].Layers must be an array of strings`);
    if (entry.RepoTags !== undefined && entry.RepoTags !== null && !isStrings(entry.RepoTags)) {
      throw new Error(`${where}: [${i}].RepoTags must be an array of strings`);
    }
    return { Config: entry.Config, Layers: entry.Layers, RepoTags: (entry.RepoTags ?? []) as string[] };
  });
}
