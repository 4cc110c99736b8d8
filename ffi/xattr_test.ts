import assert from "node:assert/strict";
import { AlreadyExists } from "./errors.ts";
import { mknod, S_IFCHR } from "./xattr.ts";

Deno.test({
  name: "[root] mknod makes the device its caller asks for",
  ignore: Deno.uid() !== 0,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "skiff-mknod-" });
    try {
      mknod(`${dir}/zero`, S_IFCHR | 0o600, 0n);
      const info = Deno.lstatSync(`${dir}/zero`);
      assert.ok(info.isCharDevice);
      assert.equal(info.rdev, 0);
      assert.equal(info.mode! & 0o777, 0o600 & ~Deno.umask(), "the mode, through the umask");
      mknod(`${dir}/null`, S_IFCHR, (1n << 8n) | 3n); // 1:3, as /dev/null
      assert.equal(Deno.lstatSync(`${dir}/null`).rdev, Deno.lstatSync("/dev/null").rdev);
      assert.throws(() => mknod(`${dir}/zero`, S_IFCHR, 0n), AlreadyExists);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
