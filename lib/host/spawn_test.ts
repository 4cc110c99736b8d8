import assert from "node:assert/strict";
import { containerArgv, helperArgv, runHelper } from "./spawn.ts";

Deno.test("init runs under unshare with every namespace, private propagation, tied to skiff's life", () => {
  const argv = containerArgv({
    deno: "/usr/bin/deno",
    initModule: "/x/lib/init.ts",
    initSpec: "/s/c/init.json",
  });
  assert.deepEqual(argv.slice(0, 4), ["setpriv", "--pdeathsig", "SIGKILL", "--"]);
  const unshare = argv.slice(4, argv.indexOf("timeout"));
  for (const ns of ["--mount", "--uts", "--ipc", "--net", "--pid"]) assert.ok(unshare.includes(ns), ns);
  assert.ok(!unshare.includes("--fork"), "timeout forks PID 1: unshare --fork misreports SIGKILL");
  const waiter = argv.slice(argv.indexOf("timeout"), argv.indexOf("/usr/bin/deno"));
  assert.deepEqual(waiter, ["timeout", "--foreground", "0", "setpriv", "--pdeathsig", "SIGKILL", "--"]);
  assert.deepEqual(unshare.slice(unshare.indexOf("--propagation"), unshare.indexOf("--propagation") + 2), [
    "--propagation",
    "private",
  ]);
  assert.deepEqual(argv.slice(-2), ["/x/lib/init.ts", "/s/c/init.json"]);
  assert.ok(!argv.includes("--allow-all") && !argv.includes("-A"), "init gets only what it needs");
});

Deno.test("a helper runs under setpriv with a parent-death SIGKILL, so it dies with skiff", () => {
  assert.deepEqual(helperArgv("tar", ["-x", "-f", "a.tar"]), [
    "setpriv",
    "--pdeathsig",
    "SIGKILL",
    "--",
    "tar",
    "-x",
    "-f",
    "a.tar",
  ]);
});

Deno.test("a helper's failure says its first stderr line and how it ended", async () => {
  await assert.rejects(
    runHelper("find", ["/nonexistent-skiff-dir"], "Looking"),
    // find quotes the name as the locale does: '...' or ‘...’
    /^Error: Looking: find: .\/nonexistent-skiff-dir.: No such file or directory \(find exited with status 1\)$/,
  );
  await assert.rejects(
    runHelper("sh", ["-c", "kill -KILL $$"], "Killing"),
    (e: Error) => e.message === "Killing: sh was killed by SIGKILL",
  );
  assert.deepEqual(
    await runHelper("sh", ["-c", "echo out; echo noise >&2"], "Talking", { stdout: true }),
    new TextEncoder().encode("out\n"),
  );
});
