import assert from "node:assert/strict";
import { containerFilter, IMAGE_FILTERS, parseFilters, pathMatch, PS_FILTERS } from "./filters.ts";
import type { ContainerRecord } from "./containers.ts";
import { UsageError } from "../errors.ts";

/** A record with what the filters read. */
function record(name: string, fields: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id: name.padEnd(64, "0").replace(/[^0-9a-f]/g, "a"),
    name,
    image: "busybox",
    imageId: "ab".repeat(32),
    command: ["sh"],
    env: [],
    workdir: "/",
    hostname: "h",
    autoRemove: false,
    mounts: [],
    limits: {},
    created: "2026-01-01T00:00:00.000Z",
    status: "running",
    ...fields,
  };
}

const records = [
  record("web", { created: "2026-01-03T00:00:00.000Z", labels: { tier: "front", app: "x" } }),
  record("db", {
    created: "2026-01-02T00:00:00.000Z",
    status: "exited",
    exitCode: 3,
    labels: { tier: "db" },
    mounts: [{
      type: "volume",
      name: "data",
      source: "/v/data/_data",
      destination: "/var/lib/db",
      kind: "dir",
      readOnly: false,
    }],
  }),
  record("old", {
    created: "2026-01-01T00:00:00.000Z",
    status: "exited",
    exitCode: 0,
    image: "alpine",
    imageId: "cd".repeat(32),
  }),
];

/** The names a ps filter keeps. */
function kept(...args: string[]): string[] {
  const filters = parseFilters(args, PS_FILTERS);
  const ancestors = new Map([["alp", "cd".repeat(32)]]);
  return records.filter(containerFilter(filters, records, ancestors)).map((r) => r.name);
}

Deno.test("ps filters: each key as docker reads it; one key's values any, several keys all", () => {
  assert.deepEqual(kept("name=^/w"), ["web"]);
  assert.deepEqual(kept("name=d"), ["db", "old"], "part of the name, as docker's");
  assert.deepEqual(kept(`id=${records[1].id.slice(0, 6)}`), ["db"]);
  assert.deepEqual(kept("label=tier"), ["web", "db"]);
  assert.deepEqual(kept("label=tier=db"), ["db"]);
  assert.deepEqual(kept("label=tier", "label=app"), ["web"], "every label given");
  assert.deepEqual(kept("status=exited"), ["db", "old"]);
  assert.deepEqual(kept("status=running", "status=exited"), ["web", "db", "old"]);
  assert.deepEqual(kept("exited=3"), ["db"]);
  assert.deepEqual(kept("exited=0", "status=exited"), ["old"]);
  assert.deepEqual(kept("ancestor=alpine"), ["old"]);
  assert.deepEqual(kept("ancestor=alp"), ["old"], "an image id the caller resolved");
  assert.deepEqual(kept("before=web"), ["db", "old"]);
  assert.deepEqual(kept("since=old"), ["web", "db"]);
  assert.deepEqual(kept("since=old", "before=web"), ["db"]);
  assert.deepEqual(kept("volume=data"), ["db"]);
  assert.deepEqual(kept("volume=/var/lib/db"), ["db"]);
});

Deno.test("bad filters are docker's errors", () => {
  const refused = (args: string[], message: string) =>
    assert.throws(() => kept(...args), (e: unknown) => e instanceof UsageError && e.message === message);
  refused(["nope=1"], "invalid filter 'nope'");
  refused(["nokey"], "bad format of filter (expected name=value)");
  refused(["status=sleeping"], "invalid filter 'status=sleeping'");
  refused(["exited=x"], "invalid filter 'exited=x'");
  assert.throws(() => parseFilters(["id=1"], IMAGE_FILTERS), /invalid filter 'id'/);
});

Deno.test("reference patterns match as Go's path.Match", () => {
  assert.ok(pathMatch("busybox", "busybox"));
  assert.ok(pathMatch("busy*", "busybox"));
  assert.ok(!pathMatch("*", "localhost/busybox"), "* stops at /");
  assert.ok(pathMatch("*/*", "localhost/busybox"));
  assert.ok(pathMatch("mine:?", "mine:1"));
  assert.ok(!pathMatch("a.c", "abc"), ". is itself");
});
