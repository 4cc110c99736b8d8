/**
 * End-to-end tests, as root, of logs --since/--until, system df, system
 * prune and run --cidfile (issue 18), output matched to docker's.
 */

import assert from "node:assert/strict";
import { ROOT_ONLY, skiff, skiffOk, waitFor, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

test("logs --since and --until split a log at a time, RFC 3339 or relative", async () => {
  await withStore(async (store) => {
    const id = (await skiffOk(store, [
      "run",
      "--network",
      "none",
      "-d",
      "busybox",
      "sh",
      "-c",
      "echo one; until [ -e /go ]; do sleep 0.05; done; echo two",
    ])).trim();
    await waitFor(async () => (await skiffOk(store, ["logs", id])) === "one\n", "the first line");
    const between = new Date().toISOString();
    await skiffOk(store, ["exec", id, "touch", "/go"]);
    assert.equal(await skiffOk(store, ["wait", id]), "0\n");
    assert.equal(await skiffOk(store, ["logs", "--since", between, id]), "two\n");
    assert.equal(await skiffOk(store, ["logs", "--until", between, id]), "one\n");
    assert.equal(await skiffOk(store, ["logs", "--since", "10m", id]), "one\ntwo\n");
    assert.equal(await skiffOk(store, ["logs", "--until", "10m", id]), "", "nothing before ten minutes ago");
    const bad = await skiff(store, ["logs", "--since", "yesterday", id]);
    assert.deepEqual([bad.code, bad.stderr], [
      125,
      'skiff: invalid value for "since": failed to parse value as time or duration: "yesterday"\n',
    ]);
  });
});

test("system df prints docker's table; system prune removes what each prune would, and only that", async () => {
  await withStore(async (store) => {
    await skiffOk(store, ["volume", "create", "kept"]);
    await skiffOk(store, ["volume", "create", "loose"]);
    const running =
      (await skiffOk(store, ["run", "--network", "none", "-d", "-v", "kept:/k", "busybox", "sleep", "300"]))
        .trim();
    const stopped =
      (await skiffOk(store, ["run", "--network", "none", "-d", "busybox", "sh", "-c", "echo x > /f"])).trim();
    await skiffOk(store, ["wait", stopped]);
    const df = await skiffOk(store, ["system", "df"]);
    assert.match(
      df,
      new RegExp(
        String.raw`^TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n` +
          String.raw`Images          1         1         [\d.]+[kM]?B +0B \(0%\)\n` +
          String.raw`Containers      2         1         2B        2B \(100%\)\n` +
          String.raw`Local Volumes   2         1         0B        0B\n` +
          String.raw`Build Cache     0         0         0B        0B\n$`,
      ),
    );

    const refused = await skiff(store, ["system", "prune"]);
    assert.equal(refused.code, 125, "no terminal, no -f: nothing removed");
    const out = await skiffOk(store, ["system", "prune", "-f", "--volumes"]);
    assert.equal(
      out,
      `Deleted Containers:\n${stopped}\n\nDeleted Volumes:\nloose\n\nTotal reclaimed space: 2B\n`,
    );
    assert.deepEqual((await skiffOk(store, ["ps", "-aq", "--no-trunc"])).trim(), running);
    assert.equal(await skiffOk(store, ["volume", "ls", "--format", "{{.Name}}"]), "kept\n");
    assert.match(
      await skiffOk(store, ["images", "-q"]),
      /^[0-9a-f]{12}\n$/,
      "the running container's image stays",
    );
    const all = await skiffOk(store, ["system", "prune", "-a", "-f"]);
    assert.equal(all, "Total reclaimed space: 0B\n", "-a: the image a container uses stays");
  });
});

test("run --cidfile writes the id; a file that exists is refused and a failed run leaves none", async () => {
  await withStore(async (store) => {
    const dir = await Deno.makeTempDir({ prefix: "skiff-cid-" });
    try {
      await skiffOk(store, [
        "run",
        "--network",
        "none",
        "--cidfile",
        `${dir}/cid`,
        "--name",
        "c",
        "busybox",
        "true",
      ]);
      const id = Deno.readTextFileSync(`${dir}/cid`);
      assert.match(id, /^[0-9a-f]{64}$/);
      assert.equal(await skiffOk(store, ["inspect", "-f", "{{.Id}}", "c"]), `${id}\n`);
      const again = await skiff(store, [
        "run",
        "--network",
        "none",
        "--cidfile",
        `${dir}/cid`,
        "busybox",
        "true",
      ]);
      assert.deepEqual([again.code, again.stderr], [
        125,
        `skiff: Container ID file found, make sure the other container isn't running or delete ${dir}/cid\n`,
      ]);
      const failed = await skiff(store, [
        "run",
        "--network",
        "none",
        "--cidfile",
        `${dir}/bad`,
        "--pull",
        "never",
        "nosuch",
        "true",
      ]);
      assert.equal(failed.code, 125);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["cid"]);
      assert.equal((await skiffOk(store, ["ps", "-aq"])).trim().split("\n").length, 1);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
