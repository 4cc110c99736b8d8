/**
 * One blob from a registry to a file, checked on the way: its sha256 and
 * size as the manifest gives them, and, for a layer, the sha256 of its
 * uncompressed tar (the diff id) in the same pass: gzip by `node:zlib`'s
 * createGunzip (it reads multi-member gzip; `DecompressionStream` does
 * not), zstd by the `zstd` binary (`node:zlib`'s decoder stops after the
 * first frame in Deno 2.9, and zstd:chunked layers are many frames).
 *
 * A download lives in the store's download area as `HEX.partial` until it
 * is whole and checked; a cut-off one stays there and the next pull goes
 * on from where it stopped (`Range`, checked against `Content-Range`).
 * A blob that fails its digest is deleted.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { createGunzip } from "node:zlib";
import { findCommand, helperCommand } from "../../host/spawn.ts";
import type { RegistryClient } from "./client.ts";
import type { Compression, RemoteDescriptor } from "./manifest.ts";

/** What a finished download measured. */
export interface Downloaded {
  /** The checked, whole blob. */
  path: string;
  /** sha256 of the uncompressed content, hex (equal to the digest for a plain tar). */
  diffId: string;
}

/** Something that hashes what comes out of a decompressor. */
interface Decoder {
  write(chunk: Uint8Array): Promise<void>;
  /** Ends the input; the sha256 of the output, hex. */
  end(): Promise<string>;
  abort(): void;
}

function hex(hash: Hash): string {
  return hash.digest("hex");
}

/** Where a decoder also writes the uncompressed tar. */
interface Sink {
  file: Deno.FsFile;
  path: string;
}

function gzipDecoder(label: string, sink: Sink | null): Decoder {
  const gunzip = createGunzip();
  const out = createHash("sha256");
  let failed: Error | null = null;
  const done = new Promise<void>((resolve, reject) => {
    gunzip.on("data", (c: Uint8Array) => {
      out.update(c);
      if (sink === null || failed) return;
      try {
        writeAllSync(sink.file, c);
      } catch (e) {
        // thrown here, it would escape the stream's event: fail the decoder instead
        failed = new WriteError(label, sink.path, e);
        gunzip.destroy();
        reject(failed);
      }
    });
    gunzip.on("end", () => resolve());
    gunzip.on("error", (e: Error) => {
      failed = new Error(`${label} is not valid gzip`, { cause: e });
      reject(failed);
    });
  });
  done.catch(() => {});
  return {
    async write(chunk) {
      if (failed) throw failed;
      if (!gunzip.write(chunk)) {
        // `done` rejects on an error, so no error listener per wait
        await Promise.race([new Promise<void>((r) => gunzip.once("drain", () => r())), done]);
      }
      if (failed) throw failed;
    },
    async end() {
      gunzip.end();
      await done;
      return hex(out);
    },
    abort() {
      gunzip.destroy();
    },
  };
}

function zstdDecoder(label: string, sink: Sink | null): Decoder {
  let child: Deno.ChildProcess;
  try {
    if (!findCommand("zstd").includes("/")) throw new Deno.errors.NotFound("zstd");
    child = helperCommand("zstd", { args: ["-dcq"], stdin: "piped", stdout: "piped", stderr: "piped" })
      .spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`${label} is zstd-compressed and the "zstd" program is not installed; install zstd`);
    }
    throw e;
  }
  const out = createHash("sha256");
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  };
  const reading = (async () => {
    for await (const chunk of child.stdout) {
      out.update(chunk);
      if (sink === null) continue;
      try {
        await writeAll(sink.file, chunk);
      } catch (e) {
        kill(); // zstd would block on its full stdout, and with it every write to its stdin
        throw new WriteError(label, sink.path, e);
      }
    }
  })();
  reading.catch(() => {});
  const writer = child.stdin.getWriter();
  return {
    async write(chunk) {
      // a failed sink killed zstd: say why, not that its stdin broke
      await Promise.race([writer.write(chunk), reading.then(() => new Promise<void>(() => {}))]).catch(
        async (e) => {
          await reading;
          throw e;
        },
      );
    },
    async end() {
      await writer.close();
      const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text(), reading]);
      if (!status.success) {
        throw new Error(`${label} is not valid zstd: ${stderr.trim().split("\n")[0] || "zstd failed"}`);
      }
      return hex(out);
    },
    abort() {
      kill();
      writer.abort().catch(() => {});
      child.status.then(() => {}, () => {});
      reading.catch(() => {});
      child.stderr.cancel().catch(() => {});
    },
  };
}

function plainDecoder(): Decoder {
  const out = createHash("sha256");
  return {
    write(chunk) {
      out.update(chunk);
      return Promise.resolve();
    },
    end() {
      return Promise.resolve(hex(out));
    },
    abort() {},
  };
}

function decoderFor(
  compression: Compression | "config",
  label: string,
  sink: Sink | null,
): Decoder | null {
  if (compression === "gzip") return gzipDecoder(label, sink);
  if (compression === "zstd") return zstdDecoder(label, sink);
  if (compression === "none") return plainDecoder();
  return null;
}

async function writeAll(file: Deno.FsFile, chunk: Uint8Array): Promise<void> {
  for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
}

function writeAllSync(file: Deno.FsFile, chunk: Uint8Array): void {
  for (let off = 0; off < chunk.length;) off += file.writeSync(chunk.subarray(off));
}

/** Options of {@link downloadBlob}. */
export interface DownloadOptions {
  /** `repository:NAME:pull`. */
  scope: string;
  /** The repository path, for the blob URL. */
  repository: string;
  /** What to call the blob in errors: `layer 2 (sha256:ab12…)`. */
  label: string;
  /** Bytes so far, for progress. */
  onProgress?: (bytes: number) => void;
  /**
   * Also write the uncompressed tar here (a gzip or zstd layer), so that
   * unpacking it need not decompress it again.
   */
  tarOut?: string;
}

/**
 * Downloads a blob into `dir/HEX` through `dir/HEX.partial`, checking
 * size and digest and computing the diff id of a layer. The caller holds
 * the partial file's lock (see pull.ts).
 *
 * @param compression the layer's, or "config" for a blob that is no layer
 * @throws {Error} on a bad digest (the partial is deleted), a cut-off
 *   body (kept, to resume), or an HTTP error
 */
export async function downloadBlob(
  client: RegistryClient,
  d: RemoteDescriptor,
  compression: Compression | "config",
  dir: string,
  opts: DownloadOptions,
): Promise<Downloaded> {
  const hexDigest = d.digest.slice("sha256:".length);
  const partial = `${dir}/${hexDigest}.partial`;
  const whole = `${dir}/${hexDigest}`;
  using file = await Deno.open(partial, { read: true, write: true, create: true, mode: 0o600 });
  let have = (await file.stat()).size;
  if (have > d.size) {
    await file.truncate(0);
    have = 0;
  }
  // a partial with every byte (killed before its rename) needs no request
  let res: Response | null = null;
  if (have < d.size) {
    res = await fetchBlob(client, d, opts, have > 0 ? { Range: `bytes=${have}-` } : {});
    if (res.status === 416) {
      await res.body?.cancel();
      have = 0;
      res = await fetchBlob(client, d, opts, {});
    }
  }
  let resumed = have > 0 && res === null;
  if (res?.status === 206) {
    const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get("Content-Range") ?? "");
    if (range && Number(range[1]) === have) resumed = true;
  }
  if (!resumed) {
    await file.truncate(0);
    have = 0;
    if (res === null) res = await fetchBlob(client, d, opts, {});
  }
  const digest = createHash("sha256");
  const tarOut = compression !== "none" && compression !== "config" ? opts.tarOut : undefined;
  using sinkFile = tarOut === undefined
    ? null
    : await Deno.open(tarOut, { write: true, create: true, truncate: true, mode: 0o600 });
  const decoder = decoderFor(compression, opts.label, sinkFile && { file: sinkFile, path: tarOut! });
  let ok = false;
  try {
    let bytes = 0;
    const feed = async (chunk: Uint8Array) => {
      bytes += chunk.length;
      if (bytes > d.size) {
        throw new DigestError(`${opts.label} is larger than the ${d.size} bytes its manifest gives`);
      }
      digest.update(chunk);
      await decoder?.write(chunk);
    };
    if (resumed) {
      await file.seek(0, Deno.SeekMode.Start);
      const prefix = new Uint8Array(1 << 20);
      for (let left = have; left > 0;) {
        const n = await file.read(prefix.subarray(0, Math.min(prefix.length, left)));
        if (n === null) break;
        await feed(prefix.slice(0, n));
        left -= n;
      }
    }
    await file.seek(0, Deno.SeekMode.End);
    const body = res?.body?.[Symbol.asyncIterator]();
    for (;;) {
      // only a failed read is a cut-off: bad bytes and a full disk say so
      let next: IteratorResult<Uint8Array> | undefined;
      try {
        next = await body?.next();
      } catch (e) {
        throw new CutOffError(opts.label, bytes, d.size, e);
      }
      if (next === undefined || next.done) break;
      await feed(next.value);
      try {
        await writeAll(file, next.value);
      } catch (e) {
        throw new WriteError(opts.label, partial, e);
      }
      opts.onProgress?.(bytes);
    }
    if (bytes < d.size) throw new CutOffError(opts.label, bytes, d.size);
    const got = `sha256:${hex(digest)}`;
    if (got !== d.digest) throw new DigestError(`${opts.label} does not match its digest: got ${got}`);
    const diffId = decoder ? await decoder.end() : hexDigest;
    await Deno.rename(partial, whole);
    ok = true;
    return { path: whole, diffId };
  } catch (e) {
    decoder?.abort();
    await res?.body?.cancel().catch(() => {});
    // a cut-off download, or one the disk had no room for, is kept to resume; anything wrong with the bytes is not
    if (!(e instanceof CutOffError || e instanceof WriteError)) await Deno.remove(partial).catch(() => {});
    throw e;
  } finally {
    if (!ok) decoder?.abort();
  }
}

/** The blob's bytes failed their check: never resumable. */
class DigestError extends Error {
  override name = "DigestError";
}

/**
 * Writing to the store failed (a full disk, say): what came is kept, and
 * the next pull resumes once there is room.
 */
class WriteError extends Error {
  override name = "WriteError";
  constructor(label: string, path: string, cause: unknown) {
    const why = (cause as Error).message?.replace(/ \(os error \d+\).*/, "") ?? String(cause);
    super(
      `${label}: cannot write "${path}": ${why}; make room (skiff image prune removes unused images) and pull again to resume`,
    );
  }
}

/** The body ended early: what came is kept, and the next pull resumes. */
class CutOffError extends Error {
  override name = "CutOffError";
  constructor(label: string, got: number, size: number, cause?: unknown) {
    super(`${label}: the download was cut off after ${got} of ${size} bytes; pull again to resume`, {
      cause: cause === undefined ? undefined : new Error((cause as Error).message ?? String(cause)),
    });
  }
}

async function fetchBlob(
  client: RegistryClient,
  d: RemoteDescriptor,
  opts: DownloadOptions,
  headers: HeadersInit,
): Promise<Response> {
  let res: Response;
  if (d.urls?.length && /nondistributable|foreign/.test(d.mediaType)) {
    // foreign layers come from their own URLs, without the registry's credentials
    const url = d.urls.find((u) => /^https?:\/\//.test(u));
    if (!url) throw new Error(`${opts.label} is foreign and has no http(s) URL to fetch it from`);
    try {
      res = await fetch(url, { headers });
    } catch (e) {
      throw new Error(`${opts.label}: cannot fetch "${url}"`, { cause: e });
    }
  } else {
    res = await client.fetch(`/v2/${opts.repository}/blobs/${d.digest}`, { headers, scope: opts.scope });
  }
  if (res.status !== 200 && res.status !== 206 && res.status !== 416) {
    await res.body?.cancel();
    throw new Error(`${opts.label}: the registry answered ${res.status} ${res.statusText}`.trimEnd());
  }
  if (!res.body) throw new Error(`${opts.label}: the registry sent no body`);
  return res;
}
