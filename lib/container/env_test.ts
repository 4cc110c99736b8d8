import assert from "node:assert/strict";
import { checkEnvFlags as checkEnv, parseEnvFile } from "./env.ts";
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

Deno.test("an env file as docker reads it: KEY=VALUE as is, KEY alone from the caller, comments and blanks skipped", () => {
  const caller: Record<string, string> = { HOME: "/home/al" };
  const text = '# a comment\nA=1\n  B=two words = "q"\r\nHOME\nUNSET\n\n\tC=\n';
  assert.deepEqual(parseEnvFile(text, "f.env", (k) => caller[k]), [
    "A=1",
    'B=two words = "q"',
    "HOME=/home/al",
    "C=",
  ]);
  assert.throws(
    () => parseEnvFile("OK=1\nBAD KEY=2\n", "f.env", () => undefined),
    (e) =>
      e instanceof UsageError &&
      e.message === 'Invalid --env-file "f.env": line 2 has a variable name with whitespace, "BAD KEY"',
  );
  assert.throws(() => parseEnvFile("=x\n", "f.env", () => undefined), /line 1 has no variable name/);
});
