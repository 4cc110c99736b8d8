import assert from "node:assert/strict";
import { FREEZER, hasFreezer, sweepFreezers, thawIfOrphaned, withFrozenCgroup } from "./freezer.ts";

Deno.test({
  name: "[root] a container left frozen by a killed commit is thawed and its cgroup removed",
  ignore: Deno.uid() !== 0 || !hasFreezer(),
  async fn() {
    const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
    // named after a skiff that is dead: a pid we ran and waited for
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    const cgroup = `${FREEZER}/skiff-freeze-${gone.pid}-1-${sleeper.pid}`;
    Deno.mkdirSync(cgroup);
    try {
      Deno.writeTextFileSync(`${cgroup}/cgroup.procs`, `${sleeper.pid}\n`);
      Deno.writeTextFileSync(`${cgroup}/freezer.state`, "FROZEN");
      await sweepFreezers();
      assert.throws(() => Deno.statSync(cgroup), Deno.errors.NotFound);
      const procs = Deno.readTextFileSync(`${FREEZER}/cgroup.procs`).split("\n");
      assert.ok(procs.includes(String(sleeper.pid)), "back in the root cgroup");
      sleeper.kill("SIGKILL");
      assert.equal((await sleeper.status).signal, "SIGKILL", "thawed: it could take the signal and die");
    } finally {
      try {
        sleeper.kill("SIGKILL");
      } catch { /* gone */ }
      try {
        Deno.writeTextFileSync(`${cgroup}/freezer.state`, "THAWED");
        Deno.writeTextFileSync(`${FREEZER}/cgroup.procs`, `${sleeper.pid}\n`);
        Deno.removeSync(cgroup);
      } catch { /* already swept */ }
    }
  },
});

/** A cgroup v2 hierarchy to test in: the unified one of a hybrid host, or the only one. */
function v2Root(): string | null {
  for (const root of ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]) {
    try {
      if (
        Deno.statSync(`${root}/cgroup.procs`).isFile && Deno.statSync(`${root}/cgroup.subtree_control`).isFile
      ) {
        return root;
      }
    } catch { /* not here */ }
  }
  return null;
}

/** The bytes a writer process has written so far. */
const written = (file: string) => Deno.statSync(file).size;
const exists = (path: string) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name: "[root] a cgroup v2 is frozen for the commit's time, and thawed if its skiff dies meanwhile",
  ignore: Deno.uid() !== 0 || v2Root() === null,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "skiff-freeze-" });
    const cgroup = `${v2Root()}/skiff-test-${Deno.pid}`;
    Deno.mkdirSync(cgroup);
    const writer = new Deno.Command("sh", { args: ["-c", `while :; do echo x >> ${dir}/out; done`] }).spawn();
    try {
      Deno.writeTextFileSync(`${cgroup}/cgroup.procs`, `${writer.pid}\n`);
      for (let i = 0; i < 100 && !exists(`${dir}/out`); i++) await sleep(10);
      const marker = `${dir}/frozen`;
      await withFrozenCgroup(cgroup, marker, async () => {
        const before = written(`${dir}/out`);
        await sleep(200);
        assert.equal(written(`${dir}/out`), before, "nothing runs while frozen");
        assert.match(Deno.readTextFileSync(marker), new RegExp(`^${Deno.pid} \\d+$`));
      });
      assert.throws(() => Deno.statSync(marker), Deno.errors.NotFound);
      const after = written(`${dir}/out`);
      await sleep(100);
      assert.ok(written(`${dir}/out`) > after, "it runs again");

      // frozen by a skiff that is gone: a pid we ran and waited for
      const gone = new Deno.Command("true").spawn();
      await gone.status;
      Deno.writeTextFileSync(marker, `${gone.pid} 1`);
      Deno.writeTextFileSync(`${cgroup}/cgroup.freeze`, "1");
      await thawIfOrphaned(cgroup, marker);
      assert.match(Deno.readTextFileSync(`${cgroup}/cgroup.events`), /^frozen 0$/m);
      assert.throws(() => Deno.statSync(marker), Deno.errors.NotFound);
    } finally {
      Deno.writeTextFileSync(`${cgroup}/cgroup.freeze`, "0");
      writer.kill("SIGKILL");
      await writer.status;
      for (let i = 0; i < 50; i++) {
        try {
          Deno.removeSync(cgroup);
          break;
        } catch {
          await sleep(20); // until the killed writer has left it
        }
      }
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
