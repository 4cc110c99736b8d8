/**
 * The layering rule, enforced: imports go one way between subsystems
 * (cli -> build -> container -> image -> store -> ffi; container and image
 * may use host; host uses ffi; lib/errors.ts is below all), and no module
 * imports itself back through a cycle. `import type` does not count (it is
 * erased); a dynamic `import()` does.
 */

import { deepStrictEqual } from "node:assert/strict";

const REPO = new URL("..", import.meta.url).pathname;

/** The layer a file belongs to, by where it lives. */
function layerOf(path: string): string {
  if (path === "cli.ts" || path === "mod.ts" || path.startsWith("lib/cli/")) return "cli";
  if (path === "lib/errors.ts") return "errors";
  for (const layer of ["build", "container", "image", "store", "host"]) {
    if (path.startsWith(`lib/${layer}/`)) return layer;
  }
  if (path.startsWith("images/")) return "recipes";
  if (path.startsWith("ffi/")) return "ffi";
  throw new Error(`No layer for "${path}": put it under a subsystem of lib/`);
}

/** What each layer may import, besides itself. */
const ALLOWED: Record<string, string[]> = {
  cli: ["build", "container", "recipes", "image", "store", "host", "ffi", "errors"],
  build: ["container", "recipes", "image", "store", "host", "ffi", "errors"],
  container: ["recipes", "image", "store", "host", "ffi", "errors"],
  // The busybox recipe makes an image: it sits above the image code and is
  // called from where a run resolves its image, never from the index.
  recipes: ["image", "store", "host", "ffi", "errors"],
  image: ["store", "host", "ffi", "errors"],
  store: ["ffi", "errors"],
  host: ["ffi", "errors"],
  ffi: [],
  errors: [],
};

/** Every static and dynamic import of a module that loads code at run time. */
export function runtimeImports(source: string): string[] {
  const found: string[] = [];
  const statement = /^\s*(import|export)\s+([^;]*?)\s+from\s+["']([^"']+)["']/gms;
  for (const m of source.matchAll(statement)) {
    const clause = m[2].trim();
    if (clause.startsWith("type ")) continue;
    const named = clause.match(/^\{([^}]*)\}$/s);
    if (named) {
      const names = named[1].split(",").map((s) => s.trim()).filter(Boolean);
      if (names.length > 0 && names.every((n) => n.startsWith("type "))) continue;
    }
    found.push(m[3]);
  }
  for (const m of source.matchAll(/^\s*import\s+["']([^"']+)["']/gm)) found.push(m[1]);
  for (const m of source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) found.push(m[1]);
  return found;
}

function sourceFiles(): string[] {
  const out = new Deno.Command("git", {
    args: ["ls-files", "--cached", "--others", "--exclude-standard"],
    cwd: REPO,
  })
    .outputSync();
  return new TextDecoder().decode(out.stdout).split("\n")
    .filter((f) => f.endsWith(".ts") && !f.endsWith("_test.ts"))
    .filter((f) => !f.startsWith("tests/") && !f.startsWith("bench/") && !f.startsWith(".ci/"))
    .filter((f) => {
      try {
        return Deno.statSync(`${REPO}/${f}`).isFile;
      } catch {
        return false;
      }
    });
}

function graph(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const file of sourceFiles()) {
    const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : ".";
    const targets = runtimeImports(Deno.readTextFileSync(`${REPO}/${file}`))
      .filter((s) => s.startsWith("."))
      .map((s) => new URL(s, `file:///${dir}/`).pathname.slice(1));
    edges.set(file, targets);
  }
  return edges;
}

Deno.test("imports go one way between subsystems", () => {
  const wrong: string[] = [];
  for (const [file, targets] of graph()) {
    const from = layerOf(file);
    for (const target of targets) {
      const to = layerOf(target);
      if (to !== from && !ALLOWED[from].includes(to)) wrong.push(`${file} (${from}) -> ${target} (${to})`);
    }
  }
  deepStrictEqual(wrong, []);
});

Deno.test("no module imports itself back through a cycle", () => {
  const edges = graph();
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const next of edges.get(file) ?? []) {
      if (state.get(next) === "open") cycles.push([...stack.slice(stack.indexOf(next)), next].join(" -> "));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of edges.keys()) if (!state.has(file)) visit(file);
  deepStrictEqual(cycles, []);
});

Deno.test("the import parser tells type imports from runtime ones", () => {
  const source = [
    'import type { A } from "./a.ts";',
    'import { type B, c } from "./b.ts";',
    'import { type D } from "./d.ts";',
    "import {\n  e,\n  f,\n} from './e.ts';",
    'export { g } from "./g.ts";',
    'const h = await import("./h.ts");',
  ].join("\n");
  deepStrictEqual(runtimeImports(source).sort(), ["./b.ts", "./e.ts", "./g.ts", "./h.ts"]);
});

Deno.test("modules are imported on demand through later(), never a literal import() Deno loads at start-up", () => {
  const wrong: string[] = [];
  for (const file of sourceFiles()) {
    if (file === "lib/host/later.ts") continue;
    const source = Deno.readTextFileSync(`${REPO}/${file}`);
    for (const m of source.matchAll(/(?<!typeof )\bimport\(\s*["']([^"']+)["']\s*\)/g)) {
      wrong.push(`${file}: import("${m[1]}")`);
    }
    for (const m of source.matchAll(/\blater<typeof import\("([^"]+)"\)>\(\s*"([^"]+)"/g)) {
      if (m[1] !== m[2]) wrong.push(`${file}: later of "${m[2]}" typed as "${m[1]}"`);
    }
  }
  deepStrictEqual(wrong, []);
});
