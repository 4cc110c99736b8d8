/**
 * containers-registries.conf(5), the parts podman users write: which
 * registries an unqualified name is tried at (`unqualified-search-registries`,
 * in order, never a prompt), `[aliases]`, and `[[registry]]` entries
 * (`prefix`, `location`, `insecure`, `blocked`, `[[registry.mirror]]`).
 *
 * Files: `$CONTAINERS_REGISTRIES_CONF` alone when set; else
 * `~/.config/containers/registries.conf` when it exists, else
 * `/etc/containers/registries.conf`, then the `registries.conf.d/*.conf`
 * drop-ins beside them in name order (a later file's keys win; a
 * `[[registry]]` with the same prefix replaces the earlier one).
 *
 * The TOML read here is the subset these files use: tables, arrays of
 * tables, strings, booleans, integers and arrays of them.
 *
 * @module
 */

import { UsageError } from "../../errors.ts";
import { DOCKER_HUB, isQualified, parseReference, type Reference } from "./reference.ts";

/** Where a repository is really fetched from. */
export interface Location {
  registry: string;
  repository: string;
  insecure: boolean;
}

/** One name to try: the reference the user means, where it is, and its mirrors. */
export interface Candidate {
  ref: Reference;
  location: Location;
  mirrors: Location[];
  insecure: boolean;
}

interface RegistryEntry {
  prefix: string;
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrors: { location: string; insecure: boolean }[];
}

/** What the files say, merged. */
export interface RegistriesConf {
  search: string[];
  aliases: Record<string, string>;
  registries: RegistryEntry[];
}

type Toml = Record<string, unknown>;

/**
 * Parses the TOML subset registries.conf uses.
 *
 * @throws {Error} with the line number when a line is not understood
 */
export function parseToml(text: string, label: string): Toml {
  const root: Toml = {};
  let table: Toml = root;
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const fail = (why: string) => new UsageError(`Cannot read "${label}": line ${n + 1}: ${why}`);
    let line = stripComment(lines[n]).trim();
    if (line === "") continue;
    const header = /^(\[\[?)\s*([^\]]+?)\s*\]\]?$/.exec(line);
    if (header) {
      const keys = splitKey(header[2], fail);
      const array = header[1] === "[[";
      let cur: Toml = root;
      for (const [i, key] of keys.entries()) {
        const last = i === keys.length - 1;
        let next = cur[key];
        if (last && array) {
          if (next === undefined) next = cur[key] = [];
          if (!Array.isArray(next)) throw fail(`"${key}" is not an array of tables`);
          const t: Toml = {};
          next.push(t);
          cur = t;
          break;
        }
        if (next === undefined) next = cur[key] = {};
        if (Array.isArray(next)) next = next[next.length - 1];
        if (typeof next !== "object" || next === null) throw fail(`"${key}" is not a table`);
        cur = next as Toml;
      }
      table = cur;
      continue;
    }
    const eq = findEquals(line);
    if (eq === -1) throw fail("expected KEY = VALUE or [TABLE]");
    const keys = splitKey(line.slice(0, eq).trim(), fail);
    let valueText = line.slice(eq + 1).trim();
    // an array may span lines
    while (valueText.startsWith("[") && !balanced(valueText) && n + 1 < lines.length) {
      line = stripComment(lines[++n]).trim();
      valueText += ` ${line}`;
    }
    const [value, rest] = parseValue(valueText, fail);
    if (rest.trim() !== "") throw fail(`unexpected "${rest.trim()}"`);
    let cur = table;
    for (const key of keys.slice(0, -1)) {
      if (cur[key] === undefined) cur[key] = {};
      cur = cur[key] as Toml;
    }
    cur[keys[keys.length - 1]] = value;
  }
  return root;
}

function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#") return line.slice(0, i);
  }
  return line;
}

function findEquals(line: string): number {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "=") return i;
  }
  return -1;
}

function balanced(text: string): boolean {
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "[") depth++;
    else if (c === "]") depth--;
  }
  return depth === 0;
}

function splitKey(text: string, fail: (why: string) => Error): string[] {
  const keys: string[] = [];
  let rest = text.trim();
  while (rest !== "") {
    let m: RegExpExecArray | null;
    if ((m = /^"((?:[^"\\]|\\.)*)"\s*/.exec(rest))) keys.push(unescape(m[1]));
    else if ((m = /^'([^']*)'\s*/.exec(rest))) keys.push(m[1]);
    else if ((m = /^([A-Za-z0-9_-]+)\s*/.exec(rest))) keys.push(m[1]);
    else throw fail(`bad key "${text}"`);
    rest = rest.slice(m[0].length);
    if (rest.startsWith(".")) rest = rest.slice(1).trimStart();
    else if (rest !== "") throw fail(`bad key "${text}"`);
  }
  return keys;
}

function unescape(s: string): string {
  return s.replace(
    /\\(u[0-9a-fA-F]{4}|.)/g,
    (_, e: string) =>
      e.length > 1
        ? String.fromCharCode(parseInt(e.slice(1), 16))
        : ({ n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\" } as Record<string, string>)[e] ?? e,
  );
}

function parseValue(text: string, fail: (why: string) => Error): [unknown, string] {
  let m: RegExpExecArray | null;
  if ((m = /^"((?:[^"\\]|\\.)*)"/.exec(text))) return [unescape(m[1]), text.slice(m[0].length)];
  if ((m = /^'([^']*)'/.exec(text))) return [m[1], text.slice(m[0].length)];
  if ((m = /^(true|false)\b/.exec(text))) return [m[1] === "true", text.slice(m[0].length)];
  if ((m = /^[+-]?\d+\b/.exec(text))) return [Number(m[0]), text.slice(m[0].length)];
  if (text.startsWith("[")) {
    const items: unknown[] = [];
    let rest = text.slice(1).trimStart();
    while (!rest.startsWith("]")) {
      const [item, after] = parseValue(rest, fail);
      items.push(item);
      rest = after.trimStart();
      if (rest.startsWith(",")) rest = rest.slice(1).trimStart();
      else if (!rest.startsWith("]")) throw fail(`expected "," or "]" in an array`);
    }
    return [items, rest.slice(1)];
  }
  throw fail(`cannot read the value "${text}"`);
}

type Env = (name: string) => string | undefined;

/** The registries.conf files to read, in order (see the module doc). */
export function confFiles(env: Env = (n) => Deno.env.get(n)): string[] {
  const only = env("CONTAINERS_REGISTRIES_CONF");
  if (only) return [only];
  const home = env("HOME");
  const user = home ? `${home}/.config/containers/registries.conf` : null;
  const main = user && isFile(user) ? user : "/etc/containers/registries.conf";
  const files = isFile(main) ? [main] : [];
  for (
    const dir of [
      "/etc/containers/registries.conf.d",
      ...(home ? [`${home}/.config/containers/registries.conf.d`] : []),
    ]
  ) {
    try {
      files.push(
        ...[...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".conf")).map((e) => `${dir}/${e.name}`)
          .sort(),
      );
    } catch { /* no drop-ins */ }
  }
  return files;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Reads and merges the registries.conf files.
 *
 * @throws {UsageError} naming the file and line when one cannot be read
 */
export function loadRegistriesConf(files = confFiles()): RegistriesConf {
  const conf: RegistriesConf = { search: [], aliases: {}, registries: [] };
  for (const file of files) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw new Error(`Cannot read "${file}"`, { cause: e });
    }
    mergeConf(conf, parseToml(text, file), file);
  }
  return conf;
}

/** Adds one file's settings to `conf`. */
export function mergeConf(conf: RegistriesConf, toml: Toml, file: string): void {
  const bad = (why: string) => new UsageError(`Cannot read "${file}": ${why}`);
  const search = toml["unqualified-search-registries"];
  if (search !== undefined) {
    if (!Array.isArray(search) || !search.every((s) => typeof s === "string")) {
      throw bad("unqualified-search-registries must be an array of strings");
    }
    conf.search = search;
  }
  const aliases = toml.aliases;
  if (aliases !== undefined) {
    if (typeof aliases !== "object" || aliases === null) throw bad("[aliases] must be a table");
    for (const [k, v] of Object.entries(aliases)) {
      if (typeof v !== "string") throw bad(`alias "${k}" must be a string`);
      conf.aliases[k] = v;
    }
  }
  const registries = toml.registry;
  if (registries !== undefined) {
    if (!Array.isArray(registries)) throw bad("registry must be an array of tables: [[registry]]");
    for (const r of registries as Toml[]) {
      const location = typeof r.location === "string" ? r.location : "";
      const prefix = typeof r.prefix === "string" && r.prefix !== "" ? r.prefix : location;
      if (prefix === "") throw bad("a [[registry]] needs a prefix or a location");
      const mirrors = Array.isArray(r.mirror) ? r.mirror as Toml[] : [];
      const entry: RegistryEntry = {
        prefix,
        location: location || prefix,
        insecure: r.insecure === true,
        blocked: r.blocked === true,
        mirrors: mirrors.filter((m) => typeof m.location === "string").map((m) => ({
          location: m.location as string,
          insecure: m.insecure === true,
        })),
      };
      conf.registries = conf.registries.filter((e) => e.prefix !== prefix).concat(entry);
    }
  }
}

/** Whether `prefix` covers `name` (`host/repo`): equal, or followed by `/`, `:` or `@`; `*.host` matches subdomains. */
function prefixMatches(prefix: string, name: string): boolean {
  if (prefix.startsWith("*.")) {
    const host = name.split("/")[0];
    return host.endsWith(prefix.slice(1));
  }
  return name === prefix || (name.startsWith(prefix) && "/:@".includes(name[prefix.length]));
}

function splitLocation(location: string, insecure: boolean): Location {
  const slash = location.indexOf("/");
  return slash === -1
    ? { registry: location, repository: "", insecure }
    : { registry: location.slice(0, slash), repository: location.slice(slash + 1), insecure };
}

/**
 * Where a fully qualified reference is fetched: the `[[registry]]` with
 * the longest matching prefix rewrites it to its `location`.
 *
 * @throws {UsageError} when that registry is `blocked`
 */
export function locate(ref: Reference, conf: RegistriesConf): Candidate {
  const name = `${ref.registry}/${ref.repository}`;
  const entry = conf.registries.filter((e) => prefixMatches(e.prefix, name))
    .sort((a, b) => b.prefix.length - a.prefix.length)[0];
  if (!entry) {
    return {
      ref,
      location: { registry: ref.registry, repository: ref.repository, insecure: false },
      mirrors: [],
      insecure: false,
    };
  }
  if (entry.blocked) {
    throw new UsageError(`Cannot use "${name}": registries.conf blocks "${entry.prefix}"`);
  }
  const rewrite = (location: string, insecure: boolean) => {
    const rest = entry.prefix.startsWith("*.")
      ? name.slice(name.indexOf("/"))
      : name.slice(entry.prefix.length);
    const loc = splitLocation(location + rest, insecure);
    return { ...loc, repository: loc.repository.replace(/^\//, "") };
  };
  return {
    ref,
    location: rewrite(entry.location, entry.insecure),
    mirrors: entry.mirrors.map((m) => rewrite(m.location, m.insecure)),
    insecure: entry.insecure,
  };
}

/**
 * What a name the user typed may mean, in the order to try: itself when
 * qualified; an alias; else the name at each unqualified-search-registry
 * (docker.io when there are none).
 *
 * @throws {UsageError} when the name is malformed or blocked
 */
export function candidates(name: string, conf: RegistriesConf): Candidate[] {
  if (isQualified(name)) return [locate(parseReference(name), conf)];
  const bare = name.replace(/[@:].*$/, "");
  const alias = conf.aliases[bare];
  if (alias !== undefined) {
    const suffix = name.slice(bare.length);
    return [locate(parseReference(alias + suffix), conf)];
  }
  const search = conf.search.length > 0 ? conf.search : [DOCKER_HUB];
  return search.map((registry) => locate(parseReference(name, registry), conf));
}
