import assert from "node:assert/strict";
import { containerArgv, helperArgv, NAMESPACES, runHelper } from "./spawn.ts";
import { chainOf, flagsOf, optionValue } from "../../tests/argv.ts";

const SPEC = { deno: "/usr/bin/deno", initModule: "/x/lib/init.ts", initSpec: "/s/c/init.json" };

/** The namespaces an `unshare` link's flags make, by name. */
function made(unshareArgs: string[]): string[] {
  return flagsOf(unshareArgs).filter((f) => !f.startsWith("--propagation")).map((f) => f.slice(2));
}

Deno.test("init runs under unshare with every namespace but the network's (init's own), private propagation, tied to skiff's life", () => {
  const chain = chainOf(containerArgv(SPEC), ["setpriv", "unshare", "timeout", "deno"]);
  assert.deepEqual(
    chain.map((l) => l.program),
    ["setpriv", "unshare", "timeout", "setpriv", "deno"],
    "the keeper dies with skiff, makes the namespaces, forks PID 1, which dies with the keeper",
  );
  const [keeper, unshare, timeout, pid1, deno] = chain;
  for (const link of [keeper, pid1]) assert.equal(optionValue(link.args, "--pdeathsig"), "SIGKILL");

  const namespaces = flagsOf(unshare.args).filter((f) =>
    f !== "--propagation" && !f.startsWith("--propagation=")
  );
  assert.deepEqual(
    namespaces.sort(),
    ["--ipc", "--mount", "--pid", "--uts"],
    "these namespaces, no other: init makes or joins the network's (lib/container/network.ts)",
  );
  assert.deepEqual(
    new Set([...made(unshare.args), "net"]),
    new Set(NAMESPACES),
    "run makes the one list exec joins",
  );
  assert.ok(!unshare.args.includes("--fork"), "timeout forks PID 1: unshare --fork misreports SIGKILL");
  assert.equal(optionValue(unshare.args, "--propagation"), "private");

  assert.ok(timeout.args.includes("--foreground"), "PID 1 keeps the terminal");
  assert.equal(timeout.args.filter((a) => !a.startsWith("-")).join(" "), "0", "no time limit");

  assert.equal(deno.args[0], "run");
  assert.deepEqual(deno.args.filter((a) => !a.startsWith("-")), ["run", SPEC.initModule, SPEC.initSpec]);
  assert.deepEqual(
    flagsOf(deno.args).filter((f) => f.startsWith("--allow") || f === "-A").sort(),
    [
      "--allow-env=SKIFF_KEEPER_PARENT,SKIFF_TEST_HOLD_INIT",
      "--allow-ffi",
      "--allow-read",
      "--allow-run",
      "--allow-write",
    ],
    "init gets only what it needs (run: ip and nft, for a bridge's veth)",
  );
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

Deno.test("init's namespaces follow the list it is given", () => {
  const [, unshare] = chainOf(containerArgv({ ...SPEC, namespaces: ["mount", "pid", "cgroup"] }), [
    "setpriv",
    "unshare",
    "timeout",
    "deno",
  ]);
  assert.deepEqual(
    new Set(made(unshare.args)),
    new Set([
      "mount",
      "pid",
      "cgroup",
    ]),
  );
});
