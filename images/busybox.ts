/**
 * The busybox image, built from the host's static busybox (Debian package
 * busybox-static): the binary, a link for every applet where busybox's own
 * `--list-full` puts it, and a minimal /etc. The tar is made reproducibly
 * (sorted, fixed owner and mtime), so the same busybox gives the same layer.
 *
 * @module
 */

import { BUSYBOX_IMAGE, findImage, type Image, importImage } from "../lib/image/images.ts";
import type { Store } from "../lib/store/store.ts";
import { runHelper } from "../lib/host/spawn.ts";
import { BUSYBOX } from "../lib/host/tools.ts";
import { DEFAULT_PATH } from "../lib/image/default_path.ts";

/** Where busybox sits in the image, every applet a symlink to it. */
const IN_IMAGE = "bin/busybox";
const INSTALL_HINT = "install it with: sudo apt-get install busybox-static";

const ETC: Record<string, string> = {
  passwd: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
  group: "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
  hostname: "skiff\n",
  hosts: "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
};

/**
 * Whether an ELF file is statically linked: it has no PT_INTERP program
 * header, so it runs without the host's dynamic loader and libc.
 */
export function isStaticElf(bytes: Uint8Array): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const elf = view.getUint32(0) === 0x7f454c46 && view.getUint8(4) === 2; // 64-bit
  if (!elf) return false;
  const phoff = Number(view.getBigUint64(0x20, true));
  const phentsize = view.getUint16(0x36, true);
  const phnum = view.getUint16(0x38, true);
  for (let i = 0; i < phnum; i++) {
    if (view.getUint32(phoff + i * phentsize, true) === 3) return false; // PT_INTERP
  }
  return true;
}

/**
 * Fills `dir` with the busybox root filesystem.
 *
 * @throws {Error} when the host has no static busybox, saying how to get one
 */
async function makeBusyboxRootfs(dir: string): Promise<void> {
  let binary: Uint8Array;
  try {
    binary = await Deno.readFile(BUSYBOX);
  } catch {
    throw new Error(`Cannot build the busybox image: ${BUSYBOX} is missing; ${INSTALL_HINT}`);
  }
  if (!isStaticElf(binary)) {
    throw new Error(`Cannot build the busybox image: ${BUSYBOX} is not statically linked; ${INSTALL_HINT}`);
  }
  for (const sub of ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "var", "home"]) {
    await Deno.mkdir(`${dir}/${sub}`, { recursive: true, mode: 0o755 });
  }
  await Deno.mkdir(`${dir}/root`, { mode: 0o700 });
  await Deno.mkdir(`${dir}/tmp`);
  await Deno.chmod(`${dir}/tmp`, 0o1777);
  await Deno.writeFile(`${dir}/${IN_IMAGE}`, binary, { mode: 0o755 });
  const context = "Cannot build the busybox image";
  const list = await runHelper(BUSYBOX, ["--list-full"], context, { stdout: true });
  for (const applet of new TextDecoder().decode(list).split("\n")) {
    if (applet === "" || applet === IN_IMAGE) continue;
    await Deno.symlink(`/${IN_IMAGE}`, `${dir}/${applet}`);
  }
  for (const [name, content] of Object.entries(ETC)) {
    await Deno.writeTextFile(`${dir}/etc/${name}`, content, { mode: 0o644 });
  }
}

/**
 * Builds the busybox image and stores it as `localhost/busybox:latest`,
 * an image made here. Callers that race here build it once: the first
 * holds a lock, the others find its result.
 */
export async function buildBusyboxImage(store: Store): Promise<Image> {
  await store.init();
  using lock = await Deno.open(`${store.root}/images/busybox.lock`, { create: true, write: true });
  await lock.lock(true);
  // only the local name: a pulled docker.io busybox is not this image
  const built = await findImage(store, BUSYBOX_IMAGE);
  if (built) return built;
  const dir = await Deno.makeTempDir({ dir: store.tmpDir, prefix: store.tempPrefix("busybox") });
  try {
    await makeBusyboxRootfs(dir);
    // The tar's "./" is the container's root: a temporary dir's 0700 would
    // let no user but root into it (podman and runc take it as it is).
    await Deno.chmod(dir, 0o755);
    const { mtime } = await Deno.stat(BUSYBOX);
    const tarFile = `${dir}.tar`;
    await runHelper(
      "tar",
      [
        "-c",
        "-f",
        tarFile,
        "-C",
        dir,
        "--sort=name",
        "--numeric-owner",
        "--owner=0",
        "--group=0",
        `--mtime=@${Math.floor((mtime?.getTime() ?? 0) / 1000)}`,
        ".",
      ],
      "Cannot build the busybox image",
    );
    return await importImage(store, tarFile, {
      ref: BUSYBOX_IMAGE,
      label: "busybox",
      config: { Cmd: ["sh"], Env: [`PATH=${DEFAULT_PATH}`] },
      createdBy: `skiff images/busybox.ts from ${BUSYBOX}`,
      move: true,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(`${dir}.tar`).catch(() => {}); // moved into the store unless something failed
  }
}
