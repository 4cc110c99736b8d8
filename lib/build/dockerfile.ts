/**
 * The Dockerfile language, as docker's parser (moby/buildkit
 * `frontend/dockerfile/parser`) reads it: parser directives at the top
 * (`# escape=`, `# syntax=` ignored), comment lines, continuations with the
 * escape character, heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`), exec (JSON)
 * and shell forms, and the instructions' flags. Pure: text in, a list of
 * instructions out; a bad line is a {@link DockerfileError} naming
 * `FILE:LINE`.
 *
 * Variable expansion (`$VAR`, `${VAR:-word}`) is in expand.ts: what a line
 * expands to depends on the stage's ARGs and ENVs, which only the builder
 * knows.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** A Dockerfile that cannot be read; the message names `FILE:LINE`. */
export class DockerfileError extends UsageError {
  /** The class name, as errors show it. */
  override name = "DockerfileError";
}

/** A heredoc's body, as `RUN <<EOF` or `COPY <<EOF /path` gives it. */
export interface Heredoc {
  /** The delimiter word: `EOF`. */
  name: string;
  /** The lines between the instruction and the delimiter, each ending in "\n". */
  body: string;
  /** Unquoted delimiter: the body's variables are expanded (by the shell, for RUN). */
  expand: boolean;
}

/** One instruction, continuations joined. */
export interface Instruction {
  /** The upper-case keyword: `RUN`. */
  keyword: string;
  /** The line it starts on, 1-based. */
  line: number;
  /** `--name=value` flags in front of the arguments (`--from=build`); a bare `--link` is "true". */
  flags: Record<string, string>;
  /** The arguments after the flags, continuations joined, heredoc bodies not included. */
  args: string;
  /** The exec form: the arguments as a JSON array of strings, when they are one. */
  json?: string[];
  /** The heredocs the line opens, in order. */
  heredocs: Heredoc[];
  /** The instruction as written, flags included, on one line (for errors and history). */
  original: string;
}

/** A parsed Dockerfile. */
export interface Dockerfile {
  /** The escape character: `\` unless `# escape=` said "`". */
  escape: string;
  /** The instructions, in order, continuations joined. */
  instructions: Instruction[];
}

/** The flags each instruction takes (others are refused, as docker refuses them). */
const FLAGS: Record<string, string[]> = {
  FROM: ["platform"],
  RUN: ["mount", "network", "security"],
  COPY: ["from", "chown", "chmod", "link", "parents", "exclude"],
  ADD: ["chown", "chmod", "link", "checksum", "keep-git-dir", "exclude"],
  HEALTHCHECK: ["interval", "timeout", "start-period", "start-interval", "retries"],
};

/** Every instruction docker knows. */
export const INSTRUCTIONS = new Set([
  "FROM",
  "RUN",
  "CMD",
  "LABEL",
  "MAINTAINER",
  "EXPOSE",
  "ENV",
  "ADD",
  "COPY",
  "ENTRYPOINT",
  "VOLUME",
  "USER",
  "WORKDIR",
  "ARG",
  "ONBUILD",
  "STOPSIGNAL",
  "HEALTHCHECK",
  "SHELL",
]);

/** The instructions whose lines may open heredocs (docker's list). */
const HEREDOC_INSTRUCTIONS = new Set(["RUN", "COPY", "ADD"]);

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const HEREDOC = /<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_.-]*)\2/g;

/**
 * Parses a Dockerfile.
 *
 * @param file what to call it in errors: `Dockerfile`
 * @throws {DockerfileError} for an unknown instruction, a bad flag or directive, an unterminated heredoc
 */
export function parseDockerfile(text: string, file = "Dockerfile"): Dockerfile {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const fail = (line: number, what: string): never => {
    throw new DockerfileError(`${file}:${line}: ${what}`);
  };
  let escape = "\\";
  let i = 0;
  // Directives: only before any comment, blank line or instruction.
  const seen = new Set<string>();
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]);
    if (!m) break;
    const key = m[1].toLowerCase();
    if (key !== "escape" && key !== "syntax" && key !== "check") break; // an ordinary comment
    if (seen.has(key)) fail(i + 1, `the parser directive "${key}" is given twice`);
    seen.add(key);
    if (key === "escape") {
      if (m[2] !== "\\" && m[2] !== "`") fail(i + 1, `invalid escape "${m[2]}": use \\ or \``);
      escape = m[2];
    }
  }
  const continued = new RegExp(`${escape === "\\" ? "\\\\" : "`"}[ \\t]*$`);
  const instructions: Instruction[] = [];
  while (i < lines.length) {
    const start = i;
    const first = lines[i].trim();
    if (first === "" || first.startsWith("#")) {
      i++;
      continue;
    }
    // Join continuation lines; comment and blank lines inside are dropped.
    let joined = "";
    for (;;) {
      const raw = lines[i];
      i++;
      const trimmed = raw.trimStart();
      if (joined !== "" && (trimmed === "" || trimmed.startsWith("#"))) {
        if (i >= lines.length) break;
        continue;
      }
      if (continued.test(raw) && i < lines.length) {
        joined += raw.replace(continued, "");
        continue;
      }
      joined += continued.test(raw) ? raw.replace(continued, "") : raw;
      break;
    }
    const m = /^\s*(\S+)\s*(.*)$/s.exec(joined)!;
    const keyword = m[1].toUpperCase();
    if (!INSTRUCTIONS.has(keyword)) fail(start + 1, `unknown instruction: ${m[1]}`);
    const { flags, rest } = splitFlags(keyword, m[2], (what) => fail(start + 1, what));
    const heredocs: Heredoc[] = [];
    if (HEREDOC_INSTRUCTIONS.has(keyword) && !rest.startsWith("[")) {
      for (const h of rest.matchAll(HEREDOC)) {
        const [, dash, quote, name] = h;
        const body: string[] = [];
        for (;;) {
          if (i >= lines.length) {
            fail(start + 1, `the heredoc "${name}" is not terminated: end it with a line "${name}"`);
          }
          const line = dash ? lines[i].replace(/^\t+/, "") : lines[i];
          i++;
          if (line === name) break;
          body.push(`${line}\n`);
        }
        heredocs.push({ name, body: body.join(""), expand: quote === "" });
      }
    }
    const instruction: Instruction = {
      keyword,
      line: start + 1,
      flags,
      args: rest.trim(),
      heredocs,
      original: joined.trim(),
    };
    const json = execForm(instruction.args);
    if (json) instruction.json = json;
    instructions.push(instruction);
  }
  return { escape, instructions };
}

/** Splits `--name=value` flags off the front of an instruction's arguments. */
function splitFlags(
  keyword: string,
  args: string,
  fail: (what: string) => never,
): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let rest = args;
  for (;;) {
    const m = /^--([a-z][a-z-]*)(?:=(\S*))?(?:\s+|$)/.exec(rest);
    if (!m) break;
    const [, name, value] = m;
    if (!(FLAGS[keyword] ?? []).includes(name)) fail(`unknown flag: --${name} for ${keyword}`);
    if (name in flags && name !== "mount" && name !== "exclude") fail(`the flag --${name} is given twice`);
    flags[name] = value ?? "true";
    rest = rest.slice(m[0].length);
  }
  return { flags, rest };
}

/** The arguments as a JSON array of strings, or undefined (the shell form, as docker falls back to it). */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith("[")) return undefined;
  try {
    const parsed = JSON.parse(args);
    if (Array.isArray(parsed) && parsed.every((a) => typeof a === "string")) return parsed;
  } catch {
    // not JSON: the shell form
  }
  return undefined;
}

/**
 * Splits at unquoted whitespace, keeping quotes and escapes in the words
 * (docker's parseWords, for ENV and LABEL: `a="x y" b=c` is two words).
 */
export function splitWords(text: string, escape = "\\"): string[] {
  const words: string[] = [];
  let word = "";
  let quote = "";
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote === "" && /\s/.test(ch)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      continue;
    }
    inWord = true;
    if (ch === escape && i + 1 < text.length && quote !== "'") {
      word += ch + text[++i];
      continue;
    }
    if (quote === "" && (ch === '"' || ch === "'")) quote = ch;
    else if (ch === quote) quote = "";
    word += ch;
  }
  if (inWord) words.push(word);
  return words;
}

/**
 * `KEY=VALUE ...` pairs (ENV, LABEL, ARG), or the old `KEY VALUE` form
 * (one pair, the value the rest of the line), still quoted: expand.ts
 * removes quotes when it expands them. ARG takes a bare `NAME` too.
 *
 * @throws {DockerfileError} for a word without "=" among `K=V` pairs
 */
export function keyValues(
  instruction: Instruction,
  file: string,
  escape = "\\",
): { key: string; value: string | undefined }[] {
  const { keyword, args, line } = instruction;
  const words = splitWords(args, escape);
  if (words.length === 0) throw new DockerfileError(`${file}:${line}: ${keyword} needs arguments`);
  if (keyword === "ARG") {
    return words.map((w) => {
      const eq = w.indexOf("=");
      return eq === -1 ? { key: w, value: undefined } : { key: w.slice(0, eq), value: w.slice(eq + 1) };
    });
  }
  if (!words[0].includes("=")) {
    // the old form: `ENV KEY the rest of the line`
    const m = /^(\S+)\s+(.*)$/s.exec(args);
    if (!m) {
      throw new DockerfileError(
        `${file}:${line}: ${keyword} ${words[0]} needs a value: use ${keyword} KEY=VALUE`,
      );
    }
    return [{ key: m[1], value: m[2].trim() }];
  }
  return words.map((w) => {
    const eq = w.indexOf("=");
    if (eq <= 0) {
      throw new DockerfileError(`${file}:${line}: ${keyword} "${w}" is not KEY=VALUE`);
    }
    return { key: w.slice(0, eq), value: w.slice(eq + 1) };
  });
}
