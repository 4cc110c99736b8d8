import assert from "node:assert/strict";
import { capabilitiesToDrop } from "./capabilities.ts";

Deno.test("the capabilities to drop stop at the kernel's last one (cap_last_cap)", () => {
  const drop = capabilitiesToDrop(undefined, 40);
  assert.equal(Math.max(...drop), 40);
  assert.ok(drop.includes(21) && !drop.includes(0), "CAP_SYS_ADMIN dropped, CAP_CHOWN kept");
});
