import assert from "node:assert/strict";
import { checkEnv } from "./env.ts";

Deno.test("checkEnv keeps KEY=VALUE entries, empty values and = in values included", () => {
  const env = ["PATH=/usr/bin:/bin", "EMPTY=", "EQ=a=b", "_x1=y"];
  assert.deepEqual(checkEnv(env, "config"), env);
  assert.deepEqual(checkEnv([], "config"), []);
});

Deno.test("checkEnv refuses an entry without =, or with an empty key", () => {
  assert.throws(() => checkEnv(["pwn"], "config x"), {
    message: 'config x: Env entry "pwn" is not KEY=VALUE',
  });
  assert.throws(() => checkEnv(["=v"], "config x"), { message: 'config x: Env entry "=v" is not KEY=VALUE' });
  assert.throws(() => checkEnv([""], "c"), { message: 'c: Env entry "" is not KEY=VALUE' });
});

Deno.test("checkEnv refuses NUL, newline and carriage return anywhere", () => {
  for (const entry of ["A=1\nB=2", "A=1\0", "A\0B=1", "A=\r"]) {
    assert.throws(() => checkEnv([entry], "c"), {
      message: `c: Env entry ${JSON.stringify(entry)} has a NUL or newline`,
    });
  }
});

Deno.test("checkEnv refuses what is not an array of strings", () => {
  for (const value of ["A=1", null, {}, [1], ["A=1", null]]) {
    assert.throws(() => checkEnv(value, "c"), { message: "c: Env must be an array of strings" });
  }
});

Deno.test("checkEnv cuts a long bad entry in its error", () => {
  assert.throws(() => checkEnv(["x".repeat(500)], "c"), {
    message: `c: Env entry "${"x".repeat(60)}…" is not KEY=VALUE`,
  });
});
