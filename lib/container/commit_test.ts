import assert from "node:assert/strict";
import { applyChange, notChanges } from "./commit.ts";
import type { ContainerRecord } from "./containers.ts";
import { UsageError } from "../errors.ts";

Deno.test("CMD and ENTRYPOINT take the exec form as is and wrap the shell form", () => {
  assert.deepEqual(applyChange({}, 'CMD ["ls", "-l"]').Cmd, ["ls", "-l"]);
  assert.deepEqual(applyChange({}, "CMD echo hi && ls").Cmd, ["/bin/sh", "-c", "echo hi && ls"]);
  assert.deepEqual(applyChange({}, 'entrypoint ["tini"]').Entrypoint, ["tini"]);
});

Deno.test("ENV replaces a variable of the same name, in either spelling", () => {
  const config = { Env: ["A=1", "B=2"] };
  assert.deepEqual(applyChange(config, "ENV A=3").Env, ["B=2", "A=3"]);
  assert.deepEqual(applyChange(config, "ENV C some words").Env, ["A=1", "B=2", "C=some words"]);
  assert.throws(() => applyChange(config, "ENV lonely"), /use ENV KEY=VALUE/);
});

Deno.test("ENV is one line: a newline or NUL anywhere in it is refused", () => {
  for (const change of ["ENV A=x\ny", "ENV A\nB=c", "ENV A x\ny", "ENV A=\0"]) {
    assert.throws(
      () => applyChange({}, change),
      (e) => e instanceof UsageError && /^Invalid change ".*": it holds a newline or NUL/.test(e.message),
      JSON.stringify(change),
    );
  }
});

Deno.test("WORKDIR must be absolute and other instructions are refused", () => {
  assert.equal(applyChange({}, "WORKDIR /srv").WorkingDir, "/srv");
  assert.throws(() => applyChange({}, "WORKDIR srv"), /must be absolute/);
  assert.throws(
    () => applyChange({}, "RUN make"),
    (e) => e instanceof UsageError && /Unsupported change/.test(e.message),
  );
});

Deno.test("a layer leaves out skiff's mount points, volumes' and, with a network, the bound /etc files", () => {
  const record = (network?: { mode: string }) =>
    ({ mounts: [{ destination: "/data" }], ...(network ? { network } : {}) }) as unknown as ContainerRecord;
  assert.deepEqual(notChanges(record()), ["proc", "sys", "dev", "data"]);
  assert.deepEqual(notChanges(record({ mode: "none" })), ["proc", "sys", "dev", "data"]);
  assert.deepEqual(notChanges(record({ mode: "bridge" })), [
    "proc",
    "sys",
    "dev",
    "etc/hosts",
    "etc/resolv.conf",
    "etc/hostname",
    "data",
  ]);
});
