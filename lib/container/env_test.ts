import assert from "node:assert/strict";
import { checkEnvFlags as checkEnv } from "./env.ts";
import { envProblem } from "../image/env.ts";
import { UsageError } from "../errors.ts";

Deno.test("an entry is KEY=VALUE: a key without =, no NUL or newline; the value is otherwise free", () => {
  for (const ok of ["A=b", "A=", "A.B=c", "A=b=c", `V=a "b" 'c' $(d) \`e\``, "-u=x"]) {
    assert.equal(envProblem(ok), null, ok);
  }
  assert.match(envProblem("pwn")!, /no "="/);
  assert.match(envProblem("=x")!, /key is empty/);
  assert.match(envProblem("A=b\nc")!, /newline/);
  assert.match(envProblem("A\0=b")!, /NUL/);
});

Deno.test("checkEnv names the bad entry on one line, with the fix", () => {
  assert.throws(
    () => checkEnv(["A=1", "B=x\ny"], "use -e KEY=VALUE"),
    (e) =>
      e instanceof UsageError &&
      e.message === 'Invalid environment variable "B=x\\ny": use -e KEY=VALUE (it holds a newline)',
  );
  checkEnv(["A=1", "B=2"], "unused");
});
