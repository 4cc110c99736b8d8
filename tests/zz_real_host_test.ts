/**
 * Last of the suite (test files run in name order): the real host holds
 * no link, table or sysctl change of skiff's. Every test runs its
 * containers with `--network none` (tests/helpers.ts adds it) or inside
 * namespaces of its own (tests/_netns.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import { ROOT_ONLY } from "./helpers.ts";
import { realHostTraces } from "./_netns.ts";

Deno.test({
  name: "after the whole suite, the real host holds no link and no nftables table of skiff's (root only)",
  ...ROOT_ONLY,
  async fn() {
    assert.deepEqual(await realHostTraces(), []);
  },
});
