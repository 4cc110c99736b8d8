import assert from "node:assert/strict";
import { deviceFilter, encodeProgram, type Insn } from "./device_filter.ts";
import { DEFAULT_DEVICE_RULES } from "./cgroups.ts";

/** Runs a device program as the kernel would, on one access: the opcodes it uses only. */
function run(program: Insn[], type: "b" | "c", major: number, minor: number, access: string): boolean {
  const ctx = [
    ([...access].reduce((b, a) => b | ({ m: 1, r: 2, w: 4 } as Record<string, number>)[a], 0) << 16) |
    (type === "b" ? 1 : 2),
    major,
    minor,
  ];
  const r = new Array(11).fill(0);
  r[1] = -1; // the context pointer
  for (let pc = 0; pc < program.length; pc++) {
    const { code, dst, src, off, imm } = program[pc];
    switch (code) {
      case 0x61:
        assert.equal(r[src], -1, "loads from the context only");
        r[dst] = ctx[off / 4];
        break;
      case 0x57:
        r[dst] &= imm;
        break;
      case 0x77:
        r[dst] >>>= imm;
        break;
      case 0xb7:
        r[dst] = imm;
        break;
      case 0xbf:
        r[dst] = r[src];
        break;
      case 0x55:
        if (r[dst] !== imm) pc += off;
        break;
      case 0x95:
        return r[0] === 1;
      default:
        throw new Error(`opcode ${code.toString(16)}`);
    }
  }
  throw new Error("ran off the end");
}

Deno.test("the device program allows docker's list and nothing else", () => {
  const p = deviceFilter(DEFAULT_DEVICE_RULES);
  assert.equal(run(p, "c", 1, 3, "rw"), true, "/dev/null");
  assert.equal(run(p, "c", 1, 9, "r"), true, "/dev/urandom");
  assert.equal(run(p, "c", 136, 7, "rw"), true, "a pty slave");
  assert.equal(run(p, "c", 5, 2, "rwm"), true, "ptmx");
  assert.equal(run(p, "b", 8, 0, "m"), true, "mknod of any block device");
  assert.equal(run(p, "b", 8, 0, "r"), false, "but not reading it");
  assert.equal(run(p, "b", 7, 0, "rw"), false, "loop0");
  assert.equal(run(p, "c", 1, 1, "r"), false, "/dev/mem");
  assert.equal(run(p, "c", 4, 1, "w"), false, "a host tty");
});

Deno.test("a rule's permissions bound the access: r allows reads only", () => {
  const p = deviceFilter(["b 7:0 r", "c 10:* rw"]);
  assert.equal(run(p, "b", 7, 0, "r"), true);
  assert.equal(run(p, "b", 7, 0, "w"), false);
  assert.equal(run(p, "b", 7, 0, "rw"), false, "every access asked must be allowed");
  assert.equal(run(p, "b", 7, 1, "r"), false, "another minor");
  assert.equal(run(p, "c", 7, 0, "r"), false, "another type");
  assert.equal(run(p, "c", 10, 200, "rw"), true, "any minor");
  assert.equal(run(p, "c", 10, 200, "m"), false);
  assert.equal(run(deviceFilter(["a"]), "b", 8, 1, "rwm"), true, "a: everything");
  assert.equal(run(deviceFilter([]), "c", 1, 3, "r"), false, "no rule: nothing");
});

Deno.test("instructions are encoded as struct bpf_insn: code, dst and src nibbles, off, imm", () => {
  const bytes = encodeProgram([{ code: 0x61, dst: 2, src: 1, off: 8, imm: -2 }]);
  assert.deepEqual([...bytes], [0x61, 0x12, 8, 0, 0xfe, 0xff, 0xff, 0xff]);
  assert.throws(() => deviceFilter(["x 1:3 r"]), /Invalid device rule "x 1:3 r"/);
});
