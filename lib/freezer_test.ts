import assert from "node:assert/strict";
import { FREEZER, hasFreezer, sweepFreezers } from "./freezer.ts";

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
