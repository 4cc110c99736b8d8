import assert from "node:assert/strict";
import { exportArgv } from "./export.ts";

Deno.test("export tars a read-only overlay of upper dir and layers, in a namespace that dies with skiff", () => {
  const argv = exportArgv(["/s/c/upper", "/s/layers/b", "/s/layers/a"], "/s/tmp/export-1", false);
  assert.deepEqual(argv.slice(0, 4), ["setpriv", "--pdeathsig", "SIGKILL", "--"]);
  const unshare = argv.slice(4, argv.indexOf("sh"));
  assert.ok(
    unshare.includes("--mount") && !unshare.includes("--fork"),
    "unshare execs: tar keeps the signal",
  );
  assert.deepEqual(unshare.slice(unshare.indexOf("--propagation"), unshare.indexOf("--propagation") + 2), [
    "--propagation",
    "private",
  ]);
  const options = argv.find((a) => a.includes("lowerdir="))!.split(",");
  assert.ok(options.includes("ro"));
  assert.ok(options.includes("lowerdir=/s/c/upper:/s/layers/b:/s/layers/a"), "the upper dir on top");
  assert.ok(!options.some((o) => o.startsWith("upperdir=") || o.startsWith("workdir=")), "nothing written");
  assert.ok(!options.includes("userxattr"));
  assert.deepEqual(argv.slice(-3), ["-C", "/s/tmp/export-1", "."]);
  assert.ok(
    argv.includes("--xattrs-exclude=trusted.overlay.*") && argv.includes("--xattrs-exclude=user.overlay.*"),
  );
  const rootless = exportArgv(["/u", "/l"], "/m", true);
  assert.ok(rootless.find((a) => a.includes("lowerdir="))!.split(",").includes("userxattr"));
});
