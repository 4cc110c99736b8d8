/**
 * End-to-end tests, as root, of what scripts read from skiff (issue 18):
 * ps's filters, -n, -l and -s, images' filters, and `--format` templates
 * for ps, images, inspect, volume ls and stats, matched to docker's
 * headers exactly and volatile fields by pattern.
 */

import assert from "node:assert/strict";
import { ROOT_ONLY, skiff, skiffOk, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

const lines = (text: string) => text.trim().split("\n").filter((l) => l !== "");

test("ps --filter, -n, -l, -s and --format as docker's", async () => {
  await withStore(async (store) => {
    await skiffOk(store, ["volume", "create", "data"]);
    const web = (await skiffOk(store, [
      "run",
      "--network",
      "none",
      "-d",
      "--name",
      "web",
      "-l",
      "tier=front",
      "busybox",
      "sleep",
      "300",
    ]))
      .trim();
    assert.equal(
      (await skiff(store, [
        "run",
        "--network",
        "none",
        "--name",
        "db",
        "-l",
        "tier=db",
        "-v",
        "data:/data",
        "busybox",
        "sh",
        "-c",
        "exit 3",
      ])).code,
      3,
    );
    await skiffOk(store, ["run", "--network", "none", "--name", "last", "busybox", "true"]);
    const names = async (...args: string[]) =>
      lines(await skiffOk(store, ["ps", ...args, "--format", "{{.Names}}"]));

    assert.deepEqual(await names(), ["web"]);
    assert.deepEqual(
      await names("--filter", "status=exited"),
      ["last", "db"],
      "a status filter shows every state",
    );
    assert.deepEqual(await names("-a", "--filter", "exited=3"), ["db"]);
    assert.deepEqual(await names("-a", "--filter", "label=tier"), ["db", "web"]);
    assert.deepEqual(await names("-a", "-f", "label=tier=db"), ["db"]);
    assert.deepEqual(await names("-a", "--filter", "name=^/w"), ["web"]);
    assert.deepEqual(await names("-a", "--filter", `id=${web.slice(0, 8)}`), ["web"]);
    assert.deepEqual(await names("-a", "--filter", "ancestor=busybox"), ["last", "db", "web"]);
    assert.deepEqual(await names("-a", "--filter", "volume=data"), ["db"]);
    assert.deepEqual(await names("-a", "--filter", "since=web", "--filter", "before=last"), ["db"]);
    assert.deepEqual(await names("-n", "2"), ["last", "db"]);
    assert.deepEqual(await names("-l"), ["last"]);

    const table = await skiffOk(store, [
      "ps",
      "--format",
      'table {{.ID}}\\t{{.Names}}\\t{{.Label "tier"}}\\t{{.State}}',
    ]);
    assert.match(
      table,
      new RegExp(
        String.raw`^CONTAINER ID   NAMES     TIER      STATE\n[0-9a-f]{12}   web       front     running\n$`,
      ),
    );
    const json = JSON.parse(await skiffOk(store, ["ps", "-l", "--format", "{{json .}}"]));
    assert.deepEqual(Object.keys(json), [
      "Command",
      "CreatedAt",
      "ID",
      "Image",
      "Labels",
      "LocalVolumes",
      "Mounts",
      "Names",
      "Networks",
      "Ports",
      "RunningFor",
      "Size",
      "State",
      "Status",
    ]);
    assert.match(json.CreatedAt, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$/);
    assert.equal(json.Command, '"true"');
    assert.match(
      await skiffOk(store, ["ps", "-s"]),
      new RegExp(String.raw`   NAMES   SIZE\n.*   web     \d+(\.\d+)?k?B \(virtual \d+(\.\d+)?[kM]B\)\n$`),
    );

    const badKey = await skiff(store, ["ps", "--filter", "color=red"]);
    assert.deepEqual([badKey.code, badKey.stderr], [125, "skiff: invalid filter 'color'\n"]);
    const badTemplate = await skiff(store, ["ps", "--format", "{{.Names"]);
    assert.deepEqual([badTemplate.code, badTemplate.stderr], [
      125,
      "skiff: template parsing error: template: :1:1: unclosed action\n",
    ]);
    const badField = await skiff(store, ["ps", "--format", "{{.Nope}}"]);
    assert.match(
      badField.stderr,
      /^skiff: template: :1:3: executing "" at <\.Nope>: can't evaluate field Nope/,
    );
  });
});

test("inspect -f, images --filter and --format, volume ls and stats --format", async () => {
  await withStore(async (store) => {
    await skiffOk(store, ["volume", "create", "vol1"]);
    await skiffOk(store, [
      "run",
      "--network",
      "none",
      "-d",
      "--name",
      "app",
      "-l",
      "com.example.vendor=ACME",
      "busybox",
      "sleep",
      "300",
    ]);
    const inspected = await skiffOk(store, [
      "inspect",
      "-f",
      '{{.Name}} {{.State.Status}} {{index .Config.Labels "com.example.vendor"}} {{if .State.Running}}pid {{.State.Pid}}{{end}}',
      "app",
    ]);
    assert.match(inspected, /^\/app running ACME pid [1-9]\d*\n$/);
    const pid = Number(inspected.trim().split(" ").pop());
    assert.equal(
      Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0")[0],
      "sleep",
      "State.Pid is PID 1 on the host",
    );
    assert.equal(
      await skiffOk(store, [
        "inspect",
        "--format",
        "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{end}}",
        "app",
      ]),
      "com.example.vendor=ACME\n",
    );

    // a dangling image: a second commit under the same tag leaves the first untagged
    await skiffOk(store, ["commit", "app", "mine:1"]);
    await skiffOk(store, ["commit", "app", "mine:1"]);
    assert.match(
      await skiffOk(store, ["images", "--format", "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}"]),
      new RegExp(
        String
          .raw`^REPOSITORY          TAG       IMAGE ID\nlocalhost\/busybox   latest    [0-9a-f]{12}\nlocalhost\/mine      1         [0-9a-f]{12}\n$`,
      ),
    );
    assert.match(
      await skiffOk(store, ["images", "--filter", "dangling=true"]),
      new RegExp(
        String
          .raw`^REPOSITORY   TAG      IMAGE ID       CREATED .*SIZE\n<none>       <none>   [0-9a-f]{12}   .+\n$`,
      ),
    );
    assert.equal(
      await skiffOk(store, ["images", "-f", "reference=busy*", "--format", "{{.Repository}}:{{.Tag}}"]),
      "localhost/busybox:latest\n",
    );
    assert.equal(
      await skiffOk(store, ["images", "--filter", "dangling=false", "-q"]).then((o) => lines(o).length),
      2,
    );
    assert.equal(
      (await skiff(store, ["images", "--filter", "until=1h"])).stderr,
      "skiff: invalid filter 'until'\n",
    );

    assert.match(
      await skiffOk(store, ["volume", "ls", "--format", "table {{.Name}}\\t{{.Driver}}"]),
      new RegExp(String.raw`^VOLUME NAME   DRIVER\nvol1          local\n$`),
    );
    assert.match(
      await skiffOk(store, [
        "stats",
        "--no-stream",
        "--format",
        "table {{.Name}}\\t{{.CPUPerc}}\\t{{.PIDs}}",
      ]),
      new RegExp(String.raw`^NAME      CPU %     PIDS\napp       \d+\.\d\d%     1\n$`),
    );
  });
});
