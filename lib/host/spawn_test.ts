import assert from "node:assert/strict";
import { containerArgv, NAMESPACES } from "./spawn.ts";

const spec = { deno: "/usr/bin/deno", initModule: "/x/lib/init.ts", initSpec: "/s/c/init.json" };

/** The namespace flags of the argv's `unshare`, as namespace names. */
function made(argv: string[]): string[] {
  const unshare = argv.slice(argv.indexOf("unshare") + 1, argv.indexOf("--", argv.indexOf("unshare")));
  const flags = unshare.filter((a) => a.startsWith("--") && a !== "--propagation");
  return flags.map((a) => a.slice(2));
}

Deno.test("init runs under unshare with every namespace, private propagation, tied to skiff's life", () => {
  const argv = containerArgv(spec);
  assert.deepEqual(argv.slice(0, 4), ["setpriv", "--pdeathsig", "SIGKILL", "--"]);
  const unshare = argv.slice(4, argv.indexOf("timeout"));
  assert.deepEqual(new Set(made(argv)), new Set(NAMESPACES), "run makes the one list exec joins");
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

Deno.test("init's namespaces follow the list it is given", () => {
  assert.deepEqual(
    new Set(made(containerArgv({ ...spec, namespaces: ["mount", "pid", "cgroup"] }))),
    new Set([
      "mount",
      "pid",
      "cgroup",
    ]),
  );
});
