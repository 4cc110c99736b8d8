import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import {
  CAPABILITIES,
  capabilityName,
  DEFAULT_CAPABILITIES,
  keptCapabilities,
} from "../host/capabilities.ts";
import { parseSecurityFlags, planSecurity } from "./security.ts";
import { processStartTime } from "../host/proc.ts";

Deno.test("capabilities are named as docker takes them: with or without CAP_, any case, or ALL", () => {
  assert.equal(capabilityName("net_admin", "--cap-add"), "CAP_NET_ADMIN");
  assert.equal(capabilityName("CAP_SYS_ADMIN", "--cap-add"), "CAP_SYS_ADMIN");
  assert.equal(capabilityName("all", "--cap-drop"), "ALL");
  assert.throws(
    () => capabilityName("NET_FOO", "--cap-add"),
    (e: Error) => e instanceof UsageError && /^Unknown capability "NET_FOO" for --cap-add: /.test(e.message),
  );
});

Deno.test("the kept set is the default plus adds less drops; ALL starts from every capability or none", () => {
  assert.deepEqual(keptCapabilities([], []), [...DEFAULT_CAPABILITIES]);
  const more = keptCapabilities(["CAP_NET_ADMIN"], ["CAP_CHOWN"]);
  assert.ok(more.includes("CAP_NET_ADMIN") && !more.includes("CAP_CHOWN"));
  assert.deepEqual(keptCapabilities(["CAP_KILL"], ["ALL"]), ["CAP_KILL"]);
  assert.deepEqual(keptCapabilities([], ["ALL"]), []);
  const all = keptCapabilities(["ALL"], ["CAP_SYS_ADMIN"]);
  assert.equal(all.length, Object.keys(CAPABILITIES).length - 1);
  assert.ok(!all.includes("CAP_SYS_ADMIN"));
});

Deno.test("security options are parsed with docker's spelling, and a bad one names itself", async () => {
  assert.deepEqual(await parseSecurityFlags({}), {});
  assert.deepEqual(
    await parseSecurityFlags({
      securityOpt: ["seccomp=unconfined", "no-new-privileges"],
      capAdd: ["net_admin"],
      capDrop: ["ALL"],
    }),
    { seccomp: "unconfined", noNewPrivileges: true, capAdd: ["CAP_NET_ADMIN"], capDrop: ["ALL"] },
  );
  assert.deepEqual(await parseSecurityFlags({ securityOpt: ["no-new-privileges:false"] }), {
    noNewPrivileges: false,
  });
  await assert.rejects(
    parseSecurityFlags({ securityOpt: ["apparmor=unconfined"] }),
    /^UsageError: Unknown security option "apparmor=unconfined": use seccomp=unconfined/,
  );
  await assert.rejects(
    parseSecurityFlags({ securityOpt: ["seccomp=/nonexistent/p.json"] }),
    /Cannot read seccomp profile "\/nonexistent\/p\.json"/,
  );
});

Deno.test("a profile file is read and checked when the flags are parsed, and kept whole", async () => {
  const dir = await Deno.makeTempDir({ prefix: "skiff-seccomp-" });
  try {
    const good = `${dir}/good.json`;
    const profile = {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO" }],
    };
    await Deno.writeTextFile(good, JSON.stringify(profile));
    assert.deepEqual(await parseSecurityFlags({ securityOpt: [`seccomp=${good}`] }), {
      seccomp: { file: good, profile },
    });
    await Deno.writeTextFile(`${dir}/bad.json`, "{ nope");
    await assert.rejects(
      parseSecurityFlags({ securityOpt: [`seccomp=${dir}/bad.json`] }),
      (e: Error) =>
        e instanceof UsageError &&
        e.message.startsWith(`Invalid seccomp profile "${dir}/bad.json": not JSON`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the plan: the default filter and set; unconfined or privileged, no filter; privileged keeps every capability", async () => {
  const standard = await planSecurity();
  assert.ok(standard.seccomp && standard.seccomp.program.length > 1000);
  assert.equal(standard.seccomp.flags, 0);
  assert.ok(standard.dropCaps.includes(CAPABILITIES.CAP_SYS_ADMIN));
  assert.equal(standard.noNewPrivileges, undefined);
  const unconfined = await planSecurity({ seccomp: "unconfined", noNewPrivileges: true });
  assert.equal(unconfined.seccomp, undefined);
  assert.equal(unconfined.noNewPrivileges, true);
  const privileged = await planSecurity({ privileged: true });
  assert.equal(privileged.seccomp, undefined);
  assert.ok(privileged.dropCaps.every((c) => c > 40), "only numbers beyond the last capability are dropped");
  await assert.rejects(planSecurity({}, undefined, "riscv64"), /no seccomp filter for riscv64/);
});

Deno.test("the user's plan: --cap-add's kept capabilities as its ambient set, none with --privileged; --user checked", async () => {
  const opts = { seccomp: "unconfined" as const, user: "app", groupAdd: ["7"] };
  assert.equal((await planSecurity({ seccomp: "unconfined" })).user, undefined, "root: nothing to become");
  assert.deepEqual((await planSecurity({ ...opts, capAdd: ["CAP_NET_ADMIN"] })).user, {
    spec: "app",
    groupAdd: ["7"],
    ambient: [CAPABILITIES.CAP_NET_ADMIN],
  });
  assert.equal((await planSecurity({ ...opts, capAdd: ["ALL"] })).user?.ambient.length, 41);
  assert.deepEqual((await planSecurity({ ...opts, privileged: true })).user?.ambient, []);
  await assert.rejects(
    parseSecurityFlags({ user: "a:b:c" }),
    /Invalid --user "a:b:c": use UID\[:GID\] or NAME\[:GROUP\]/,
  );
  assert.deepEqual(await parseSecurityFlags({ user: "app:staff", groupAdd: ["audio"] }), {
    user: "app:staff",
    groupAdd: ["audio"],
  });
});

Deno.test("a compiled filter is cached by what it is made from, and a damaged cache entry is made again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "skiff-seccomp-cache-" });
  try {
    const first = await planSecurity({}, dir);
    const [entry, ...more] = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(more, [], "one entry, no temporary file left");
    // what a writer killed between its write and its rename left, and a live one's
    const dead = 999_999_999; // above any pid_max: no such process
    Deno.writeFileSync(`${dir}/.x.bpf.${dead}-1`, new Uint8Array(8));
    const live = `.y.bpf.${Deno.pid}-${processStartTime(Deno.pid)}`;
    Deno.writeFileSync(`${dir}/${live}`, new Uint8Array(8));
    assert.match(entry, /^[0-9a-f]{28}\.bpf$/);
    assert.deepEqual(await planSecurity({}, dir), first, "the same filter from the cache");
    const admin = await planSecurity({ capAdd: ["CAP_SYS_ADMIN"] }, dir);
    assert.notEqual(admin.seccomp?.program, first.seccomp?.program, "other capabilities, another filter");
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith(".")),
      [live],
      "a dead writer's leftover is swept at the next write, a live one's kept",
    );
    Deno.removeSync(`${dir}/${live}`);
    assert.equal([...Deno.readDirSync(dir)].length, 2);
    Deno.writeFileSync(`${dir}/${entry}`, new Uint8Array(5));
    assert.deepEqual(await planSecurity({}, dir), first, "a damaged entry is not used");
    const profile = { defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_LOG"] };
    const logged = await planSecurity({ seccomp: { file: "p.json", profile } }, dir);
    assert.equal(logged.seccomp?.flags, 2, "SECCOMP_FILTER_FLAG_LOG");
    assert.deepEqual(
      await planSecurity({ seccomp: { file: "p.json", profile } }, dir),
      logged,
      "flags kept too",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
