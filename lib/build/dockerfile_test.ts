import assert from "node:assert/strict";
import { DockerfileError, execForm, keyValues, parseDockerfile, splitWords } from "./dockerfile.ts";
import { expandWord, expandWords } from "./expand.ts";
import { IgnoreRules } from "./ignore.ts";

Deno.test("the parser joins continuations and drops comment lines inside them", () => {
  const { instructions } = parseDockerfile([
    "# a comment",
    "FROM busybox",
    "RUN echo a \\",
    "  # dropped",
    "",
    "  && echo b",
    'cmd ["sh"]',
  ].join("\n"));
  assert.deepEqual(instructions.map((i) => [i.keyword, i.line, i.args]), [
    ["FROM", 2, "busybox"],
    ["RUN", 3, "echo a   && echo b"],
    ["CMD", 7, '["sh"]'],
  ]);
  assert.deepEqual(instructions[2].json, ["sh"]);
  assert.equal(instructions[1].json, undefined);
});

Deno.test("the escape directive changes the continuation character; syntax is ignored", () => {
  const df = parseDockerfile("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN a `\n b\\\n");
  assert.equal(df.escape, "`");
  assert.equal(df.instructions[1].args, "a  b\\");
});

Deno.test("a directive after a comment or an instruction is an ordinary comment", () => {
  const df = parseDockerfile("# hello\n# escape=`\nFROM x\nRUN a \\\n b\n");
  assert.equal(df.escape, "\\");
  assert.equal(df.instructions[1].args, "a  b");
  assert.throws(() => parseDockerfile("# escape=x\nFROM a"), /Dockerfile:1: invalid escape "x"/);
});

Deno.test("heredocs: bodies in order, <<- strips tabs, a quoted delimiter does not expand", () => {
  const df = parseDockerfile([
    "FROM x",
    "RUN <<EOF cat - && cat <<-'TWO'",
    "echo $HOME",
    "EOF",
    "\t\tindented",
    "\tTWO",
    "COPY <<EOF /etc/motd",
    "hi",
    "EOF",
    "CMD x",
  ].join("\n"));
  const [, run, copy, cmd] = df.instructions;
  assert.deepEqual(run.heredocs, [
    { name: "EOF", body: "echo $HOME\n", expand: true },
    { name: "TWO", body: "indented\n", expand: false },
  ]);
  assert.equal(copy.args, "<<EOF /etc/motd");
  assert.equal(copy.heredocs[0].body, "hi\n");
  assert.equal(cmd.line, 10);
});

Deno.test("an unterminated heredoc, an unknown instruction or flag is an error with the line", () => {
  assert.throws(
    () => parseDockerfile("FROM x\nRUN <<EOF\nabc\n", "df"),
    /^DockerfileError: df:2: the heredoc "EOF" is not terminated/,
  );
  assert.throws(
    () => parseDockerfile("FROM x\n\nFOO bar"),
    (e) => e instanceof DockerfileError && /Dockerfile:3: unknown instruction: FOO/.test(e.message),
  );
  assert.throws(
    () => parseDockerfile("FROM x\nCOPY --form=a b c"),
    /Dockerfile:2: unknown flag: --form for COPY/,
  );
});

Deno.test("flags come off the front of the arguments", () => {
  const [, copy] = parseDockerfile("FROM x\nCOPY --from=build --chown=1:2 --link a b/").instructions;
  assert.deepEqual(copy.flags, { from: "build", chown: "1:2", link: "true" });
  assert.equal(copy.args, "a b/");
});

Deno.test("the exec form is a JSON array of strings, anything else the shell form", () => {
  assert.deepEqual(execForm('["a", "b c"]'), ["a", "b c"]);
  assert.equal(execForm("[a, b]"), undefined);
  assert.equal(execForm("[1]"), undefined);
  assert.equal(execForm("echo [x]"), undefined);
});

Deno.test("ENV and LABEL take K=V pairs with quotes, or the old K V form", () => {
  const at = (args: string, keyword = "ENV") =>
    keyValues({ keyword, args, line: 3, flags: {}, heredocs: [], original: "" }, "Df");
  assert.deepEqual(at('A=1 B="x y" C=a\\ b'), [
    { key: "A", value: "1" },
    { key: "B", value: '"x y"' },
    { key: "C", value: "a\\ b" },
  ]);
  assert.deepEqual(at("A the rest  of it"), [{ key: "A", value: "the rest  of it" }]);
  assert.deepEqual(at("A B=2", "ARG"), [{ key: "A", value: undefined }, { key: "B", value: "2" }]);
  assert.throws(() => at("A=1 B"), /Df:3: ENV "B" is not KEY=VALUE/);
  assert.throws(() => at("A"), /Df:3: ENV A needs a value/);
  assert.deepEqual(splitWords(`a 'b c' "d\\" e"`), ["a", "'b c'", '"d\\" e"']);
});

Deno.test("expansion: $VAR, ${VAR}, defaults and alternatives, quotes and escapes", () => {
  const vars = new Map([["A", "1"], ["E", ""]]);
  assert.equal(
    expandWord("$A-${A}-$B-${B:-x}-${E:-y}-${E-z}-${A:+set}-${B:+no}-${E+empty}", vars),
    "1-1--x-y--set--empty",
  );
  assert.equal(expandWord("'$A' \"$A\" \\$A", vars), "$A 1 $A");
  assert.equal(expandWord('"a\\b\\"c"', vars), 'a\\b"c');
  assert.equal(expandWord("${B:-$A/x}", vars), "1/x");
  assert.equal(expandWord("cost$", vars), "cost$");
  assert.throws(() => expandWord("${B:?must be set}", vars), /B: must be set/);
  assert.throws(() => expandWord("${A", vars), /missing "}"/);
  const used = new Set<string>();
  assert.deepEqual(expandWords('$A "b c"  d', vars, "\\", used), ["1", "b c", "d"]);
  assert.deepEqual([...used], ["A"]);
  const ports = new Map([["P", "80 443/udp"]]);
  assert.deepEqual(expandWords('$P "$P" x${P}y', ports), ["80", "443/udp", "80 443/udp", "x80", "443/udpy"]);
  assert.equal(expandWord("`$A", vars, "`"), "$A");
});

Deno.test(".dockerignore: **, parents, negation, last match wins", () => {
  const rules = IgnoreRules.parse([
    "# comment",
    "*.md",
    "!README.md",
    "/build",
    "**/*.tmp",
    "docs",
    "!docs/keep/**",
    "a?c",
    "x/[0-9]",
  ].join("\n"));
  assert.equal(rules.excludes("notes.md"), true);
  assert.equal(rules.excludes("README.md"), false);
  assert.equal(rules.excludes("sub/notes.md"), false, "* does not cross /");
  assert.equal(rules.excludes("build/out/x"), true, "a directory's contents go with it");
  assert.equal(rules.excludes("deep/er/f.tmp"), true);
  assert.equal(rules.excludes("f.tmp"), true);
  assert.equal(rules.excludes("docs/a"), true);
  assert.equal(rules.excludes("docs/keep/a/b"), false);
  assert.equal(rules.excludes("abc"), true);
  assert.equal(rules.excludes("abbc"), false);
  assert.equal(rules.excludes("x/5"), true);
  assert.equal(rules.excludes("x/a"), false);
  assert.equal(rules.hasExceptions, true);
  assert.equal(new IgnoreRules(["a/../b"]).excludes("b"), true);
});
