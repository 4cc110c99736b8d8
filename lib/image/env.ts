/**
 * The one check of environment entries (`KEY=VALUE`), for image configs
 * read from archives or registries, and for `run -e` and `commit`.
 *
 * @module
 */

/** Longest part of a bad entry an error quotes. */
const QUOTE_MAX = 60;

/**
 * Checks a list of environment entries: each a string `KEY=VALUE` whose
 * key is not empty (so the first `=` ends it), with no NUL or newline
 * anywhere (execve would cut the string at a NUL; a newline forges a
 * second entry in anything that writes the list one per line).
 *
 * @param entries the value to check, e.g. an image config's `Env`
 * @param where what to name in errors, e.g. `config sha256:…`
 * @returns the entries, typed
 * @throws {Error} `WHERE: Env entry "pwn" is not KEY=VALUE`, and the like
 * @example
 * ```ts
 * checkEnv(["PATH=/bin", "EMPTY="], "config"); // fine
 * checkEnv(["pwn"], "config"); // throws: config: Env entry "pwn" is not KEY=VALUE
 * ```
 */
export function checkEnv(entries: unknown, where: string): string[] {
  if (!Array.isArray(entries) || !entries.every((e) => typeof e === "string")) {
    throw new Error(`${where}: Env must be an array of strings`);
  }
  for (const entry of entries as string[]) {
    const problem = envProblem(entry);
    if (problem === 'it has no "="' || problem === "its key is empty") {
      throw new Error(`${where}: Env entry ${quote(entry)} is not KEY=VALUE`);
    }
    if (problem !== null) throw new Error(`${where}: Env entry ${quote(entry)} has a NUL or newline`);
  }
  return entries as string[];
}

/**
 * Why `entry` is not a `KEY=VALUE` entry, or null when it is one: the one
 * rule behind every check of an environment (image configs, `-e`, commit).
 */
export function envProblem(entry: string): string | null {
  if (entry.includes("\0")) return "it holds a NUL";
  if (/[\n\r]/.test(entry)) return "it holds a newline";
  const eq = entry.indexOf("=");
  if (eq === -1) return 'it has no "="';
  if (eq === 0) return "its key is empty";
  return null;
}

/** An entry as an error shows it: escaped, and cut when long. */
function quote(entry: string): string {
  const cut = entry.length > QUOTE_MAX ? `${entry.slice(0, QUOTE_MAX)}…` : entry;
  return JSON.stringify(cut);
}
