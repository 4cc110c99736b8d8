/**
 * End-to-end tests of `load` and `save` against hostile archives: every
 * archive here is built by the test itself (python3's tarfile writes the
 * members GNU tar would refuse to make: symlinks out, devices, FIFOs, `..`
 * names). Each test checks that the host's victim files are untouched and
 * that the store holds nothing new after a refused load.
 */

import assert from "node:assert/strict";
import { entries, mountsUnder, ROOT_ONLY, skiff, skiffOk, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

const encoder = new TextEncoder();

/** One member of a tar the test builds. */
type Member =
  | { name: string; type: "file"; data: string | Uint8Array; mode?: number }
  | { name: string; type: "dir" }
  | { name: string; type: "symlink" | "hardlink"; target: string }
  | { name: string; type: "fifo" }
  | { name: string; type: "chr"; major: number; minor: number };

const BUILDER = `
import base64, io, json, sys, tarfile
spec = json.load(sys.stdin)
kinds = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
         "fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE}
with tarfile.open(spec["out"], "w", format=tarfile.PAX_FORMAT) as t:
    for m in spec["members"]:
        info = tarfile.TarInfo(m["name"])
        info.mtime = 0
        if m["type"] == "file":
            data = base64.b64decode(m["data"])
            info.size = len(data)
            info.mode = m.get("mode", 0o644)
            t.addfile(info, io.BytesIO(data))
            continue
        info.type = kinds[m["type"]]
        info.mode = 0o755 if m["type"] == "dir" else 0o644
        info.linkname = m.get("target", "")
        info.devmajor = m.get("major", 0)
        info.devminor = m.get("minor", 0)
        t.addfile(info)
`;

function base64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Writes a tar of `members` to `out` with python3's tarfile. */
async function writeTar(out: string, members: Member[]): Promise<void> {
  const spec = {
    out,
    members: members.map((m) =>
      m.type === "file"
        ? { ...m, data: base64(typeof m.data === "string" ? encoder.encode(m.data) : m.data) }
        : m
    ),
  };
  const child = new Deno.Command("python3", { args: ["-c", BUILDER], stdin: "piped", stderr: "piped" })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(JSON.stringify(spec)));
  await writer.close();
  const out_ = await child.output();
  assert.equal(out_.code, 0, new TextDecoder().decode(out_.stderr));
}

/** The bytes of a tar of `members`. */
async function tarBytes(dir: string, members: Member[]): Promise<Uint8Array> {
  const file = `${dir}/.layer-${crypto.randomUUID()}.tar`;
  await writeTar(file, members);
  try {
    return await Deno.readFile(file);
  } finally {
    await Deno.remove(file);
  }
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function sha256(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** An image config of `diffIds` (hex), with extra `config` fields. */
function imageConfig(diffIds: string[], config: Record<string, unknown> = {}, arch = "amd64"): string {
  return JSON.stringify({
    created: "2026-01-01T00:00:00Z",
    architecture: arch,
    os: "linux",
    config: { Cmd: ["/bin/sh"], ...config },
    rootfs: { type: "layers", diff_ids: diffIds.map((d) => `sha256:${d}`) },
  });
}

/** A one-file layer: `/hello` holding `text`. */
async function layer(dir: string, text = "hello\n"): Promise<{ tar: Uint8Array; diffId: string }> {
  const tar = await tarBytes(dir, [{ name: "hello", type: "file", data: text }]);
  return { tar, diffId: await sha256(tar) };
}

/** A valid docker archive's members: one image of one layer, tagged `tag`. */
async function dockerMembers(dir: string, tag = "hostile:1"): Promise<Member[]> {
  const { tar, diffId } = await layer(dir);
  const config = imageConfig([diffId]);
  return [
    { name: "l1/layer.tar", type: "file", data: tar },
    { name: "config.json", type: "file", data: config },
    { name: "manifest.json", type: "file", data: dockerManifest("config.json", ["l1/layer.tar"], [tag]) },
  ];
}

function dockerManifest(config: string, layers: string[], tags: string[] | null = ["hostile:1"]): string {
  return JSON.stringify([{ Config: config, RepoTags: tags, Layers: layers }]);
}

/** The blobs, index and layout file of an OCI image layout. */
interface Oci {
  members: Member[];
  manifestDigest: string;
  configDigest: string;
  layerDigest: string;
}

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const INDEX = "application/vnd.oci.image.index.v1+json";

function descriptor(mediaType: string, hex: string, size: number, extra: Record<string, unknown> = {}) {
  return { mediaType, digest: `sha256:${hex}`, size, ...extra };
}

/** An OCI image (manifest, config and layer blobs, not yet indexed). */
async function ociImage(
  dir: string,
  { text = "hello\n", arch = "amd64", config = {} as Record<string, unknown> } = {},
) {
  const { tar, diffId } = await layer(dir, text);
  const configJson = imageConfig([diffId], config, arch);
  const configHex = await sha256(configJson);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST,
    config: descriptor(
      "application/vnd.oci.image.config.v1+json",
      configHex,
      encoder.encode(configJson).length,
    ),
    layers: [descriptor("application/vnd.oci.image.layer.v1.tar", diffId, tar.length)],
  });
  const manifestHex = await sha256(manifest);
  const blobs: Member[] = [
    { name: `blobs/sha256/${diffId}`, type: "file", data: tar },
    { name: `blobs/sha256/${configHex}`, type: "file", data: configJson },
    { name: `blobs/sha256/${manifestHex}`, type: "file", data: manifest },
  ];
  return { blobs, manifest, manifestHex, configHex, configJson, diffId, layerTar: tar };
}

/** A complete OCI layout of one image named `name`. */
async function ociLayout(dir: string, name = "hostile/oci:1"): Promise<Oci & { index: string }> {
  const image = await ociImage(dir);
  const index = JSON.stringify({
    schemaVersion: 2,
    manifests: [
      descriptor(MANIFEST, image.manifestHex, encoder.encode(image.manifest).length, {
        annotations: { "io.containerd.image.name": name },
      }),
    ],
  });
  return {
    members: [
      { name: "oci-layout", type: "file", data: '{"imageLayoutVersion":"1.0.0"}' },
      { name: "index.json", type: "file", data: index },
      ...image.blobs,
    ],
    index,
    manifestDigest: image.manifestHex,
    configDigest: image.configHex,
    layerDigest: image.diffId,
  };
}

/** Everything in a store a load could have left, and the host's victim files. */
function snapshot(store: string): string {
  return JSON.stringify({
    tmp: entries(`${store}/tmp`),
    layers: entries(`${store}/layers`),
    blobs: entries(`${store}/blobs/sha256`),
    index: Deno.readTextFileSync(`${store}/images/index.json`),
    mounts: mountsUnder(store),
  });
}

/** A directory of files load must never touch: names and contents, recursively. */
function tree(dir: string): string {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of [...Deno.readDirSync(`${dir}/${rel}`)].sort((a, b) => a.name < b.name ? -1 : 1)) {
      const path = `${rel}/${e.name}`;
      const info = Deno.lstatSync(`${dir}${path}`);
      out.push(`${path} ino ${info.ino}, ${info.size} bytes, modified ${info.mtime?.getTime()}`);
      if (info.isDirectory) walk(path);
    }
  };
  walk("");
  return out.join("\n");
}

/**
 * Runs `fn` with a store (busybox in it), a scratch dir for archives and a
 * victim dir on the host; afterwards the victim dir must be as it was.
 */
async function withVictim(
  fn: (ctx: { store: string; dir: string; victim: string; refused: Refused }) => Promise<void>,
): Promise<void> {
  await withStore(async (store) => {
    const dir = await Deno.makeTempDir({ prefix: "skiff-hostile-" });
    const victim = await Deno.makeTempDir({ prefix: "skiff-victim-" });
    try {
      await Deno.writeTextFile(`${victim}/important.txt`, "the host's file\n");
      await Deno.writeTextFile(`${victim}/secret`, "SECRET-CONTENT root:$6$salt$hash\n");
      const before = tree(victim);
      const refused: Refused = async (input, message) => {
        const start = snapshot(store);
        const host = tree(victim);
        const r = await skiff(store, ["load", "-i", input]);
        assert.notEqual(r.code, 0, `load ${input} should fail: ${r.stdout}`);
        assert.match(r.stderr, message);
        assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /SECRET|TypeError|Cannot read properties|is not iterable|\/proc\//);
        assert.ok(!r.stderr.includes(`${store}/tmp`), `no temporary path: ${r.stderr}`);
        assert.equal(snapshot(store), start, `${input}: the store holds nothing new`);
        assert.equal(tree(victim), host, `${input}: the host's files are untouched`);
        return r.stderr;
      };
      await fn({ store, dir, victim, refused });
      const files = (t: string) => t.split("\n").filter((l) => /^\/(important\.txt|secret) /.test(l));
      assert.deepEqual(files(tree(victim)), files(before), "the host's files are untouched");
      assert.equal(Deno.readTextFileSync(`${victim}/important.txt`), "the host's file\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(victim, { recursive: true });
    }
  });
}

type Refused = (input: string, message: RegExp) => Promise<string>;

/** Writes `members` as `dir/name.tar`; returns its path. */
async function archive(dir: string, name: string, members: Member[]): Promise<string> {
  const out = `${dir}/${name}.tar`;
  await writeTar(out, members);
  return out;
}

test("load refuses layer paths through a symlink out of the archive, and leaves the host's file", async () => {
  await withVictim(async ({ dir, victim, refused }) => {
    const good = await dockerMembers(dir);
    const keep = good.filter((m) => m.name !== "manifest.json");
    // the case: a directory symlink, then a layer below it
    await refused(
      await archive(dir, "dirlink", [
        ...keep,
        { name: "v", type: "symlink", target: victim },
        { name: "manifest.json", type: "file", data: dockerManifest("config.json", ["v/important.txt"]) },
      ]),
      /^skiff: Cannot load ".*dirlink\.tar": layer "v\/important\.txt" is missing$/m,
    );
    // the layer itself a symlink to the host's file, absolute and relative
    for (const target of [`${victim}/important.txt`, `../../../../../../../..${victim}/important.txt`]) {
      await refused(
        await archive(dir, "filelink", [
          ...keep,
          { name: "l.tar", type: "symlink", target },
          { name: "manifest.json", type: "file", data: dockerManifest("config.json", ["l.tar"]) },
        ]),
        /^skiff: Cannot load ".*filelink\.tar": layer "l\.tar" is missing$/m,
      );
    }
    // a hard link through the directory symlink
    await refused(
      await archive(dir, "hardlink", [
        ...keep,
        { name: "v", type: "symlink", target: victim },
        { name: "h", type: "hardlink", target: "v/important.txt" },
        { name: "manifest.json", type: "file", data: dockerManifest("config.json", ["h"]) },
      ]),
      /^skiff: Cannot load ".*hardlink\.tar": /m,
    );
  });
});

test("load never shows a symlinked config's content, nor loads host JSON as a config", async () => {
  await withVictim(async ({ dir, victim, refused }) => {
    const good = await dockerMembers(dir);
    const [layerMember] = good;
    await refused(
      await archive(dir, "secret", [
        layerMember,
        { name: "config.json", type: "symlink", target: `${victim}/secret` },
        { name: "manifest.json", type: "file", data: dockerManifest("config.json", ["l1/layer.tar"]) },
      ]),
      /^skiff: Cannot load ".*secret\.tar": config "config\.json" is missing$/m,
    );
    // host JSON through a symlinked directory: a valid config of no layers
    await Deno.writeTextFile(`${victim}/config.json`, imageConfig([]));
    await refused(
      await archive(dir, "hostjson", [
        { name: "d", type: "symlink", target: victim },
        { name: "manifest.json", type: "file", data: dockerManifest("d/config.json", []) },
      ]),
      /^skiff: Cannot load ".*hostjson\.tar": config "d\/config\.json" is missing$/m,
    );
    // a config that is not JSON is named, not quoted
    await refused(
      await archive(dir, "notjson", [
        layerMember,
        { name: "config.json", type: "file", data: "SECRET-CONTENT not json" },
        { name: "manifest.json", type: "file", data: dockerManifest("config.json", ["l1/layer.tar"]) },
      ]),
      /^skiff: Cannot load ".*notjson\.tar": config "config\.json": it is not valid JSON$/m,
    );
  });
});

test("load refuses an OCI layout whose blobs directory is a symlink, as a tar and as a directory", async () => {
  await withVictim(async ({ dir, victim, refused }) => {
    const oci = await ociLayout(dir);
    // the host holds the very blobs the index names
    await Deno.mkdir(`${victim}/blobs/sha256`, { recursive: true });
    for (const m of oci.members) {
      if (m.type === "file" && m.name.startsWith("blobs/")) {
        await Deno.writeFile(
          `${victim}/${m.name}`,
          typeof m.data === "string" ? encoder.encode(m.data) : m.data,
        );
      }
    }
    const top = oci.members.filter((m) => !m.name.startsWith("blobs/"));
    const message = new RegExp(`manifest sha256:${oci.manifestDigest}.* is missing$`, "m");
    for (const target of [`${victim}/blobs`, `../../../../../../../..${victim}/blobs`]) {
      await refused(
        await archive(dir, "blobslink", [...top, { name: "blobs", type: "symlink", target }]),
        message,
      );
      const layout = `${dir}/layout`;
      await Deno.mkdir(layout);
      try {
        for (const m of top) {
          if (m.type === "file") await Deno.writeTextFile(`${layout}/${m.name}`, m.data as string);
        }
        await Deno.symlink(target.startsWith("/") ? target : `${victim}/blobs`, `${layout}/blobs`);
        await refused(layout, message);
        // and a layout whose blobs/sha256 alone is the link
        await Deno.remove(`${layout}/blobs`);
        await Deno.mkdir(`${layout}/blobs`);
        await Deno.symlink(`${victim}/blobs/sha256`, `${layout}/blobs/sha256`);
        await refused(layout, message);
      } finally {
        await Deno.remove(layout, { recursive: true });
      }
    }
  });
});

test("load refuses devices, FIFOs and links to them where a file is expected", async () => {
  await withVictim(async ({ dir, refused }) => {
    const good = await dockerMembers(dir);
    const keep = good.filter((m) => m.name !== "manifest.json" && m.name !== "l1/layer.tar");
    const cases: [string, Member][] = [
      ["fifo", { name: "l1/layer.tar", type: "fifo" }],
      ["chardev", { name: "l1/layer.tar", type: "chr", major: 1, minor: 3 }],
      ["devnull", { name: "l1/layer.tar", type: "symlink", target: "/dev/null" }],
      ["devzero", { name: "l1/layer.tar", type: "symlink", target: "/dev/zero" }],
      ["zerodev", { name: "l1/layer.tar", type: "chr", major: 1, minor: 5 }],
      ["directory", { name: "l1/layer.tar", type: "dir" }],
    ];
    for (const [name, member] of cases) {
      const missing = member.type === "symlink"; // /dev/... resolves inside the archive: not there
      await refused(
        await archive(dir, name, [
          ...keep,
          member,
          { name: "manifest.json", type: "file", data: dockerManifest("config.json", ["l1/layer.tar"]) },
        ]),
        missing
          ? /: layer "l1\/layer\.tar" is missing$/m
          : /: layer "l1\/layer\.tar" is not a regular file$/m,
      );
    }
    // the documents themselves: a FIFO manifest.json, a device config
    await refused(
      await archive(dir, "fifomanifest", [...good.filter((m) => m.name !== "manifest.json"), {
        name: "manifest.json",
        type: "fifo",
      }]),
      /: "manifest\.json" is not a regular file$/m,
    );
    await refused(
      await archive(dir, "devconfig", [
        ...good.filter((m) => m.name !== "config.json"),
        { name: "config.json", type: "chr", major: 1, minor: 5 },
      ]),
      /: config "config\.json" is not a regular file$/m,
    );
  });
});

test("load refuses paths with .. or a leading / in an archive", async () => {
  await withVictim(async ({ dir, victim, refused }) => {
    const good = await dockerMembers(dir);
    const keep = good.filter((m) => m.name !== "manifest.json");
    for (
      const [config, layers] of [
        ["config.json", [`../../../../../..${victim}/important.txt`]],
        ["config.json", ["l1/../../escape"]],
        [`${victim}/config.json`, ["l1/layer.tar"]],
      ] as [string, string[]][]
    ) {
      await refused(
        await archive(dir, "dotdot", [...keep, {
          name: "manifest.json",
          type: "file",
          data: dockerManifest(config, layers),
        }]),
        /: path ".*" leaves the archive$/m,
      );
    }
    // a member named with .. : GNU tar refuses to extract it
    await refused(
      await archive(dir, "member", [...good, {
        name: `../../../../..${victim}/important.txt`,
        type: "file",
        data: "x",
      }]),
      /^skiff: Cannot load ".*member\.tar": /m,
    );
  });
});

test("load follows symlinks that stay inside the archive, as docker save links shared layers", async () => {
  await withVictim(async ({ store, dir }) => {
    const { tar, diffId } = await layer(dir);
    const config = imageConfig([diffId, diffId]);
    const input = await archive(dir, "shared", [
      { name: "a/layer.tar", type: "file", data: tar },
      { name: "b/layer.tar", type: "symlink", target: "../a/layer.tar" },
      { name: "c", type: "symlink", target: "/a" },
      { name: "config.json", type: "file", data: config },
      {
        name: "manifest.json",
        type: "file",
        data: JSON.stringify([
          { Config: "config.json", RepoTags: ["shared:1"], Layers: ["a/layer.tar", "b/layer.tar"] },
          { Config: "config.json", RepoTags: ["shared:2"], Layers: ["c/layer.tar", "a/layer.tar"] },
        ]),
      },
    ]);
    assert.equal(
      await skiffOk(store, ["load", "-i", input]),
      "Loaded image: localhost/shared:1\nLoaded image: localhost/shared:2\n",
    );
    assert.ok(entries(`${store}/layers`).includes(diffId));
    assert.deepEqual(entries(`${store}/tmp`), []);
  });
});

test("load refuses an OCI manifest stored under another digest", async () => {
  await withVictim(async ({ dir, refused }) => {
    const oci = await ociLayout(dir);
    const manifest = oci.members.find((m) => m.name === `blobs/sha256/${oci.manifestDigest}`)!;
    assert.equal(manifest.type, "file");
    const tampered = (manifest.type === "file" ? manifest.data as string : "").replace(
      '"schemaVersion":2',
      '"schemaVersion":2 ',
    );
    await refused(
      await archive(dir, "tampered", [
        ...oci.members.filter((m) => m !== manifest),
        { name: manifest.name, type: "file", data: tampered },
      ]),
      new RegExp(`: manifest sha256:${oci.manifestDigest} does not match its digest$`, "m"),
    );
  });
});

test("a failed load leaves nothing in the store: layers, blobs, tmp dirs, tags", async () => {
  await withVictim(async ({ store, dir, refused }) => {
    // the case: a gzip layer with a wrong diff id (here 4 MB of zeros, gzipped to a few KB)
    const big = await tarBytes(dir, [{ name: "zeros", type: "file", data: new Uint8Array(4 << 20) }]);
    const wrong = "0".repeat(64);
    await refused(
      await archive(dir, "wrongdiff", [
        { name: "l1/layer.tar", type: "file", data: await gzip(big) },
        { name: "config.json", type: "file", data: imageConfig([wrong]) },
        { name: "manifest.json", type: "file", data: dockerManifest("config.json", ["l1/layer.tar"]) },
      ]),
      /: layer 1 does not match its diff id sha256:0{64}$/m,
    );
    // two layers: the first is good, the second is not
    const first = await layer(dir, "first\n");
    const second = await layer(dir, "second\n");
    await refused(
      await archive(dir, "secondbad", [
        { name: "l1/layer.tar", type: "file", data: first.tar },
        { name: "l2/layer.tar", type: "file", data: second.tar },
        { name: "config.json", type: "file", data: imageConfig([first.diffId, wrong]) },
        {
          name: "manifest.json",
          type: "file",
          data: dockerManifest("config.json", ["l1/layer.tar", "l2/layer.tar"]),
        },
      ]),
      /: layer 2 does not match its diff id sha256:0{64}$/m,
    );
    // two images: the first loads, the second does not; neither is tagged
    const members = await dockerMembers(dir);
    await refused(
      await archive(dir, "twoimages", [
        ...members.filter((m) => m.name !== "manifest.json"),
        { name: "bad.json", type: "file", data: imageConfig([wrong]) },
        {
          name: "manifest.json",
          type: "file",
          data: JSON.stringify([
            { Config: "config.json", RepoTags: ["first:1"], Layers: ["l1/layer.tar"] },
            { Config: "bad.json", RepoTags: ["second:1"], Layers: ["l1/layer.tar"] },
          ]),
        },
      ]),
      /: layer 1 does not match its diff id sha256:0{64}$/m,
    );
    assert.doesNotMatch(await skiffOk(store, ["images"]), /^(localhost\/)?(first|second)\s/m);
  });
});

test("a failed import leaves nothing in the store", async () => {
  await withVictim(async ({ store, dir }) => {
    const tar = await tarBytes(dir, [{ name: "zeros", type: "file", data: new Uint8Array(1 << 20) }]);
    const zipped = await gzip(tar);
    const truncated = `${dir}/truncated.tar.gz`;
    await Deno.writeFile(truncated, zipped.subarray(0, zipped.length - 100));
    const start = snapshot(store);
    const r = await skiff(store, ["import", truncated, "truncated:1"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^skiff: Cannot import ".*truncated\.tar\.gz": /);
    assert.equal(snapshot(store), start);
  });
});

test("malformed archive documents are one-line errors naming the document", async () => {
  await withVictim(async ({ dir, refused }) => {
    const oci = await ociLayout(dir);
    const image = await ociImage(dir);
    const others = oci.members.filter((m) => m.name !== "index.json" && m.name !== "oci-layout");
    const withIndex = (index: unknown, blobs: Member[] = []) => [
      { name: "oci-layout", type: "file", data: '{"imageLayoutVersion":"1.0.0"}' } as Member,
      {
        name: "index.json",
        type: "file",
        data: typeof index === "string" ? index : JSON.stringify(index),
      } as Member,
      ...others,
      ...blobs,
    ];
    /** An index of one manifest with this content (stored under its right digest). */
    const withManifest = async (manifest: unknown, blobs: Member[] = []) => {
      const text = JSON.stringify(manifest);
      const hex = await sha256(text);
      return withIndex({ schemaVersion: 2, manifests: [descriptor(MANIFEST, hex, text.length)] }, [
        { name: `blobs/sha256/${hex}`, type: "file", data: text },
        ...blobs,
      ]);
    };
    const withConfig = async (config: unknown) => {
      const text = JSON.stringify(config);
      const hex = await sha256(text);
      return await withManifest({
        schemaVersion: 2,
        mediaType: MANIFEST,
        config: descriptor("application/vnd.oci.image.config.v1+json", hex, encoder.encode(text).length),
        layers: [],
      }, [{ name: `blobs/sha256/${hex}`, type: "file", data: text }]);
    };
    const goodConfig = JSON.parse(image.configJson);
    const cases: [string, Member[], RegExp][] = [
      ["index-array", withIndex([]), /: "index\.json": it must be an object$/m],
      ["index-nomanifests", withIndex({ schemaVersion: 2 }), /: "index\.json": manifests must be an array$/m],
      ["index-notjson", withIndex("{nope"), /: "index\.json": it is not valid JSON$/m],
      [
        "index-digest",
        withIndex({
          schemaVersion: 2,
          manifests: [{ mediaType: MANIFEST, digest: "sha256:../../x", size: 1 }],
        }),
        /: "index\.json": manifests\[0\]\.digest "sha256:\.\.\/\.\.\/x" is not a sha256 digest$/m,
      ],
      ["index-empty", withIndex({ schemaVersion: 2, manifests: [] }), /: "index\.json" lists no images$/m],
      [
        "manifest-layers",
        await withManifest({ schemaVersion: 2, config: { digest: `sha256:${image.configHex}`, size: 1 } }),
        /: manifest sha256:[0-9a-f]{64}: layers must be an array$/m,
      ],
      [
        "manifest-config",
        await withManifest({ schemaVersion: 2, layers: [] }),
        /: manifest sha256:[0-9a-f]{64}: config must be an object$/m,
      ],
      [
        "missing-blob",
        await withManifest({
          schemaVersion: 2,
          config: descriptor("application/vnd.oci.image.config.v1+json", "a".repeat(64), 2),
          layers: [],
        }),
        /: config sha256:a{64} is missing$/m,
      ],
      [
        "config-rootfs",
        await withConfig({ ...goodConfig, rootfs: undefined }),
        /: config sha256:[0-9a-f]{64}: rootfs must be an object$/m,
      ],
      [
        "config-diffids",
        await withConfig({ ...goodConfig, rootfs: { type: "layers", diff_ids: "x" } }),
        /: config sha256:[0-9a-f]{64}: rootfs\.diff_ids must be an array$/m,
      ],
      [
        "config-cmd",
        await withConfig({ ...goodConfig, rootfs: { type: "layers", diff_ids: [] }, config: { Cmd: "sh" } }),
        /: config sha256:[0-9a-f]{64}: config\.Cmd must be an array of strings$/m,
      ],
      [
        "config-env",
        await withConfig({
          ...goodConfig,
          rootfs: { type: "layers", diff_ids: [] },
          config: { Env: ["pwn"] },
        }),
        /: config sha256:[0-9a-f]{64}: Env entry "pwn" is not KEY=VALUE$/m,
      ],
      [
        "config-env-newline",
        await withConfig({
          ...goodConfig,
          rootfs: { type: "layers", diff_ids: [] },
          config: { Env: ["A=1\nB=2"] },
        }),
        /: config sha256:[0-9a-f]{64}: Env entry "A=1\\nB=2" has a NUL or newline$/m,
      ],
      [
        "config-env-nul",
        await withConfig({
          ...goodConfig,
          rootfs: { type: "layers", diff_ids: [] },
          config: { Env: ["A=1\0"] },
        }),
        /: config sha256:[0-9a-f]{64}: Env entry "A=1\\u0000" has a NUL or newline$/m,
      ],
      [
        "config-env-emptykey",
        await withConfig({
          ...goodConfig,
          rootfs: { type: "layers", diff_ids: [] },
          config: { Env: ["=x"] },
        }),
        /: config sha256:[0-9a-f]{64}: Env entry "=x" is not KEY=VALUE$/m,
      ],
    ];
    const docker = await dockerMembers(dir);
    const layers = docker.filter((m) => m.name !== "manifest.json");
    const dockerWith = (manifest: string, extra: Member[] = []) => [...layers, ...extra, {
      name: "manifest.json",
      type: "file",
      data: manifest,
    } as Member];
    cases.push(
      ["docker-object", dockerWith("{}"), /: "manifest\.json": it must be an array$/m],
      ["docker-empty", dockerWith("[]"), /: "manifest\.json" lists no images$/m],
      [
        "docker-layers",
        dockerWith(JSON.stringify([{ Config: "config.json", RepoTags: null }])),
        /: "manifest\.json": \[0\]\.Layers must be an array of strings$/m,
      ],
      [
        "docker-config",
        dockerWith(JSON.stringify([{ Config: 7, Layers: [] }])),
        /: "manifest\.json": \[0\]\.Config must be a string$/m,
      ],
      [
        "docker-tag",
        dockerWith(dockerManifest("config.json", ["l1/layer.tar"], ["Bad:Name"])),
        /: Invalid image reference "Bad:Name"/m,
      ],
      [
        "docker-count",
        dockerWith(dockerManifest("config.json", ["l1/layer.tar", "l1/layer.tar"])),
        /: config "config\.json" lists 1 layers, the manifest 2$/m,
      ],
      [
        "docker-env",
        dockerWith(dockerManifest("env.json", ["l1/layer.tar"]), [{
          name: "env.json",
          type: "file",
          data: imageConfig([(await layer(dir)).diffId], { Env: ["PATH=/bin", "pwn"] }),
        }]),
        /: config "env\.json": Env entry "pwn" is not KEY=VALUE$/m,
      ],
    );
    for (const [name, members, message] of cases) {
      await refused(await archive(dir, name, members), message);
    }
  });
});

/** An OCI layout whose one image is a multi-platform index of `platforms`, each with its own layer. */
async function multiPlatform(dir: string, platforms: Record<string, unknown>[]): Promise<Member[]> {
  const blobs: Member[] = [];
  const manifests = [];
  for (const platform of platforms) {
    const image = await ociImage(dir, {
      text: `${JSON.stringify(platform)}\n`,
      arch: String(platform.architecture),
      config: { Env: [`PLATFORM=${platform.architecture}/${platform.variant ?? ""}`] },
    });
    blobs.push(...image.blobs);
    manifests.push(descriptor(MANIFEST, image.manifestHex, image.manifest.length, { platform }));
  }
  const nested = JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests });
  const nestedHex = await sha256(nested);
  const index = JSON.stringify({
    schemaVersion: 2,
    manifests: [
      descriptor(INDEX, nestedHex, nested.length, { annotations: { "io.containerd.image.name": "multi:1" } }),
    ],
  });
  return [
    { name: "oci-layout", type: "file", data: '{"imageLayoutVersion":"1.0.0"}' },
    { name: "index.json", type: "file", data: index },
    { name: `blobs/sha256/${nestedHex}`, type: "file", data: nested },
    ...blobs,
  ];
}

const HOST_ARCH = Deno.build.arch === "x86_64" ? "amd64" : "arm64";
const OTHER_ARCH = HOST_ARCH === "amd64" ? "arm64" : "amd64";

test("a multi-platform index loads the host's platform, skipping attestations", async () => {
  await withVictim(async ({ store, dir }) => {
    const members = await multiPlatform(dir, [
      { os: "unknown", architecture: "unknown" },
      { os: "linux", architecture: OTHER_ARCH, ...(OTHER_ARCH === "arm64" ? { variant: "v8" } : {}) },
      { os: "linux", architecture: "s390x" },
      { os: "linux", architecture: HOST_ARCH, ...(HOST_ARCH === "arm64" ? { variant: "v8" } : {}) },
    ]);
    const input = await archive(dir, "multi", members);
    assert.equal(await skiffOk(store, ["load", "-i", input]), "Loaded image: localhost/multi:1\n");
    const [image] = JSON.parse(await skiffOk(store, ["inspect", "multi:1"]));
    assert.equal(image.architecture, HOST_ARCH);
    assert.ok(image.config.Env.some((e: string) => e.startsWith(`PLATFORM=${HOST_ARCH}/`)), image.config.Env);
    // the same as a layout directory, which load only reads
    await skiffOk(store, ["rmi", "multi:1"]);
    const layout = `${dir}/layout`;
    await Deno.mkdir(layout);
    assert.equal((await new Deno.Command("tar", { args: ["-xf", input, "-C", layout] }).output()).code, 0);
    const files = tree(layout);
    assert.equal(await skiffOk(store, ["load", "-i", layout]), "Loaded image: localhost/multi:1\n");
    assert.equal(tree(layout), files, "the layout is as it was");
    assert.equal(JSON.parse(await skiffOk(store, ["inspect", "multi:1"]))[0].architecture, HOST_ARCH);
  });
});

test("an empty index, or one without the host's platform, is a one-line error", async () => {
  await withVictim(async ({ dir, refused }) => {
    await refused(
      await archive(
        dir,
        "noplatform",
        await multiPlatform(dir, [
          { os: "unknown", architecture: "unknown" },
          { os: "linux", architecture: OTHER_ARCH },
          { os: "linux", architecture: "s390x" },
        ]),
      ),
      new RegExp(
        `: index sha256:[0-9a-f]{64}: no image for linux/${HOST_ARCH}; it offers linux/${OTHER_ARCH}, linux/s390x$`,
        "m",
      ),
    );
    await refused(
      await archive(dir, "emptynested", await multiPlatform(dir, [])),
      new RegExp(`: index sha256:[0-9a-f]{64}: no image for linux/${HOST_ARCH}; it offers none$`, "m"),
    );
  });
});

test("save -o onto a directory fails and leaves the directory", async () => {
  await withVictim(async ({ store, dir }) => {
    const out = `${dir}/out`;
    await Deno.mkdir(out);
    const r = await skiff(store, ["save", "-o", out, "busybox"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^skiff: Cannot write ".*\/out": it is a directory$/m);
    assert.ok(Deno.statSync(out).isDirectory, "the directory is still there");
    assert.deepEqual(entries(`${store}/tmp`), []);
  });
});

test("a loaded config with docker's nulls, or without run defaults, runs", async () => {
  await withVictim(async ({ store, dir }) => {
    const tar = await tarBytes(dir, [
      { name: "bin", type: "dir" },
      { name: "bin/busybox", type: "file", data: await Deno.readFile("/bin/busybox"), mode: 0o755 },
    ]);
    const diffId = await sha256(tar);
    const nulls = JSON.stringify({
      architecture: HOST_ARCH,
      os: "linux",
      config: { Entrypoint: null, Cmd: ["/bin/busybox", "echo", "ran"], Env: null, WorkingDir: null },
      rootfs: { type: "layers", diff_ids: [`sha256:${diffId}`] },
    });
    const bare = JSON.stringify({ os: "linux", rootfs: { type: "layers", diff_ids: [`sha256:${diffId}`] } });
    const input = await archive(dir, "nulls", [
      { name: "l/layer.tar", type: "file", data: tar },
      { name: "nulls.json", type: "file", data: nulls },
      { name: "bare.json", type: "file", data: bare },
      {
        name: "manifest.json",
        type: "file",
        data: JSON.stringify([
          { Config: "nulls.json", RepoTags: ["nulls:1"], Layers: ["l/layer.tar"] },
          { Config: "bare.json", RepoTags: ["bare:1"], Layers: ["l/layer.tar"] },
        ]),
      },
    ]);
    assert.equal(
      await skiffOk(store, ["load", "-i", input]),
      "Loaded image: localhost/nulls:1\nLoaded image: localhost/bare:1\n",
    );
    assert.equal(await skiffOk(store, ["run", "--rm", "nulls:1"]), "ran\n");
    assert.equal(await skiffOk(store, ["run", "--rm", "bare:1", "/bin/busybox", "echo", "bare"]), "bare\n");
  });
});
