import assert from "node:assert/strict";
import { hostUid, inUserNamespace, mappedIds } from "./proc.ts";
import {
  checkKernel,
  checkUserNamespaces,
  planUserNamespace,
  reexecArgv,
  subordinateRange,
} from "./rootless.ts";
import { rootlessStoreRoot } from "../store/store.ts";
import { chainOf, optionValue } from "../../tests/argv.ts";

Deno.test("a user's first subordinate range is found by name or by uid", () => {
  const text = "alice:100000:65536\nbob:165536:65536\n1003:231072:1000\nbob:300000:10\n";
  assert.deepEqual(subordinateRange(text, "bob", 1002), { start: 165536, count: 65536 });
  assert.deepEqual(subordinateRange(text, "carol", 1003), { start: 231072, count: 1000 });
  assert.equal(subordinateRange(text, "dave", 1004), null);
  assert.equal(subordinateRange("dave:1:0\n", "dave", 1004), null, "an empty range is none");
});

Deno.test("the whole range is mapped when subuid, subgid and newuidmap allow it; else one id, with a warning", () => {
  const range = { start: 100000, count: 65536 };
  assert.deepEqual(planUserNamespace("al", range, range, true), {
    args: ["--user", "--map-root-user", "--map-auto"],
  });
  const noSubgid = planUserNamespace("al", range, null, true);
  assert.deepEqual(noSubgid.args, ["--user", "--map-root-user"]);
  assert.match(
    noSubgid.warning!,
    /only your own uid and gid are mapped .+ "al" has no range in \/etc\/subgid/,
  );
  assert.match(noSubgid.warning!, /usermod --add-subuids/);
  assert.match(planUserNamespace("al", range, range, false).warning!, /newuidmap is not installed/);
  assert.doesNotMatch(noSubgid.warning!, /\n/, "one line");
});

Deno.test("each setting that forbids user namespaces is named, with how to allow it", async () => {
  const sysctl = (values: Record<string, string>) => (path: string) =>
    Promise.resolve(values[path.split("/").pop()!] ?? "");
  await checkUserNamespaces(sysctl({ max_user_namespaces: "63000\n" }));
  await assert.rejects(
    checkUserNamespaces(sysctl({ max_user_namespaces: "0\n" })),
    /user\.max_user_namespaces is 0 here: run skiff with sudo, or allow them \(sudo sysctl -w user\.max_user_namespaces=15000\)/,
  );
  await assert.rejects(
    checkUserNamespaces(sysctl({ unprivileged_userns_clone: "0" })),
    /kernel\.unprivileged_userns_clone is 0/,
  );
  await assert.rejects(
    checkUserNamespaces(sysctl({ apparmor_restrict_unprivileged_userns: "1" })),
    /kernel\.apparmor_restrict_unprivileged_userns is 1 .+=0\)/,
  );
});

Deno.test("the uid map tells the host's namespace from a user namespace, and how many ids it maps", () => {
  assert.equal(inUserNamespace("         0          0 4294967295\n"), false);
  assert.equal(inUserNamespace("         0       1001          1\n"), true);
  assert.equal(mappedIds("0 1001 1\n"), 1);
  assert.equal(mappedIds("0 1001 1\n1 100000 65535\n"), 65536);
});

Deno.test("the uid outside: the host's own, or what a user namespace maps ours to", () => {
  assert.equal(hostUid(0, "         0          0 4294967295\n"), 0);
  assert.equal(hostUid(1001, "         0          0 4294967295\n"), 1001);
  // root of a rootless user's namespace is that user; a subordinate id is its outer one
  assert.equal(hostUid(0, "         0       1001          1\n         1     165536      65535\n"), 1001);
  assert.equal(hostUid(7, "0 1001 1\n1 165536 65535\n"), 165542);
  // unmapped (the overflow uid): itself
  assert.equal(hostUid(65534, "0 1001 1\n"), 65534);
});

Deno.test("a user's store is under XDG_DATA_HOME, else ~/.local/share", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(rootlessStoreRoot(env({ XDG_DATA_HOME: "/x/data", HOME: "/home/al" })), "/x/data/skiff");
  assert.equal(rootlessStoreRoot(env({ HOME: "/home/al" })), "/home/al/.local/share/skiff");
  assert.throws(() => rootlessStoreRoot(env({})), /set HOME or XDG_DATA_HOME, or give --root/);
});

Deno.test("skiff runs again under unshare, re-arming the parent-death signal the new namespace cleared", () => {
  const plan = { args: ["--user", "--map-root-user"] };
  const argv = reexecArgv(plan, "/bin/deno", "/s/cli.ts", ["ps", "-a"]);
  const chain = chainOf(argv, ["unshare", "setpriv", "deno"]);
  assert.deepEqual(
    chain.map((l) => l.program),
    ["unshare", "setpriv", "deno"],
    "setpriv inside the namespace",
  );
  const [unshare, setpriv, deno] = chain;
  assert.deepEqual(unshare.args, plan.args, "the planned user namespace, nothing else");
  assert.equal(optionValue(setpriv.args, "--pdeathsig"), "SIGKILL");
  assert.equal(deno.args[0], "run");
  assert.deepEqual(
    deno.args.filter((a) => !a.startsWith("-")),
    ["run", "/s/cli.ts", "ps"],
    "the CLI and its verb",
  );
  assert.deepEqual(
    deno.args.slice(deno.args.indexOf("/s/cli.ts") + 1),
    ["ps", "-a"],
    "the user's args, as given",
  );
});

Deno.test("a kernel before 5.11 cannot mount overlay in a user namespace, and skiff says so", () => {
  checkKernel("6.18.44-fc-v782");
  checkKernel("5.11.0");
  assert.throws(
    () => checkKernel("5.10.0-28-amd64"),
    /need Linux 5\.11 or later, .+ this kernel is 5\.10\.0-28-amd64/,
  );
  assert.throws(() => checkKernel("4.19.0"), /5\.11/);
});
