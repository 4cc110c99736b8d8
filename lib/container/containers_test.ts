import assert from "node:assert/strict";
import {
  claimForStart,
  type ContainerRecord,
  createContainer,
  findContainer,
  listContainers,
  markExited,
  markRunning,
  newId,
  removeContainer,
} from "./containers.ts";
import { InvalidStateError, NotFoundError, UsageError } from "../errors.ts";
import { Store } from "../store/store.ts";

async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "skiff-test-" });
  try {
    const store = new Store(root);
    await store.init();
    // The image FIELDS names: a container is created only from an image in the store.
    Deno.writeTextFileSync(store.blob(FIELDS.imageId), '{"rootfs":{"type":"layers","diff_ids":[]}}');
    await fn(store);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const FIELDS = {
  image: "busybox",
  imageId: "ab".repeat(32),
  command: ["sh"],
  env: [],
  workdir: "/",
  hostname: "h",
  autoRemove: false,
  mounts: [],
  limits: {},
};

/** A pid that is certainly dead: a process we ran and waited for. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("ids are 64 hex characters and differ", () => {
  const ids = new Set(Array.from({ length: 100 }, newId));
  assert.equal(ids.size, 100);
  for (const id of ids) assert.match(id, /^[0-9a-f]{64}$/);
});

Deno.test("a new container has a record, its layer dirs, and a generated name", async () => {
  await withStore(async (store) => {
    const r = await createContainer(store, FIELDS);
    assert.equal(r.status, "created");
    assert.equal(r.owner?.pid, Deno.pid);
    assert.match(r.name, /^[a-z]+_[a-z]+_\d+$/);
    for (const sub of ["upper", "work", "merged"]) {
      assert.ok((await Deno.stat(`${store.container(r.id)}/${sub}`)).isDirectory);
    }
    const saved = JSON.parse(await Deno.readTextFile(`${store.container(r.id)}/config.json`));
    assert.deepEqual(saved, r);
  });
});

Deno.test("a name in use is refused and nothing is created", async () => {
  await withStore(async (store) => {
    await createContainer(store, { ...FIELDS, name: "web" });
    await assert.rejects(createContainer(store, { ...FIELDS, name: "web" }), UsageError);
    await assert.rejects(createContainer(store, { ...FIELDS, name: "bad name!" }), /Invalid container name/);
    assert.equal([...Deno.readDirSync(store.containersDir)].length, 1);
  });
});

Deno.test("running and exited states are recorded", async () => {
  await withStore(async (store) => {
    const r = await createContainer(store, FIELDS);
    await markRunning(store, r.id, Deno.pid);
    let [now] = await listContainers(store);
    assert.equal(now.status, "running");
    assert.ok(now.startedAt);
    await markExited(store, r.id, 3);
    [now] = await listContainers(store);
    assert.equal(now.status, "exited");
    assert.equal(now.exitCode, 3);
    assert.equal(now.pid, undefined);
  });
});

/** Rewrites a record as if another process had written it. */
async function rewrite(store: Store, record: ContainerRecord): Promise<void> {
  await Deno.writeTextFile(`${store.container(record.id)}/config.json`, JSON.stringify(record));
}

Deno.test("a running container whose owner died shows as exited (137)", async () => {
  await withStore(async (store) => {
    const r = await createContainer(store, FIELDS);
    await markRunning(store, r.id, await deadPid());
    let [now] = await listContainers(store);
    assert.equal(now.status, "running", "the owner (this process) lives: its record is left alone");
    await rewrite(store, { ...now, owner: { pid: await deadPid(), startTime: 1 } });
    [now] = await listContainers(store);
    assert.equal(now.status, "exited");
    assert.equal(now.exitCode, 137);
  });
});

Deno.test("a reused pid is not mistaken for the owner: the start time differs", async () => {
  await withStore(async (store) => {
    const r = await createContainer(store, FIELDS);
    // our own pid, alive, but with another start time: a reused pid
    await rewrite(store, { ...r, status: "running", owner: { pid: Deno.pid, startTime: 1 } });
    const [now] = await listContainers(store);
    assert.equal(now.status, "exited");
  });
});

Deno.test("a --rm container, or one never started, is removed when its owner died", async () => {
  await withStore(async (store) => {
    const a = await createContainer(store, { ...FIELDS, autoRemove: true });
    await rewrite(store, { ...a, status: "running", owner: { pid: await deadPid(), startTime: 1 } });
    const b = await createContainer(store, FIELDS);
    await rewrite(store, { ...b, owner: { pid: await deadPid(), startTime: 1 } });
    assert.deepEqual(await listContainers(store), []);
    assert.deepEqual([...Deno.readDirSync(store.containersDir)], []);
  });
});

Deno.test("a container claimed by a start whose owner died is kept, exited, not taken for half-made", async () => {
  await withStore(async (store) => {
    const r = await createContainer(store, FIELDS);
    await markRunning(store, r.id, await deadPid());
    await markExited(store, r.id, 3, false);
    // the last run's end, as its supervisor leaves it
    Deno.writeTextFileSync(`${store.container(r.id)}/exit`, "3 1700000000 0\n");
    const claimed = await claimForStart(store, r.id);
    assert.equal(claimed.status, "created");
    assert.throws(
      () => Deno.statSync(`${store.container(r.id)}/exit`),
      Deno.errors.NotFound,
      "the last run's end is not this start's",
    );
    await rewrite(store, { ...claimed, owner: { pid: await deadPid(), startTime: 1 } });
    const [now] = await listContainers(store);
    assert.equal(now?.id, r.id, "the container is still there");
    assert.equal(now.status, "exited");
    assert.equal(now.exitCode, 137);
  });
});

Deno.test("containers are found by id, name, or unique prefix", () => {
  const mk = (id: string, name: string) => ({ ...FIELDS, id, name, created: "", status: "exited" as const });
  const records = [mk("abc123" + "0".repeat(58), "web"), mk("abd456" + "0".repeat(58), "db")];
  assert.equal(findContainer(records, "web").name, "web");
  assert.equal(findContainer(records, "abc").name, "web");
  assert.equal(findContainer(records, records[1].id).name, "db");
  assert.throws(() => findContainer(records, "ab"), /ambiguous: it matches 2 containers/);
  assert.throws(() => findContainer(records, "zzz"), NotFoundError);
});

Deno.test("a full id wins over a name, and a name over an id prefix", () => {
  const mk = (id: string, name: string) => ({ ...FIELDS, id, name, created: "", status: "exited" as const });
  const old = mk("daa8" + "1".repeat(60), "old");
  // newest first, as listContainers sorts them; names made before names were checked
  const records = [mk("e".repeat(64), old.id), mk("f".repeat(64), "daa8"), old];
  assert.equal(findContainer(records, old.id).name, "old", "the id's owner, not the one named so");
  assert.equal(findContainer(records, "daa8").id, "f".repeat(64), "the one named so, not the prefix's");
  assert.equal(findContainer(records, "daa81").name, "old");
});

Deno.test("an ambiguous id prefix is refused, naming each candidate", () => {
  const mk = (id: string, name: string) => ({ ...FIELDS, id, name, created: "", status: "exited" as const });
  const records = [mk("abc123" + "0".repeat(58), "web"), mk("abd456" + "0".repeat(58), "db")];
  assert.throws(
    () => findContainer(records, "ab"),
    (e) =>
      e instanceof UsageError &&
      e.message ===
        'Container id prefix "ab" is ambiguous: it matches 2 containers, abc123000000 (web), abd456000000 (db); give more characters',
  );
});

Deno.test("a name of 64 hex digits is refused, an existing container's id or not", async () => {
  await withStore(async (store) => {
    const first = await createContainer(store, FIELDS);
    for (const name of [first.id, "0".repeat(64)]) {
      await assert.rejects(
        createContainer(store, { ...FIELDS, name }),
        (e) =>
          e instanceof UsageError && e.message.includes(`"${name}": 64 hex digits read as a container id`),
      );
    }
    assert.equal((await listContainers(store)).length, 1);
    // shorter hex names are names: they win over an id prefix
    assert.equal((await createContainer(store, { ...FIELDS, name: first.id.slice(0, 12) })).name.length, 12);
  });
});

Deno.test("rm refuses a running container without force and removes it all with force", async () => {
  await withStore(async (store) => {
    const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
    try {
      const r = await createContainer(store, FIELDS);
      await markRunning(store, r.id, child.pid);
      await assert.rejects(removeContainer(store, r.id.slice(0, 8)), InvalidStateError);
      await removeContainer(store, r.name, true);
      assert.equal((await child.status).signal, "SIGKILL");
      assert.deepEqual([...Deno.readDirSync(store.containersDir)], []);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
  });
});
