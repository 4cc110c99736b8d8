import assert from "node:assert/strict";
import { joinTar, parsePax, splitTar, writeSplit } from "./tarsplit.ts";

const run = (cmd: string, ...args: string[]) => {
  const out = new Deno.Command(cmd, { args, stderr: "piped" }).outputSync();
  assert.ok(out.success, `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
};

/** A tree with what layers hold: long names, links, a FIFO, empty and odd-sized files. */
function makeTree(root: string): void {
  const long = `${root}/${"d".repeat(90)}/${"e".repeat(90)}`;
  Deno.mkdirSync(long, { recursive: true });
  Deno.writeTextFileSync(`${long}/${"f".repeat(120)}`, "long name\n");
  Deno.writeFileSync(`${root}/odd`, crypto.getRandomValues(new Uint8Array(1234)));
  Deno.writeFileSync(`${root}/big`, new Uint8Array(3 << 20).fill(7));
  Deno.writeFileSync(`${root}/empty`, new Uint8Array());
  Deno.writeTextFileSync(`${root}/ünïcode`, "utf-8\n");
  Deno.writeTextFileSync(`${root}/.wh.gone`, "");
  Deno.linkSync(`${root}/odd`, `${root}/odd-link`);
  Deno.symlinkSync("/etc/passwd", `${root}/abs-link`);
  run("mkfifo", `${root}/fifo`);
}

Deno.test("a tar split and joined again is the same, byte for byte, in every format GNU tar writes", () => {
  const dir = Deno.makeTempDirSync({ prefix: "skiff-tarsplit-" });
  try {
    makeTree(`${dir}/tree`);
    for (const format of ["gnu", "pax", "ustar", "posix"]) {
      const tar = `${dir}/${format}.tar`;
      const args = ["-cf", tar, "-C", `${dir}/tree`, "--sort=name", `--format=${format}`, "."];
      if (format === "ustar") {
        // ustar cannot hold the long names
        args.splice(args.indexOf("."), 1, "odd", "big", "empty", "odd-link", "abs-link", "fifo");
      }
      run("tar", ...args);
      const out = `${dir}/x-${format}`;
      Deno.mkdirSync(out);
      run("tar", "-xf", tar, "-C", out);
      const split = splitTar(tar);
      assert.ok(split, `${format}: split`);
      assert.ok(split.skeleton.length < 64 * 1024, `${format}: the skeleton holds no file data`);
      assert.ok(split.index.payloads.some((p) => p.path === "big" && p.size === 3 << 20));
      writeSplit(`${dir}/${format}.split`, split);
      joinTar(`${dir}/${format}.split`, out, `${dir}/${format}.joined`);
      assert.deepEqual(Deno.readFileSync(`${dir}/${format}.joined`), Deno.readFileSync(tar), format);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a tar whose file a later member replaces, or that is not a tar, is not split", () => {
  const dir = Deno.makeTempDirSync({ prefix: "skiff-tarsplit-" });
  try {
    Deno.writeTextFileSync(`${dir}/a`, "one\n");
    run("tar", "-cf", `${dir}/twice.tar`, "-C", dir, "a");
    Deno.writeTextFileSync(`${dir}/a`, "two\n");
    run("tar", "-rf", `${dir}/twice.tar`, "-C", dir, "a");
    assert.equal(splitTar(`${dir}/twice.tar`), null);
    Deno.writeTextFileSync(`${dir}/not.tar`, "hello, this is not a tar archive at all".repeat(20));
    assert.equal(splitTar(`${dir}/not.tar`), null);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a file changed after the split makes the join fail, not lie", () => {
  const dir = Deno.makeTempDirSync({ prefix: "skiff-tarsplit-" });
  try {
    Deno.mkdirSync(`${dir}/tree`);
    Deno.writeTextFileSync(`${dir}/tree/f`, "data\n");
    run("tar", "-cf", `${dir}/t.tar`, "-C", `${dir}/tree`, ".");
    writeSplit(`${dir}/t.split`, splitTar(`${dir}/t.tar`)!);
    Deno.writeTextFileSync(`${dir}/tree/f`, "longer data\n");
    assert.throws(() => joinTar(`${dir}/t.split`, `${dir}/tree`, `${dir}/out.tar`), /changed size/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("pax records are read by their byte lengths, UTF-8 values included", () => {
  const enc = new TextEncoder();
  const record = (kv: string) => {
    let n = enc.encode(` ${kv}\n`).length;
    n += String(n + String(n).length).length;
    return `${n} ${kv}\n`;
  };
  const pax = parsePax(enc.encode(record("path=dïr/fïle") + record("size=12345678901")));
  assert.equal(pax.get("path"), "dïr/fïle");
  assert.equal(pax.get("size"), "12345678901");
});
