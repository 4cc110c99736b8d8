import assert from "node:assert/strict";
import { NotFound } from "./errors.ts";
import {
  AF_INET,
  close,
  IFF_UP,
  interfaceFlags,
  O_CLOEXEC,
  O_PATH,
  openat2,
  openPath,
  RESOLVE_IN_ROOT,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  socket,
} from "./libc.ts";

/** linux/openat2.h; skiff itself has no use for it. */
const RESOLVE_BENEATH = 0x08;

/** A directory whose `link` is an absolute symlink to `/etc`, and whose own `etc/` holds only `mine`. */
async function withRoot(fn: (rootFd: number) => void): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "skiff-openat2-" });
  const rootFd = openPath(root);
  try {
    await Deno.mkdir(`${root}/etc`);
    await Deno.writeTextFile(`${root}/etc/mine`, "");
    await Deno.symlink("/etc", `${root}/link`);
    fn(rootFd);
  } finally {
    close(rootFd);
    await Deno.remove(root, { recursive: true });
  }
}

/** Whether openat2 with these resolve flags reaches `path` from the root. */
const reaches = (rootFd: number, path: string, resolve: number) => {
  try {
    close(openat2(rootFd, path, O_PATH | O_CLOEXEC, resolve));
    return true;
  } catch (e) {
    if (e instanceof NotFound || (e as { code?: string }).code === "EXDEV") return false;
    throw e;
  }
};

Deno.test("openat2 resolves by the flags its caller passes, not by a policy of its own", async () => {
  await withRoot((rootFd) => {
    // no restriction: the absolute link leads to the host's /etc
    assert.equal(reaches(rootFd, "link/passwd", 0), true);
    assert.equal(reaches(rootFd, "link/mine", 0), false);
    // RESOLVE_IN_ROOT: the same link means the root's own etc/
    assert.equal(reaches(rootFd, "link/mine", RESOLVE_IN_ROOT), true);
    assert.equal(reaches(rootFd, "link/passwd", RESOLVE_IN_ROOT), false);
    // RESOLVE_BENEATH: an absolute link is refused outright (EXDEV)
    assert.equal(reaches(rootFd, "link/mine", RESOLVE_BENEATH), false);
    assert.equal(reaches(rootFd, "etc/mine", RESOLVE_BENEATH), true);
  });
});

Deno.test("interfaceFlags reads an interface's flags: the host's lo is up", () => {
  const fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  try {
    assert.equal(interfaceFlags(fd, "lo") & IFF_UP, IFF_UP);
    assert.throws(
      () => interfaceFlags(fd, "skiff-nosuch0"),
      (e: Error) => /SIOCGIFFLAGS "skiff-nosuch0"/.test(e.message),
    );
  } finally {
    close(fd);
  }
});
