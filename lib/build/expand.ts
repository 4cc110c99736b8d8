/**
 * Variable expansion in Dockerfile words, as docker's shell lexer
 * (buildkit `frontend/dockerfile/shell/lex.go`) does it for the
 * instructions that expand (FROM, ARG, ENV, LABEL, COPY, ADD, WORKDIR,
 * USER, EXPOSE, VOLUME, STOPSIGNAL, ONBUILD not): `$VAR`, `${VAR}`,
 * `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`,
 * `${VAR:?message}`; single quotes keep everything, double quotes expand,
 * the escape character escapes the next one. Quotes are removed. RUN, CMD
 * and ENTRYPOINT are never expanded here: their shell does it.
 *
 * @module
 */

import { DockerfileError } from "./dockerfile.ts";

/** The variables in scope: ARGs (with values) under ENVs. */
export type Vars = Map<string, string>;

/**
 * Expands one word, removing quotes.
 *
 * @param used collects the names of the variables the word reads
 * @throws {DockerfileError} for `${VAR:?message}` of an unset VAR, or a `${` left open
 */
export function expandWord(word: string, vars: Vars, escape = "\\", used?: Set<string>): string {
  return new Lexer(word, vars, escape, used).word();
}

/**
 * Expands a line into words (split at unquoted whitespace, after
 * expansion only where the whitespace was in the text itself, as docker).
 */
export function expandWords(text: string, vars: Vars, escape = "\\", used?: Set<string>): string[] {
  return new Lexer(text, vars, escape, used).words();
}

/** Marks where an unquoted variable's value had whitespace, in {@link Lexer.words}. */
const SPLIT = "\0";

class Lexer {
  #pos = 0;
  #splitting = false;
  constructor(
    readonly text: string,
    readonly vars: Vars,
    readonly escape: string,
    readonly used?: Set<string>,
  ) {}

  word(): string {
    return this.#until(() => false);
  }

  words(): string[] {
    const words: string[] = [];
    this.#splitting = true;
    while (this.#pos < this.text.length) {
      while (/\s/.test(this.text[this.#pos] ?? "")) this.#pos++;
      if (this.#pos >= this.text.length) break;
      const word = this.#until((ch) => /\s/.test(ch));
      // what an unquoted variable's whitespace split (a quoted empty word stays)
      const parts = word.split(SPLIT);
      words.push(...(parts.length > 1 ? parts.filter((p) => p !== "") : parts));
    }
    return words;
  }

  /** Reads up to a character `stop` says ends the word (outside quotes). */
  #until(stop: (ch: string) => boolean): string {
    let out = "";
    const t = this.text;
    while (this.#pos < t.length) {
      const ch = t[this.#pos];
      if (stop(ch)) break;
      if (ch === this.escape) {
        this.#pos++;
        if (this.#pos < t.length) out += t[this.#pos++];
        continue;
      }
      if (ch === "'") {
        const end = t.indexOf("'", this.#pos + 1);
        if (end === -1) {
          throw new DockerfileError(
            `unexpected end of statement while looking for matching single-quote in "${t}"`,
          );
        }
        out += t.slice(this.#pos + 1, end);
        this.#pos = end + 1;
        continue;
      }
      if (ch === '"') {
        this.#pos++;
        out += this.#doubleQuoted();
        continue;
      }
      if (ch === "$") {
        // outside quotes a value's whitespace splits words, as docker's ProcessWords
        const value = this.#variable();
        out += this.#splitting ? value.replace(/\s+/g, SPLIT) : value;
        continue;
      }
      out += ch;
      this.#pos++;
    }
    return out;
  }

  #doubleQuoted(): string {
    let out = "";
    const t = this.text;
    while (this.#pos < t.length) {
      const ch = t[this.#pos];
      if (ch === '"') {
        this.#pos++;
        return out;
      }
      if (ch === "$") {
        out += this.#variable();
        continue;
      }
      if (ch === this.escape) {
        const next = t[this.#pos + 1];
        // in double quotes only $, " and the escape itself are escaped
        if (next === "$" || next === '"' || next === this.escape) {
          out += next;
          this.#pos += 2;
          continue;
        }
      }
      out += ch;
      this.#pos++;
    }
    throw new DockerfileError(
      `unexpected end of statement while looking for matching double-quote in "${t}"`,
    );
  }

  /** At a `$`: the variable's value, or a lone `$`. */
  #variable(): string {
    const t = this.text;
    this.#pos++; // the $
    const ch = t[this.#pos];
    if (ch === "{") {
      this.#pos++;
      const name = this.#name();
      if (name === "") throw new DockerfileError(`bad substitution in "${t}": a name must follow \${`);
      const value = this.#lookup(name);
      if (t[this.#pos] === "}") {
        this.#pos++;
        return value ?? "";
      }
      let op = t[this.#pos];
      if (op === ":") {
        this.#pos++;
        op = `:${t[this.#pos]}`;
      }
      this.#pos++;
      const word = this.#until((c) => c === "}");
      if (t[this.#pos] !== "}") throw new DockerfileError(`missing "}" in "${t}"`);
      this.#pos++;
      const set = value !== undefined;
      const nonEmpty = set && value !== "";
      switch (op) {
        case ":-":
          return nonEmpty ? value! : word;
        case "-":
          return set ? value! : word;
        case ":+":
          return nonEmpty ? word : "";
        case "+":
          return set ? word : "";
        case ":?":
        case "?":
          if (op === ":?" ? nonEmpty : set) return value!;
          throw new DockerfileError(`${name}: ${word || "is not allowed to be unset"}`);
        default:
          throw new DockerfileError(`unsupported modifier "${op}" in "${t}"`);
      }
    }
    const name = this.#name();
    if (name === "") return "$";
    return this.#lookup(name) ?? "";
  }

  #name(): string {
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.#pos));
    if (!m) return "";
    this.#pos += m[0].length;
    return m[0];
  }

  #lookup(name: string): string | undefined {
    this.used?.add(name);
    return this.vars.get(name);
  }
}
