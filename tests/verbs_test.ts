/**
 * End-to-end tests, as root, of the everyday verbs scripts use (issue 18):
 * wait, rename, pause and unpause, top, diff, history and the prunes, with
 * output matched to docker's format.
 */

import assert from "node:assert/strict";
import { background, ROOT_ONLY, skiff, skiffOk, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

/** A container command that exits `code` once `/go` exists (made with exec). */
const UNTIL_GO = (code: number) => `until [ -e /go ]; do sleep 0.05; done; exit ${code}`;

/** Kills every container left running in the store (its teardown). */
async function stopAll(store: string): Promise<void> {
  const ids = (await skiffOk(store, ["ps", "-q"])).trim().split("\n").filter((i) => i !== "");
  if (ids.length > 0) await skiff(store, ["rm", "-f", ...ids]);
}

test("wait prints each container's exit code in order, once it exits, and exits 0", async () => {
  await withStore(async (store) => {
    try {
      await skiffOk(store, ["run", "-d", "--name", "three", "busybox", "sh", "-c", "exit 3"]);
      await skiffOk(store, ["run", "-d", "--name", "later", "busybox", "sh", "-c", UNTIL_GO(5)]);
      const waiting = background(store, ["wait", "later", "three"], "piped");
      try {
        // still waiting for "later", which runs until /go exists
        assert.match(await skiffOk(store, ["ps"]), /Up .+later\n/);
        await skiffOk(store, ["exec", "later", "touch", "/go"]);
        const { code, stdout } = await waiting.child.output();
        assert.equal(new TextDecoder().decode(stdout), "5\n3\n");
        assert.equal(code, 0);
      } finally {
        await waiting.stop().catch(() => {});
      }
      assert.equal(await skiffOk(store, ["wait", "three"]), "3\n", "an exited container: at once");
    } finally {
      await stopAll(store);
    }
  });
});

test("wait for an unknown container says so, one line, and exits 1 after the others", async () => {
  await withStore(async (store) => {
    assert.equal((await skiff(store, ["run", "--name", "seven", "busybox", "sh", "-c", "exit 7"])).code, 7);
    const r = await skiff(store, ["wait", "nosuch", "seven"]);
    assert.equal(r.stdout, "7\n");
    assert.equal(r.stderr, "skiff: No such container: nosuch\n");
    assert.equal(r.code, 1);
  });
});

test("rename renames a running container; a name in use, the same name or a bad one change nothing", async () => {
  await withStore(async (store) => {
    try {
      const id = (await skiffOk(store, ["run", "-d", "--name", "old", "busybox", "sleep", "300"])).trim();
      await skiffOk(store, ["run", "--name", "taken", "busybox", "true"]);
      const names = async () =>
        (await skiffOk(store, ["ps", "-a", "--format", "json"])).trim().split("\n")
          .map((l) => JSON.parse(l).name).sort();

      const inUse = await skiff(store, ["rename", "old", "taken"]);
      assert.equal(inUse.code, 125);
      assert.match(
        inUse.stderr,
        /^skiff: The container name "taken" is already in use by container [0-9a-f]{12}; remove it or choose another name\n$/,
      );
      const same = await skiff(store, ["rename", "old", "old"]);
      assert.equal(
        same.stderr,
        'skiff: Renaming a container with the same name as its current name: "old"\n',
      );
      assert.equal(same.code, 125);
      const bad = await skiff(store, ["rename", "old", "-x"]);
      assert.equal(bad.code, 125);
      assert.equal(bad.stderr.split("\n").length, 2, "one line");
      const unknown = await skiff(store, ["rename", "nosuch", "new"]);
      assert.equal(unknown.stderr, "skiff: No such container: nosuch\n");
      assert.equal(unknown.code, 125);
      assert.deepEqual(await names(), ["old", "taken"], "nothing changed");

      assert.equal(await skiffOk(store, ["rename", id.slice(0, 12), "new"]), "");
      assert.deepEqual(await names(), ["new", "taken"]);
      assert.match(await skiffOk(store, ["ps"]), new RegExp(`${id.slice(0, 12)} .+Up .+ new\\n`));
      assert.equal((await skiffOk(store, ["exec", "new", "hostname"])).trim(), id.slice(0, 12));
      await skiffOk(store, ["run", "-d", "--name", "old", "busybox", "true"]); // the old name is free again
    } finally {
      await stopAll(store);
    }
  });
});
