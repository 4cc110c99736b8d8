import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { checkMounts, containersUsing, parseMountFlag, parseVolumeFlag } from "./volumes.ts";
import type { ContainerRecord } from "./containers.ts";

Deno.test("-v takes host paths and volume names, with an optional mode", () => {
  assert.deepEqual(parseVolumeFlag("/srv//data/:/data/"), {
    type: "bind",
    source: "/srv/data",
    destination: "/data",
    readOnly: false,
    createSource: true,
  });
  assert.equal(parseVolumeFlag("/a:/b:ro").readOnly, true);
  assert.equal(parseVolumeFlag("/a:/b:rw").readOnly, false);
  const named = parseVolumeFlag("app-data:/var/lib/app");
  assert.equal(named.type, "volume");
  assert.equal(named.source, "app-data");
});

Deno.test("a host path's .. is resolved lexically, so a missing source is made only where it ends up", () => {
  assert.equal(parseVolumeFlag("/a/new/../../b:/x").source, "/b");
  assert.equal(parseVolumeFlag("/../../etc/./x/..:/x").source, "/etc");
  assert.equal(parseVolumeFlag("/a/..:/x").source, "/");
  assert.equal(parseMountFlag("type=bind,source=/srv/new/../data,target=/x").source, "/srv/data");
});

Deno.test("-v refuses each malformed form with a reason", () => {
  const cases: [string, RegExp][] = [
    ["/a", /missing ":"/],
    ["/a:/b:ro:x", /too many ":"/],
    [":/b", /host side is empty/],
    ["/a:", /container path is empty/],
    ["/a:b", /must be absolute/],
    ["/a:/", /cannot mount over the container's "\/"/],
    ["/a:/x/../y", /must not contain ".."/],
    ["/a:/b:rx", /unknown mode "rx"/],
    ["a:/b", /Invalid volume name "a"/],
    ["-bad:/b", /Invalid volume name/],
    ["/a:/proc/sys", /cannot mount over "\/proc"/],
  ];
  for (const [spec, message] of cases) {
    assert.throws(
      () => parseVolumeFlag(spec),
      (e) => e instanceof UsageError && message.test(e.message),
      spec,
    );
  }
});

Deno.test("--mount reads docker's long form and its aliases", () => {
  assert.deepEqual(parseMountFlag("type=bind,src=/h,dst=/c,ro"), {
    type: "bind",
    source: "/h",
    destination: "/c",
    readOnly: true,
    createSource: false,
  });
  assert.equal(parseMountFlag("type=volume,source=v1,target=/c,readonly=false").readOnly, false);
  assert.throws(() => parseMountFlag("type=bind,source=rel,target=/c"), /absolute host path/);
  assert.throws(() => parseMountFlag("type=bind,source=/h,target=/c,color=red"), /unknown field "color"/);
  assert.throws(() => parseMountFlag("type=bind,source=/h,target=/c,readonly=maybe"), /true or false/);
});

Deno.test("two mounts on one container path are refused", () => {
  checkMounts([parseVolumeFlag("/a:/x"), parseVolumeFlag("/b:/y")]);
  assert.throws(
    () => checkMounts([parseVolumeFlag("/a:/x"), parseVolumeFlag("v1:/x/")]),
    /Duplicate mount point "\/x"/,
  );
});

Deno.test("the containers using a named volume are found by name, binds aside", () => {
  const record = (id: string, mounts: ContainerRecord["mounts"]) => ({ id, mounts }) as ContainerRecord;
  const records = [
    record("a", [{
      type: "volume",
      name: "v1",
      source: "/s/v1",
      destination: "/d",
      readOnly: false,
      kind: "dir",
    }]),
    record("b", [{ type: "bind", source: "/v1", destination: "/d", readOnly: false, kind: "dir" }]),
  ];
  assert.deepEqual(containersUsing(records, "v1").map((r) => r.id), ["a"]);
});
