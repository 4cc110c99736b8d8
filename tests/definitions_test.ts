/**
 * One definition for each constant and default, and an ffi/ that exports
 * only what lib/ uses: checked on the sources, as tests/layering_test.ts
 * checks the imports.
 */

import assert from "node:assert/strict";

const REPO = new URL("..", import.meta.url).pathname;

/** The program's sources (no tests, benchmarks or CI scripts), with their text. */
function sources(): Map<string, string> {
  const out = new Deno.Command("git", {
    args: ["ls-files", "--cached", "--others", "--exclude-standard", "*.ts"],
    cwd: REPO,
  }).outputSync();
  const files = new TextDecoder().decode(out.stdout).split("\n")
    .filter((f) => f.endsWith(".ts") && !f.endsWith("_test.ts"))
    .filter((f) => !f.startsWith("tests/") && !f.startsWith("bench/") && !f.startsWith(".ci/"));
  const texts = new Map<string, string>();
  for (const f of files) {
    try {
      texts.set(f, Deno.readTextFileSync(`${REPO}/${f}`));
    } catch { /* deleted in the work tree */ }
  }
  return texts;
}

/** The files whose code (comments aside) holds `literal`. */
function filesHolding(literal: string): string[] {
  const found: string[] = [];
  for (const [file, text] of sources()) {
    const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
    if (code.includes(literal)) found.push(file);
  }
  return found.sort();
}

Deno.test("the host's busybox path is defined once, in lib/host/tools.ts", () => {
  assert.deepEqual(filesHolding('"/bin/busybox"'), ["lib/host/tools.ts"]);
});

Deno.test("the default PATH is defined once, in lib/image/default_path.ts", () => {
  assert.deepEqual(filesHolding("/usr/local/sbin:/usr/local/bin"), ["lib/image/default_path.ts"]);
});

Deno.test("everything ffi/ exports is used outside ffi/: no dead bindings or constants", () => {
  const texts = sources();
  const unused: string[] = [];
  for (const [file, text] of texts) {
    if (!file.startsWith("ffi/") || file.startsWith("ffi/_")) continue; // _c.ts: ffi's own helpers
    for (const m of text.matchAll(/^export (?:const|function|class) (\w+)/gm)) {
      const users = [...texts].filter(([f, t]) =>
        !f.startsWith("ffi/") && new RegExp(`\\b${m[1]}\\b`).test(t)
      );
      if (users.length === 0) unused.push(`${file}: ${m[1]}`);
    }
  }
  assert.deepEqual(unused, []);
});
