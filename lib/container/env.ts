/**
 * The environment a user gives (`-e`, commit's `-c ENV`), held to the rule of
 * lib/image/env.ts. What an entry of a container's environment may be: `KEY=VALUE`, a key
 * that is not empty and holds no "=", and no NUL or newline anywhere (a
 * NUL cannot pass execve, and a newline makes `env`'s output, a log line
 * or an env file mean something else). Values are otherwise free: spaces,
 * quotes, "=" and `$(...)` reach the command as they are, since the
 * environment is only ever data passed to execve.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { envProblem } from "../image/env.ts";

/**
 * Checks that every entry is `KEY=VALUE` (see the module doc).
 *
 * @param fix how to give them instead, for the message: `use -e KEY=VALUE`
 * @throws {UsageError} naming the first bad entry, escaped to stay on one
 *   line: `Invalid environment variable "A=b\nc": use -e KEY=VALUE (it holds a newline)`
 */
export function checkEnvFlags(entries: readonly string[], fix: string): void {
  for (const entry of entries) {
    const problem = envProblem(entry);
    if (problem !== null) {
      throw new UsageError(`Invalid environment variable ${JSON.stringify(entry)}: ${fix} (${problem})`);
    }
  }
}

/**
 * An env file as docker reads `--env-file`: a `KEY=VALUE` a line, taken as
 * it is; a `KEY` alone takes the caller's value (and is left out when the
 * caller has none); blank lines and lines starting with `#` are skipped,
 * and leading whitespace is dropped.
 *
 * @param lookup the caller's environment
 * @throws {UsageError} naming the file and line of a key with whitespace in it
 */
export function parseEnvFile(
  text: string,
  file: string,
  lookup: (key: string) => string | undefined,
): string[] {
  const entries: string[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.replace(/\r$/, "").trimStart();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    const key = eq === -1 ? line : line.slice(0, eq);
    if (key === "" || /\s/.test(key)) {
      throw new UsageError(
        `Invalid --env-file "${file}": line ${i + 1} has ${
          key === "" ? "no variable name" : `a variable name with whitespace, "${key}"`
        }`,
      );
    }
    if (eq !== -1) entries.push(line);
    else {
      const value = lookup(key);
      if (value !== undefined) entries.push(`${key}=${value}`);
    }
  }
  return entries;
}
