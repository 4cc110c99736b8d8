import assert from "node:assert/strict";
import { InitChannel } from "./sync.ts";

async function withFifo(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-sync-" });
  try {
    await fn(`${dir}/init.sync`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the channel yields init's messages in order, then null at the writer's EOF", async () => {
  await withFifo(async (path) => {
    const channel = InitChannel.open(path);
    try {
      const init = Deno.openSync(path, { write: true });
      const lines = '{"started":{"pid":9,"keeper":8}}\n{"exec":true}\n';
      // written in two pieces, cut inside a line
      init.writeSync(new TextEncoder().encode(lines.slice(0, 10)));
      const first = channel.next();
      init.writeSync(new TextEncoder().encode(lines.slice(10)));
      init.close();
      assert.deepEqual(await first, { started: { pid: 9, keeper: 8 } });
      assert.deepEqual(await channel.next(), { exec: true });
      assert.equal(await channel.next(), null);
    } finally {
      channel.close();
    }
  });
});

Deno.test("the channel waits for an init yet to open it, and ends when its process ends without opening it", async () => {
  await withFifo(async (path) => {
    const ended = Promise.withResolvers<void>();
    const channel = InitChannel.open(path, ended.promise);
    try {
      const read = channel.next();
      const early = await Promise.race([read.then(() => "read"), Promise.resolve("waiting")]);
      assert.equal(early, "waiting", "no EOF before init has opened the FIFO");
      ended.resolve();
      assert.equal(await read, null);
    } finally {
      channel.close();
    }
  });
});

Deno.test("a line that is not JSON is named in the error", async () => {
  await withFifo(async (path) => {
    const channel = InitChannel.open(path);
    try {
      const init = Deno.openSync(path, { write: true });
      init.writeSync(new TextEncoder().encode("garbage\n"));
      init.close();
      await assert.rejects(channel.next(), /Cannot read init's report: "garbage" is not JSON/);
    } finally {
      channel.close();
    }
  });
});
