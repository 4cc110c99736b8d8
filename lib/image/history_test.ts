import assert from "node:assert/strict";
import { imageHistory } from "./history.ts";
import type { ImageConfig } from "./images.ts";

const config = (history: ImageConfig["history"]): ImageConfig => ({
  created: "2026-12-01T00:00:00Z",
  architecture: "amd64",
  os: "linux",
  config: {},
  rootfs: { type: "layers", diff_ids: ["sha256:a", "sha256:b"] },
  history,
});

Deno.test("history is newest first; empty layers are 0 bytes; only the newest entry has the image's id", () => {
  const items = imageHistory(
    "f".repeat(64),
    config([
      { created: "2026-11-01T00:00:00Z", created_by: "ADD rootfs.tar /" },
      { created: "2026-11-01T00:00:01Z", created_by: 'CMD ["sh"]', empty_layer: true },
      { created: "2026-11-02T00:00:00Z", created_by: "skiff commit 3f2a", comment: "add app" },
    ]),
    [1000, 20],
  );
  assert.deepEqual(items, [
    {
      id: `sha256:${"f".repeat(64)}`,
      created: "2026-11-02T00:00:00Z",
      createdBy: "skiff commit 3f2a",
      comment: "add app",
      size: 20,
    },
    { id: "<missing>", created: "2026-11-01T00:00:01Z", createdBy: 'CMD ["sh"]', comment: "", size: 0 },
    {
      id: "<missing>",
      created: "2026-11-01T00:00:00Z",
      createdBy: "ADD rootfs.tar /",
      comment: "",
      size: 1000,
    },
  ]);
});

Deno.test("an image without history has none; one naming more layers than it has is damaged", () => {
  assert.deepEqual(imageHistory("f".repeat(64), config(undefined), [1, 2]), []);
  const three = [{ created: "" }, { created: "" }, { created: "" }];
  assert.throws(
    () => imageHistory("f".repeat(64), config(three), [1, 2]),
    /^Error: Image ffffffffffff is damaged: its history names more layers than its 2$/,
  );
});
