import assert from "node:assert/strict";
import { deviceRule, parseDevices, splitDev } from "./devices.ts";

/** A fake host: a character device, a block device with a large minor, a file. */
function stat(path: string): Deno.FileInfo {
  const nodes: Record<string, Partial<Deno.FileInfo>> = {
    "/dev/null": { isCharDevice: true, isBlockDevice: false, rdev: 0x103, mode: 0o20666 },
    // major 259, minor 300: glibc's split encoding
    "/dev/nvme0n1": { isCharDevice: false, isBlockDevice: true, rdev: 0x11032c, mode: 0o60660 },
    "/etc/passwd": { isCharDevice: false, isBlockDevice: false, mode: 0o100644 },
  };
  const node = nodes[path];
  if (node === undefined) throw new Deno.errors.NotFound(path);
  return node as Deno.FileInfo;
}

Deno.test("major and minor numbers as glibc packs them", () => {
  assert.deepEqual(splitDev(0x103), { major: 1, minor: 3 });
  assert.deepEqual(splitDev(259 << 8 | (300 & 0xff) | ((300 & ~0xff) << 12)), { major: 259, minor: 300 });
});

Deno.test("--device: the host node's type, numbers and mode; the container path and rwm as given", () => {
  assert.deepEqual(parseDevices(["/dev/null"], stat), [{
    PathOnHost: "/dev/null",
    PathInContainer: "/dev/null",
    CgroupPermissions: "rwm",
    type: "c",
    major: 1,
    minor: 3,
    mode: 0o666,
  }]);
  const [disk] = parseDevices(["/dev/nvme0n1:/dev/disk/xda:r"], stat);
  assert.equal(disk.PathInContainer, "/dev/disk/xda");
  assert.equal(disk.CgroupPermissions, "r");
  assert.equal(deviceRule(disk), "b 259:300 r");
  assert.equal(parseDevices(["/dev/null:rw"], stat)[0].CgroupPermissions, "rw", "HOST:PERMISSIONS");
});

Deno.test("--device refuses what is no device, a missing one, and paths outside the container's /dev", () => {
  assert.throws(
    () => parseDevices(["/dev/nope"], stat),
    /Cannot add device "\/dev\/nope": no such file or directory/,
  );
  assert.throws(
    () => parseDevices(["/etc/passwd"], stat),
    /Cannot add device "\/etc\/passwd": it is not a device node/,
  );
  for (const bad of ["/dev/null:/etc/null", "/dev/null:/dev/../etc/x", "dev/null", "/dev/null:/dev/x:rw:m"]) {
    assert.throws(() => parseDevices([bad], stat), /Invalid --device/, bad);
  }
  assert.throws(() => parseDevices(["/dev/null:/dev/x:rwx"], stat), /Invalid --device/, "x is no permission");
});
