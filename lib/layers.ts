/**
 * Layers: tar streams in OCI form (image-spec layer.md) on one side,
 * directories overlay can stack on the other.
 *
 * - {@link extractLayer} takes a layer tar (plain or gzip), keeps it as a
 *   blob named by its diff id (the sha256 of the uncompressed tar) and
 *   extracts it with GNU tar into `layers/DIFFID/`, turning OCI whiteouts
 *   (`.wh.NAME`, `.wh..wh..opq`) into overlay's (a 0:0 character device, the
 *   trusted.overlay.opaque xattr). GNU tar refuses `..` members, writes
 *   through symlinks and hard links out of the directory, and strips
 *   absolute names; any such refusal fails the whole extraction.
 * - {@link layerFromUpper} does the reverse for a container's upper dir:
 *   overlay whiteouts become `.wh.` entries, opaque directories get
 *   `.wh..wh..opq`, overlay's own xattrs are left out.
 *
 * Either way the work is in a temporary directory renamed into place, so a
 * failed or interrupted layer leaves nothing.
 *
 * @module
 */

import { lgetxattr, lsetxattr, mknodWhiteout } from "../ffi/xattr.ts";
import type { Store } from "./store.ts";

/** A layer as an image lists it. */
export interface Layer {
  /** sha256 of the uncompressed tar, hex. */
  diffId: string;
  /** Bytes of the uncompressed tar. */
  size: number;
}

const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";
const OPAQUE_XATTR = "trusted.overlay.opaque";
const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * Extracts a layer tar into the store (see the module doc).
 *
 * @param label what to call the source in errors, e.g. its file name
 * @throws {Error} when it is not a tar or GNU tar refused a member; nothing is kept
 */
export async function extractLayer(
  store: Store,
  source: ReadableStream<Uint8Array>,
  label: string,
): Promise<Layer> {
  // node:crypto is loaded here, not at start-up: it costs Deno tens of
  // milliseconds to load, and `run` rarely extracts.
  const { createHash } = await import("node:crypto");
  await store.init();
  const dir = await Deno.makeTempDir({ dir: store.tmpDir, prefix: `layer-${Deno.pid}-` });
  const blob = `${dir}.tar`;
  try {
    const root = Deno.uid() === 0;
    const tar = new Deno.Command("tar", {
      args: [
        "-x",
        "-f",
        "-",
        "-C",
        dir,
        "--numeric-owner",
        ...(root
          ? ["--same-owner", "--same-permissions", "--xattrs", "--xattrs-include=*"]
          : ["--no-same-owner"]),
      ],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const hash = createHash("sha256");
    let size = 0;
    const writer = tar.stdin.getWriter();
    let writeError: unknown;
    {
      using out = await Deno.open(blob, { write: true, createNew: true, mode: 0o600 });
      try {
        for await (const chunk of await decompressed(source)) {
          hash.update(chunk);
          size += chunk.length;
          await out.write(chunk);
          await writer.write(chunk);
        }
        await writer.close();
      } catch (e) {
        // tar exits early on bad input and closes its stdin; its stderr says why
        writeError = e;
        await writer.abort().catch(() => {});
      }
    }
    const { code, stderr } = await tar.output();
    if (code !== 0 || writeError !== undefined) {
      const said = new TextDecoder().decode(stderr).split("\n").find((l) => l.trim() !== "") ?? "";
      const why = /does not look like a tar archive|Unexpected EOF|Skipping to next header/.test(said)
        ? "it is not a tar archive"
        : said.replace(/^tar: /, "") || String(writeError);
      throw new Error(`Cannot import "${label}": ${why}`);
    }
    await convertWhiteouts(dir);
    const diffId = hash.digest("hex");
    await store.locked(async () => {
      // Another extraction may have made the same layer: identical by definition.
      await renameUnlessExists(dir, store.layer(diffId));
      await renameUnlessExists(blob, store.blob(diffId));
    });
    return { diffId, size };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(blob).catch(() => {});
  }
}

async function renameUnlessExists(from: string, to: string): Promise<void> {
  try {
    await Deno.lstat(to);
  } catch {
    await Deno.rename(from, to);
  }
}

/** The stream itself, or its gunzipped bytes when it starts with gzip's magic. */
async function decompressed(source: ReadableStream<Uint8Array>): Promise<ReadableStream<Uint8Array>> {
  // Peek at the first chunk, then hand it on with the rest. (tee() would
  // do, but cancelling one branch waits for the other.)
  const reader = source.getReader();
  const first = await reader.read();
  const whole = new ReadableStream<Uint8Array>({
    start(controller) {
      if (first.done) controller.close();
      else controller.enqueue(first.value);
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  const gzip = !first.done && GZIP_MAGIC.every((b, i) => first.value[i] === b);
  return gzip
    ? whole.pipeThrough(new DecompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>)
    : whole;
}

/**
 * Turns OCI whiteout files in an extracted layer into overlay's: `.wh.NAME`
 * becomes a 0:0 character device NAME, `.wh..wh..opq` marks its directory
 * opaque. find(1) lists them, so the cost follows the layer, once.
 */
async function convertWhiteouts(dir: string): Promise<void> {
  const found = await new Deno.Command("find", {
    args: [dir, "-name", `${WHITEOUT}*`, "-type", "f", "-print0"],
    stderr: "inherit",
  }).output();
  const paths = new TextDecoder().decode(found.stdout).split("\0").filter((p) => p !== "");
  for (const path of paths) {
    const slash = path.lastIndexOf("/");
    const parent = path.slice(0, slash);
    const name = path.slice(slash + 1);
    await Deno.remove(path);
    if (name === OPAQUE) {
      lsetxattr(parent, OPAQUE_XATTR, "y");
      continue;
    }
    const target = `${parent}/${name.slice(WHITEOUT.length)}`;
    try {
      mknodWhiteout(target);
    } catch (e) {
      throw new Error(`Invalid layer: "${target.slice(dir.length)}" is both present and whited out`, {
        cause: e,
      });
    }
  }
}

/**
 * Makes an OCI layer tar stream from a container's upper dir.
 *
 * @param exclude paths relative to `upper` (e.g. `proc`, a volume's mount
 *   point) left out with everything under them: skiff's own mount points
 * @returns GNU tar's stdout, and a promise of its exit that throws on failure
 */
export async function layerFromUpper(
  upper: string,
  staging: string,
  exclude: string[],
): Promise<{ stream: ReadableStream<Uint8Array>; done: Promise<void> }> {
  const skip = new Set(exclude);
  const members: string[] = [];
  const markers: string[] = [];
  const walk = async (rel: string) => {
    for (const entry of [...Deno.readDirSync(rel === "" ? upper : `${upper}/${rel}`)].sort(byName)) {
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (skip.has(path)) continue;
      const info = Deno.lstatSync(`${upper}/${path}`);
      if (info.isCharDevice && info.rdev === 0) {
        markers.push(await marker(staging, rel, `${WHITEOUT}${entry.name}`));
        continue;
      }
      members.push(path);
      if (info.isDirectory) {
        if (lgetxattr(`${upper}/${path}`, OPAQUE_XATTR) === "y") {
          markers.push(await marker(staging, path, OPAQUE));
        }
        await walk(path);
      }
    }
  };
  await walk("");
  const lists = { upper: `${staging}.upper.list`, markers: `${staging}.markers.list` };
  await Deno.writeTextFile(lists.upper, members.map((m) => `${m}\0`).join(""));
  await Deno.writeTextFile(lists.markers, markers.map((m) => `${m}\0`).join(""));
  const tar = new Deno.Command("tar", {
    args: [
      "-c",
      "-f",
      "-",
      "--numeric-owner",
      "--xattrs",
      "--xattrs-include=*",
      "--xattrs-exclude=trusted.overlay.*",
      "--null",
      "--no-recursion",
      "-C",
      upper,
      "-T",
      lists.upper,
      "-C",
      staging,
      "-T",
      lists.markers,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const done = Promise.all([tar.status, new Response(tar.stderr).text()]).then(async ([status, said]) => {
    await Deno.remove(lists.upper);
    await Deno.remove(lists.markers);
    if (!status.success) throw new Error(`Cannot make a layer of "${upper}": ${said.trim().split("\n")[0]}`);
  });
  return { stream: tar.stdout, done };
}

function byName(a: Deno.DirEntry, b: Deno.DirEntry): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Creates an empty marker file `staging/dir/name`; returns its relative path. */
async function marker(staging: string, dir: string, name: string): Promise<string> {
  const rel = dir === "" ? name : `${dir}/${name}`;
  await Deno.mkdir(`${staging}/${dir}`, { recursive: true });
  await Deno.writeFile(`${staging}/${rel}`, new Uint8Array(), { mode: 0o644 });
  return rel;
}
