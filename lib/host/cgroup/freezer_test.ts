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
/** Polls `check` until it is true: these tests wait for conditions, never for a time. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 10));
}
/** Whether the kernel reports every process of a v2 cgroup frozen (cgroup.events). */
const frozen = (cgroup: string) => /^frozen 1$/m.test(Deno.readTextFileSync(`${cgroup}/cgroup.events`));

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
      await until(() => exists(`${dir}/out`));
      const marker = `${dir}/frozen`;
      await withFrozenCgroup(cgroup, marker, async () => {
        assert.ok(frozen(cgroup), "the kernel says every process of it is frozen");
        const before = written(`${dir}/out`);
        assert.match(Deno.readTextFileSync(marker), new RegExp(`^${Deno.pid} \\d+$`));
        // the same loop outside the cgroup gets a thousand lines written meanwhile
        const control = new Deno.Command("sh", { args: ["-c", `while :; do echo x >> ${dir}/control; done`] })
          .spawn();
        try {
          await until(() => exists(`${dir}/control`) && written(`${dir}/control`) >= 2000);
        } finally {
          control.kill("SIGKILL");
          await control.status;
        }
        assert.equal(written(`${dir}/out`), before, "nothing runs while frozen");
      });
      assert.throws(() => Deno.statSync(marker), Deno.errors.NotFound);
      assert.ok(!frozen(cgroup), "thawed");
      const after = written(`${dir}/out`);
      await until(() => written(`${dir}/out`) > after); // it runs again

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
      // rmdir says EBUSY until the killed writer has left it
      await until(() => Deno.readTextFileSync(`${cgroup}/cgroup.procs`).trim() === "");
      Deno.removeSync(cgroup);
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
