import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import type { Image } from "../image/images.ts";
import { checkPrivileges, commandFor, environmentFor, validateRunOptions } from "./run.ts";

const image = (config: Image["config"]["config"]): Image => ({
  ref: "x:latest",
  id: "0".repeat(64),
  manifest: "1".repeat(64),
  size: 0,
  config: {
    created: "",
    architecture: "amd64",
    os: "linux",
    config,
    rootfs: { type: "layers", diff_ids: [] },
  },
});

Deno.test("--entrypoint replaces the image's and drops its Cmd; an empty one removes it, as docker", () => {
  const tini = image({ Entrypoint: ["tini", "--"], Cmd: ["sh"] });
  assert.deepEqual(commandFor(tini, [], "echo"), ["echo"]);
  assert.deepEqual(commandFor(tini, ["hi", "there"], "echo"), ["echo", "hi", "there"]);
  assert.deepEqual(commandFor(tini, ["ls", "-l"], ""), ["ls", "-l"]);
  assert.deepEqual(commandFor(tini, [], ""), ["/bin/sh"]);
});

Deno.test("the command comes from the user, else the image's Cmd, else /bin/sh; Entrypoint goes first", () => {
  assert.deepEqual(commandFor(image({ Cmd: ["sh"] }), ["ls", "-l"]), ["ls", "-l"]);
  assert.deepEqual(commandFor(image({ Cmd: ["sh"] }), []), ["sh"]);
  assert.deepEqual(commandFor(image({}), []), ["/bin/sh"]);
  assert.deepEqual(commandFor(image({ Entrypoint: ["tini", "--"], Cmd: ["sh"] }), ["top"]), [
    "tini",
    "--",
    "top",
  ]);
});

Deno.test("-e overrides the image's Env, which overrides skiff's defaults", () => {
  const env = environmentFor(image({ Env: ["PATH=/img", "A=image"] }), "h1", {
    image: "x",
    command: [],
    env: ["A=user", "B=x=y"],
    tty: true,
  });
  assert.deepEqual(env, ["PATH=/img", "HOSTNAME=h1", "HOME=/root", "TERM=xterm", "A=user", "B=x=y"]);
});

Deno.test("bad -e, hostname and workdir values are usage errors", () => {
  const base = { image: "busybox", command: [] };
  assert.throws(() => validateRunOptions({ ...base, env: ["FOO"] }), UsageError);
  assert.throws(() => validateRunOptions({ ...base, env: ["=x"] }), /Invalid environment variable "=x"/);
  assert.throws(() => validateRunOptions({ ...base, hostname: "no spaces" }), /Invalid hostname/);
  assert.throws(() => validateRunOptions({ ...base, workdir: "rel" }), /absolute path/);
  validateRunOptions({ ...base, env: ["A=", "B=1"], hostname: "web-1.local", workdir: "/srv" });
});

Deno.test("a -w under /proc or /sys is refused, after lexical normalisation", () => {
  const base = { image: "busybox", command: [] };
  for (const workdir of ["/proc", "/proc/x", "/sys/", "/sys/kernel", "/tmp/../proc/self", "//./sys"]) {
    assert.throws(
      () => validateRunOptions({ ...base, workdir }),
      (e) =>
        e instanceof UsageError &&
        new RegExp(`^Invalid working directory "${workdir}": it is under /(proc|sys), `).test(e.message),
      workdir,
    );
  }
  for (const workdir of ["/procfs", "/srv/proc", "/system", "/proc/../srv"]) {
    validateRunOptions({ ...base, workdir });
  }
});

Deno.test("the library refuses a non-root caller, pointing at sudo or the rootless CLI", () => {
  checkPrivileges(0);
  assert.throws(() => checkPrivileges(1000), /run skiff with sudo, or rootless through its CLI/);
});

Deno.test("--sysctl net.* is refused where the network namespace is not the container's own", () => {
  const base = { image: "busybox", command: [], security: { sysctls: { "net.ipv4.ip_forward": "1" } } };
  for (const network of ["host", "container:web"]) {
    assert.throws(
      () => validateRunOptions({ ...base, network: { network } }),
      new RegExp(
        `Invalid --sysctl "net.ipv4.ip_forward": the network namespace is not the container's own with --network ${network}`,
      ),
    );
  }
  validateRunOptions({ ...base, network: { network: "none" } });
  validateRunOptions({
    ...base,
    security: { sysctls: { "kernel.shmmax": "1" } },
    network: { network: "host" },
  });
});
