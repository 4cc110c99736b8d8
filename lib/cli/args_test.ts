import assert from "node:assert/strict";
import { type OptionSpec, parseArgs } from "./args.ts";
import { UsageError } from "../errors.ts";

const SPECS: OptionSpec[] = [
  { long: "interactive", short: "i", kind: "flag", help: "" },
  { long: "tty", short: "t", kind: "flag", help: "" },
  { long: "rm", kind: "flag", help: "" },
  { long: "name", kind: "value", help: "" },
  { long: "env", short: "e", kind: "list", help: "" },
];

Deno.test("options stop at the first positional, so the command keeps its own flags", () => {
  const { options, positionals } = parseArgs(
    ["--rm", "-e", "A=1", "busybox", "ls", "-l", "--rm"],
    SPECS,
    "skiff run",
    true,
  );
  assert.deepEqual(options, { rm: true, env: ["A=1"] });
  assert.deepEqual(positionals, ["busybox", "ls", "-l", "--rm"]);
});

Deno.test("grouped short flags and attached values parse as docker's", () => {
  const { options } = parseArgs(["-it", "-eA=1", "-ite", "B=2", "--name=web", "x"], SPECS, "skiff run", true);
  assert.deepEqual(options, { interactive: true, tty: true, env: ["A=1", "B=2"], name: "web" });
});

Deno.test("a value option takes the next word even when it starts with a dash", () => {
  const { options } = parseArgs(["--name", "-x", "img"], SPECS, "skiff run", true);
  assert.equal(options.name, "-x");
});

Deno.test("-- ends the options", () => {
  const { positionals } = parseArgs(["--", "--rm"], SPECS, "skiff run");
  assert.deepEqual(positionals, ["--rm"]);
});

Deno.test("an unknown option is a usage error that names it and the verb", () => {
  assert.throws(
    () => parseArgs(["--bogus", "img"], SPECS, "skiff run"),
    (e) =>
      e instanceof UsageError &&
      e.message === 'Unknown option "--bogus" for "skiff run"; see "skiff run --help"',
  );
  assert.throws(() => parseArgs(["-x"], SPECS, "skiff run"), /Unknown option "-x"/);
});

Deno.test("a missing value and a value given to a flag are usage errors", () => {
  assert.throws(() => parseArgs(["--name"], SPECS, "skiff run"), /needs a value/);
  assert.throws(() => parseArgs(["-e"], SPECS, "skiff run"), /needs a value/);
  assert.throws(() => parseArgs(["--rm=yes"], SPECS, "skiff run"), /takes no value/);
});
