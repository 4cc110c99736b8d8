/**
 * `.dockerignore` patterns with docker's rules (moby/patternmatcher): one
 * pattern a line, `#` comments, blank lines skipped, each pattern cleaned
 * as a path (a leading `/` dropped, `a/../b` as `b`); `*` and `?` never
 * cross a `/`, `[...]` a class, `**` any number of directories; a
 * pattern matches a path or any directory above it; `!` re-includes; the
 * last pattern that matches decides. Pure.
 *
 * A small matcher of our own rather than `@balena/dockerignore`: it is
 * ~60 lines, and an npm import costs 45-65 ms of start-up here.
 *
 * @module
 */

/** One compiled line. */
interface Pattern {
  regex: RegExp;
  negate: boolean;
}

/** A compiled `.dockerignore`. */
export class IgnoreRules {
  readonly #patterns: Pattern[];

  /** @param lines the file's lines, or patterns */
  constructor(lines: string[]) {
    this.#patterns = [];
    for (const raw of lines) {
      let line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      let negate = false;
      if (line.startsWith("!")) {
        negate = true;
        line = line.slice(1).trim();
      }
      const clean = cleanPath(line);
      if (clean === "") continue;
      this.#patterns.push({ regex: compile(clean), negate });
    }
  }

  /** Reads `.dockerignore` text. */
  static parse(text: string): IgnoreRules {
    return new IgnoreRules(text.split(/\r?\n/));
  }

  /** Whether any pattern re-includes (`!`): an excluded directory must then still be walked. */
  get hasExceptions(): boolean {
    return this.#patterns.some((p) => p.negate);
  }

  /** Whether `path` (relative to the context, `/`-separated, no leading `/`) is excluded. */
  excludes(path: string): boolean {
    const parts = cleanPath(path).split("/");
    let excluded = false;
    for (const p of this.#patterns) {
      let match = p.regex.test(parts.join("/"));
      // a pattern naming a directory excludes what is in it
      for (let n = 1; !match && n < parts.length; n++) match = p.regex.test(parts.slice(0, n).join("/"));
      if (match) excluded = !p.negate;
    }
    return excluded;
  }
}

/** A path cleaned as Go's filepath.Clean does, without a leading `/` or `./`. */
export function cleanPath(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return out.join("/");
}

/** A pattern as an anchored RegExp, as patternmatcher compiles it. */
function compile(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === "*") {
      if (pattern[i + 1] === "*") {
        i++;
        if (pattern[i + 1] === "/") i++;
        re += i + 1 >= pattern.length ? ".*" : "(.*/)?";
      } else re += "[^/]*";
    } else if (ch === "?") re += "[^/]";
    else if (ch === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end === -1) re += "\\[";
      else {
        const body = pattern.slice(i + 1, end).replace(/\\/g, "\\\\");
        re += `[${body}]`; // Go's classes: `[^...]` negates
        i = end;
      }
    } else if (ch === "\\" && i + 1 < pattern.length) re += escapeRegex(pattern[++i]);
    else re += escapeRegex(ch);
  }
  return new RegExp(`^${re}$`);
}

function escapeRegex(ch: string): string {
  return /[.+^${}()|[\]\\*?]/.test(ch) ? `\\${ch}` : ch;
}
