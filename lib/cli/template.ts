/**
 * docker's `--format`: Go's text/template, the part of it docker's
 * documentation uses — fields (`{{.ID}}`, `{{.State.Pid}}`), methods with
 * arguments (`{{.Label "k"}}`), variables, pipelines, parenthesized
 * arguments, `if`/`else if`/`else`, `range` (with `$i, $v :=`), `with`,
 * comments, `{{-`/`-}}` trimming, Go's functions (`index`, `len`, `eq`...,
 * `printf`) and docker's (`json`, `join`, `split`, `lower`, `upper`,
 * `title`, `pad`, `truncate`) — and docker's `table` prefix. No npm
 * package implements Go templates to that depth; this one is small, and
 * loaded only when a `--format` is given.
 *
 * @module
 */

import { escapeControls } from "./format.ts";

/** A template that does not parse, or fails while it runs; the message says where, as Go's does. */
export class TemplateError extends Error {
  override name = "TemplateError";
}

/** Marks an object as a Go struct: a field it lacks is an error, not `<no value>` as in a map. */
export const STRUCT = Symbol("struct");

type Value = unknown;
type Func = (...args: Value[]) => Value;

interface Pos {
  line: number;
  col: number;
}

type Arg =
  | {
    kind: "field";
    base: "dot" | { variable: string } | { pipe: Pipe };
    path: string[];
    pos: Pos;
    text: string;
  }
  | { kind: "func"; name: string; pos: Pos }
  | { kind: "const"; value: Value };

interface Command {
  args: Arg[];
}

interface Pipe {
  /** `$x :=` (declare) or `$x =` (assign); `$k, $v :=` in a range. */
  vars: string[];
  cmds: Command[];
  pos: Pos;
  text: string;
}

type Node =
  | { kind: "text"; text: string }
  | { kind: "action"; pipe: Pipe }
  | { kind: "if" | "range" | "with"; pipe: Pipe; list: Node[]; otherwise: Node[] };

// ---------------------------------------------------------------- lexing

type Token =
  | { t: "field"; name: string }
  | { t: "dot" }
  | { t: "var"; name: string }
  | { t: "ident"; name: string }
  | { t: "const"; value: Value }
  | { t: "(" | ")" | "|" | "," | ":=" | "=" };

/** Go's parse error: `template: :LINE:COL: what`. */
function parseError(pos: Pos, what: string): TemplateError {
  return new TemplateError(`template: :${pos.line}:${pos.col}: ${what}`);
}

/** The tokens of one action's text, each with its position. */
function lex(text: string, start: Pos): { token: Token; pos: Pos }[] {
  const out: { token: Token; pos: Pos }[] = [];
  let i = 0;
  const pos = (at: number): Pos => ({ line: start.line, col: start.col + at });
  while (i < text.length) {
    const c = text[i];
    const at = pos(i);
    if (/\s/.test(c)) {
      i++;
    } else if (c === "(" || c === ")" || c === "|" || c === ",") {
      out.push({ token: { t: c }, pos: at });
      i++;
    } else if (text.startsWith(":=", i)) {
      out.push({ token: { t: ":=" }, pos: at });
      i += 2;
    } else if (c === "=") {
      out.push({ token: { t: "=" }, pos: at });
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (j >= text.length) throw parseError(at, "unterminated quoted string");
      try {
        out.push({ token: { t: "const", value: JSON.parse(text.slice(i, j + 1)) }, pos: at });
      } catch {
        throw parseError(at, `invalid syntax: ${text.slice(i, j + 1)}`);
      }
      i = j + 1;
    } else if (c === "`") {
      const j = text.indexOf("`", i + 1);
      if (j === -1) throw parseError(at, "unterminated raw quoted string");
      out.push({ token: { t: "const", value: text.slice(i + 1, j) }, pos: at });
      i = j + 1;
    } else if (c === "." || c === "$") {
      const m = /^[.$][A-Za-z0-9_]*/.exec(text.slice(i))![0];
      if (c === "$") out.push({ token: { t: "var", name: m }, pos: at });
      else if (m === ".") out.push({ token: { t: "dot" }, pos: at });
      else if (/^\.[0-9]/.test(m)) {
        out.push({ token: { t: "const", value: Number(m) }, pos: at });
      } else out.push({ token: { t: "field", name: m.slice(1) }, pos: at });
      i += m.length;
    } else if (/[-+0-9]/.test(c)) {
      const m = /^[-+]?(0x[0-9a-fA-F]+|[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)/.exec(text.slice(i));
      if (!m) throw parseError(at, `bad number syntax: "${text.slice(i, i + 1)}"`);
      out.push({ token: { t: "const", value: Number(m[0]) }, pos: at });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))![0];
      const value = m === "true" ? true : m === "false" ? false : m === "nil" ? null : undefined;
      out.push({ token: value === undefined ? { t: "ident", name: m } : { t: "const", value }, pos: at });
      i += m.length;
    } else {
      throw parseError(at, `unexpected "${c}" in command`);
    }
  }
  return out;
}

// ---------------------------------------------------------------- parsing

/** A parsed template, to run with {@link execute}. */
export interface Template {
  nodes: Node[];
  funcs: Record<string, Func>;
}

/** The position of offset `at` in `text`, lines and columns from 1. */
function positionOf(text: string, at: number): Pos {
  const before = text.slice(0, at).split("\n");
  return { line: before.length, col: before[before.length - 1].length + 1 };
}

/**
 * Parses a template.
 *
 * @throws {TemplateError} `template: :LINE:COL: what`, as Go's parser names it
 */
export function parseTemplate(text: string, funcs: Record<string, Func> = FUNCS): Template {
  // the actions, and the text between them, with {{- and -}} trimming
  type Piece = { text: string } | { action: string; pos: Pos };
  const pieces: Piece[] = [];
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf("{{", i);
    if (open === -1) {
      pieces.push({ text: text.slice(i) });
      break;
    }
    let body = open + 2;
    let before = text.slice(i, open);
    if (/^-\s/.test(text.slice(body))) {
      before = before.trimEnd();
      body += 1;
    }
    pieces.push({ text: before });
    const close = text.indexOf("}}", body);
    if (close === -1) throw parseError(positionOf(text, open), "unclosed action");
    let end = close;
    let after = close + 2;
    if (/\s-$/.test(text.slice(body, close))) {
      end = close - 1;
      const rest = text.slice(after);
      after += rest.length - rest.trimStart().length;
    }
    const action = text.slice(body, end);
    if (action.includes("\n") && !/^\s*\/\*[\s\S]*\*\/\s*$/.test(action)) {
      throw parseError(positionOf(text, open), "unclosed action");
    }
    pieces.push({ action, pos: positionOf(text, body) });
    i = after;
  }
  let at = 0;
  const parseList = (
    inside: string | null,
  ): { list: Node[]; ended: "end" | "else" | null; elseTokens?: ReturnType<typeof lex>; elsePos?: Pos } => {
    const list: Node[] = [];
    while (at < pieces.length) {
      const piece = pieces[at++];
      if ("text" in piece) {
        if (piece.text !== "") list.push({ kind: "text", text: piece.text });
        continue;
      }
      if (/^\s*\/\*[\s\S]*\*\/\s*$/.test(piece.action)) continue;
      const tokens = lex(piece.action, piece.pos);
      if (tokens.length === 0) throw parseError(piece.pos, "missing value for command");
      const first = tokens[0].token;
      const keyword = first.t === "ident" ? first.name : "";
      if (keyword === "end" || keyword === "else") {
        if (inside === null) throw parseError(piece.pos, `unexpected {{${keyword}}}`);
        if (keyword === "end" && tokens.length > 1) throw parseError(piece.pos, "unexpected token in end");
        return { list, ended: keyword, elseTokens: tokens.slice(1), elsePos: piece.pos };
      }
      if (keyword === "if" || keyword === "range" || keyword === "with") {
        list.push(parseControl(keyword, tokens.slice(1), piece.pos, piece.action));
        continue;
      }
      if (["define", "template", "block", "break", "continue"].includes(keyword)) {
        throw parseError(piece.pos, `{{${keyword}}} is not supported by skiff's templates`);
      }
      list.push({ kind: "action", pipe: parsePipe(tokens, piece.pos, piece.action, funcs) });
    }
    if (inside !== null) throw parseError(positionOf(text, text.length), `unexpected EOF in ${inside}`);
    return { list, ended: null };
  };
  const parseControl = (
    kind: "if" | "range" | "with",
    tokens: ReturnType<typeof lex>,
    pos: Pos,
    src: string,
  ): Node => {
    if (tokens.length === 0) throw parseError(pos, `missing value for ${kind}`);
    const pipe = parsePipe(tokens, pos, src, funcs, kind === "range");
    const body = parseList(kind);
    let otherwise: Node[] = [];
    if (body.ended === "else") {
      const rest = body.elseTokens!;
      const again = rest[0]?.token;
      if (
        again && again.t === "ident" && (again.name === "if" || again.name === "with") && kind !== "range"
      ) {
        // {{else if ...}}: an if in the else branch, sharing its {{end}}
        otherwise = [parseControl(again.name as "if" | "with", rest.slice(1), body.elsePos!, src)];
      } else {
        if (rest.length > 0) throw parseError(body.elsePos!, "unexpected token in else");
        const tail = parseList(kind);
        if (tail.ended === "else") throw parseError(tail.elsePos!, `expected end; found {{else}}`);
        otherwise = tail.list;
      }
    }
    return { kind, pipe, list: body.list, otherwise };
  };
  const { list } = parseList(null);
  return { nodes: list, funcs };
}

function parsePipe(
  tokens: ReturnType<typeof lex>,
  pos: Pos,
  text: string,
  funcs: Record<string, Func>,
  range = false,
): Pipe {
  let i = 0;
  const vars: string[] = [];
  // $x := ..., $x = ..., and in a range $k, $v := ...
  const decl = () => {
    const a = tokens[0]?.token, b = tokens[1]?.token;
    if (a?.t === "var" && (b?.t === ":=" || b?.t === "=")) {
      vars.push(a.name);
      i = 2;
    } else if (
      range && a?.t === "var" && b?.t === "," && tokens[2]?.token.t === "var" && tokens[3]?.token.t === ":="
    ) {
      vars.push(a.name, (tokens[2].token as { name: string }).name);
      i = 4;
    }
  };
  decl();
  const parseArgs = (stop: (t: Token) => boolean): Command[] => {
    const cmds: Command[] = [];
    let args: Arg[] = [];
    while (i < tokens.length && !stop(tokens[i].token)) {
      const { token, pos: p } = tokens[i];
      if (token.t === "|") {
        if (args.length === 0) throw parseError(p, "missing command before |");
        cmds.push({ args });
        args = [];
        i++;
        continue;
      }
      args.push(parseOperand(p));
    }
    if (args.length === 0) {
      throw parseError(
        tokens[i]?.pos ?? pos,
        cmds.length > 0 ? "missing command after |" : "missing value for command",
      );
    }
    cmds.push({ args });
    return cmds;
  };
  const fieldsAfter = (): string[] => {
    const path: string[] = [];
    while (i < tokens.length && tokens[i].token.t === "field") {
      path.push((tokens[i++].token as { name: string }).name);
    }
    return path;
  };
  const parseOperand = (p: Pos): Arg => {
    const { token } = tokens[i++];
    switch (token.t) {
      case "dot":
        return { kind: "field", base: "dot", path: fieldsAfter(), pos: p, text: "." };
      case "field":
        i--;
        return { kind: "field", base: "dot", path: fieldsAfter(), pos: p, text: `.${token.name}` };
      case "var":
        return {
          kind: "field",
          base: { variable: token.name },
          path: fieldsAfter(),
          pos: p,
          text: token.name,
        };
      case "const":
        return { kind: "const", value: token.value };
      case "ident":
        if (!(token.name in funcs)) throw parseError(p, `function "${token.name}" not defined`);
        return { kind: "func", name: token.name, pos: p };
      case "(": {
        const cmds = parseArgs((t) => t.t === ")");
        if (tokens[i]?.token.t !== ")") throw parseError(p, "unclosed left paren");
        i++;
        const inner: Pipe = { vars: [], cmds, pos: p, text: "(...)" };
        return { kind: "field", base: { pipe: inner }, path: fieldsAfter(), pos: p, text: "(...)" };
      }
      default:
        throw parseError(p, `unexpected "${token.t}" in operand`);
    }
  };
  const cmds = parseArgs(() => false);
  return { vars, cmds, pos, text: text.trim() };
}

// ---------------------------------------------------------------- running

/** Go's truth: false, 0, nil, and empty strings, lists and maps are false. */
function truth(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object" && !(STRUCT in (v as object))) return Object.keys(v as object).length > 0;
  return true;
}

/** A value as Go's fmt prints it with %v: `[a b]`, `map[k:v]`, `{a b}`, `<no value>` for a missing key. */
export function show(v: Value): string {
  if (v === undefined) return "<no value>";
  if (v === null) return "<nil>";
  if (Array.isArray(v)) return `[${v.map(show).join(" ")}]`;
  if (typeof v === "object") {
    if (STRUCT in (v as object)) {
      return `{${Object.values(v as object).filter((x) => typeof x !== "function").map(show).join(" ")}}`;
    }
    const entries = Object.entries(v as object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([k, x]) => `${k}:${show(x)}`).join(" ")}]`;
  }
  return String(v);
}

class Scope {
  constructor(readonly vars: Map<string, Value>, readonly parent?: Scope) {}
  get(name: string): Value {
    if (this.vars.has(name)) return this.vars.get(name);
    if (this.parent) return this.parent.get(name);
    throw new Error(`undefined variable: ${name}`);
  }
  set(name: string, v: Value): void {
    if (this.vars.has(name) || !this.parent) this.vars.set(name, v);
    else this.parent.set(name, v);
  }
}

/**
 * Runs a template over `data`.
 *
 * @throws {TemplateError} `template: :LINE:COL: executing "" at <.Foo>: what`
 */
export function execute(template: Template, data: Value): string {
  const out: string[] = [];
  const root = new Scope(new Map([["$", data]]));
  const fail = (at: { pos: Pos; text: string }, what: string) =>
    new TemplateError(`template: :${at.pos.line}:${at.pos.col}: executing "" at <${at.text}>: ${what}`);

  const field = (value: Value, name: string, args: Value[], at: { pos: Pos; text: string }): Value => {
    if (value === null || value === undefined) {
      throw fail(at, `nil pointer evaluating interface {}.${name}`);
    }
    if (typeof value !== "object") throw fail(at, `can't evaluate field ${name} in type ${typeof value}`);
    const struct = STRUCT in (value as object);
    if (struct && !(name in (value as object))) {
      throw fail(at, `can't evaluate field ${name} in type ${(value as Record<symbol, string>)[STRUCT]}`);
    }
    const got = (value as Record<string, Value>)[name];
    if (typeof got === "function") return (got as Func).apply(value, args);
    if (args.length > 0) throw fail(at, `${name} has arguments but cannot be invoked as function`);
    return got;
  };

  const evalArg = (arg: Arg, dot: Value, scope: Scope, args: Value[] = []): Value => {
    if (arg.kind === "const") return arg.value;
    if (arg.kind === "func") return template.funcs[arg.name](...args);
    let value: Value;
    if (arg.base === "dot") value = dot;
    else if ("variable" in arg.base) {
      try {
        value = scope.get(arg.base.variable);
      } catch (e) {
        throw fail(arg, (e as Error).message);
      }
    } else value = evalPipe(arg.base.pipe, dot, scope);
    arg.path.forEach((name, n) => {
      value = field(value, name, n === arg.path.length - 1 ? args : [], arg);
    });
    if (arg.path.length === 0 && args.length > 0) {
      throw fail(arg, `can't give argument to non-function ${arg.text}`);
    }
    return value;
  };

  const evalPipe = (pipe: Pipe, dot: Value, scope: Scope): Value => {
    let piped: Value[] = [];
    let value: Value;
    for (const cmd of pipe.cmds) {
      const [head, ...rest] = cmd.args;
      const args = [...rest.map((a) => evalArg(a, dot, scope)), ...piped];
      try {
        value = evalArg(head, dot, scope, args);
      } catch (e) {
        if (e instanceof TemplateError) throw e;
        throw fail(
          head.kind === "const" ? pipe : head.kind === "func" ? { pos: head.pos, text: head.name } : head,
          `error calling: ${(e as Error).message}`,
        );
      }
      piped = [value];
    }
    if (pipe.vars.length === 1) {
      scope.set(pipe.vars[0], value);
    }
    return value;
  };

  const run = (nodes: Node[], dot: Value, scope: Scope): void => {
    for (const node of nodes) {
      if (node.kind === "text") out.push(node.text);
      else if (node.kind === "action") {
        const v = evalPipe(node.pipe, dot, scope);
        if (node.pipe.vars.length === 0) out.push(show(v));
      } else if (node.kind === "if" || node.kind === "with") {
        const inner = new Scope(new Map(), scope);
        const v = evalPipe(node.pipe, dot, inner);
        if (truth(v)) run(node.list, node.kind === "with" ? v : dot, inner);
        else run(node.otherwise, dot, inner);
      } else {
        const inner = new Scope(new Map(), scope);
        const pipe = { ...node.pipe, vars: [] };
        const v = evalPipe(pipe, dot, inner);
        const items: [Value, Value][] = Array.isArray(v)
          ? v.map((x, n) => [n, x])
          : v !== null && typeof v === "object"
          ? Object.entries(v as object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          : typeof v === "number"
          ? Array.from({ length: v }, (_, n) => [n, n])
          : v === undefined || v === null
          ? []
          : (() => {
            throw fail(node.pipe, `range can't iterate over ${show(v)}`);
          })();
        if (items.length === 0) run(node.otherwise, dot, inner);
        for (const [key, item] of items) {
          const each = new Scope(new Map(), inner);
          if (node.pipe.vars.length === 1) each.vars.set(node.pipe.vars[0], item);
          if (node.pipe.vars.length === 2) {
            each.vars.set(node.pipe.vars[0], key);
            each.vars.set(node.pipe.vars[1], item);
          }
          run(node.list, item, each);
        }
      }
    }
  };
  run(template.nodes, data, root);
  return out.join("");
}

// ---------------------------------------------------------------- functions

const compare = (name: string, test: (a: never, b: never) => boolean) => (a: Value, ...bs: Value[]) => {
  if (bs.length === 0) throw new Error(`missing argument for comparison`);
  for (const b of bs) {
    if (typeof a !== typeof b && !(a === null || b === null)) {
      throw new Error(`incompatible types for comparison`);
    }
  }
  return name === "eq" ? bs.some((b) => test(a as never, b as never)) : test(a as never, bs[0] as never);
};

/** Go's Sprintf for the verbs scripts use: %s %v %d %q %t %x, widths, %%. */
function sprintf(format: string, ...args: Value[]): string {
  let n = 0;
  return String(format).replace(/%([-0 ]?)(\d*)(?:\.(\d+))?([svdqtxf%])/g, (_, flag, width, prec, verb) => {
    if (verb === "%") return "%";
    const arg = args[n++];
    let s: string;
    if (arg === undefined && n > args.length) s = `%!${verb}(MISSING)`;
    else if (verb === "q") s = JSON.stringify(String(arg));
    else if (verb === "d") s = String(Math.trunc(Number(arg)));
    else if (verb === "x") {
      s = typeof arg === "number"
        ? arg.toString(16)
        : [...new TextEncoder().encode(String(arg))].map((b) => b.toString(16).padStart(2, "0")).join("");
    } else if (verb === "f") s = Number(arg).toFixed(prec === undefined ? 6 : Number(prec));
    else s = show(arg);
    if (prec !== undefined && verb === "s") s = s.slice(0, Number(prec));
    const w = Number(width || 0);
    return flag === "-" ? s.padEnd(w) : s.padStart(w, flag === "0" ? "0" : " ");
  });
}

/** Go's Sprint: a space between operands when neither is a string. */
function sprint(...args: Value[]): string {
  return args.map((a, i) =>
    (i > 0 && typeof a !== "string" && typeof args[i - 1] !== "string" ? " " : "") + show(a)
  ).join("");
}

/** Go's builtins and docker's template functions (templates.basicFunctions). */
export const FUNCS: Record<string, Func> = {
  and: (...args) => args.find((a) => !truth(a)) ?? args[args.length - 1],
  or: (...args) => args.find((a) => truth(a)) ?? args[args.length - 1],
  not: (a) => !truth(a),
  len: (a) => {
    if (typeof a === "string" || Array.isArray(a)) return a.length;
    if (a !== null && typeof a === "object") return Object.keys(a).length;
    throw new Error(`len of type ${typeof a}`);
  },
  index: (a, ...keys) =>
    keys.reduce((v, k) => {
      if (v === null || v === undefined) throw new Error("index of untyped nil");
      if (Array.isArray(v) || typeof v === "string") {
        if (typeof k !== "number" || k < 0 || k >= v.length) {
          throw new Error(`index out of range: ${show(k)}`);
        }
        return v[k];
      }
      // a missing key is the map's zero value: "" for docker's string maps (labels)
      return (v as Record<string, Value>)[String(k)] ?? "";
    }, a),
  eq: compare("eq", (a, b) => a === b),
  ne: compare("ne", (a, b) => a !== b),
  lt: compare("lt", (a, b) => a < b),
  le: compare("le", (a, b) => a <= b),
  gt: compare("gt", (a, b) => a > b),
  ge: compare("ge", (a, b) => a >= b),
  print: sprint,
  printf: (format, ...args) => sprintf(String(format), ...args),
  println: (...args) => `${args.map(show).join(" ")}\n`,
  // docker's: json without HTML escaping, as its encoder is set
  json: (v) => JSON.stringify(v === undefined ? null : v),
  join: (list, sep) => (Array.isArray(list) ? list.map(show).join(String(sep)) : show(list)),
  split: (s, sep) => String(s).split(String(sep)),
  lower: (s) => String(s).toLowerCase(),
  upper: (s) => String(s).toUpperCase(),
  title: (s) => String(s).replace(/(^|\s)(\S)/g, (_, a, b) => a + b.toUpperCase()),
  pad: (s, left, right) => `${" ".repeat(Number(left))}${show(s)}${" ".repeat(Number(right))}`,
  truncate: (s, n) => [...String(s)].slice(0, Number(n)).join(""),
};

/** docker's header functions: each gives back its argument, so `{{json .Labels}}` heads its column LABELS. */
const HEADER_FUNCS: Record<string, Func> = Object.fromEntries(
  Object.keys(FUNCS).map((name) => [name, (...args: Value[]) => (args.length > 0 ? args[0] : "")]),
);

/**
 * Prints items with a `--format` as docker does: `\t` and `\n` written
 * out become tabs and newlines; each item's result on a line of its own;
 * with the `table` prefix, a header row first (the template run over
 * `headers`, whose fields are the columns' titles) and the tab-separated
 * cells aligned as Go's tabwriter does with docker's settings (min width
 * 10, padding 3). `table` alone takes `defaultTable`.
 *
 * @throws {TemplateError} `template parsing error: template: :1:5: ...`, or an error while it runs
 */
export function formatItems(format: string, items: Value[], headers: Value, defaultTable: string): string {
  let text = format;
  const isTable = text.startsWith("table");
  if (isTable) text = text.slice("table".length);
  text = text.trim().replaceAll("\\t", "\t").replaceAll("\\n", "\n");
  if (isTable && text === "") text = defaultTable;
  let template: Template;
  try {
    template = parseTemplate(text);
  } catch (e) {
    if (e instanceof TemplateError) throw new TemplateError(`template parsing error: ${e.message}`);
    throw e;
  }
  const lines = items.map((item) => execute(template, item));
  if (!isTable) return lines.map((l) => `${l}\n`).join("");
  const head = execute({ ...template, funcs: HEADER_FUNCS }, headers);
  // cells escaped, as every table of skiff's: a container's values cannot drive the terminal
  const rows = [head, ...lines].join("\n").split("\n").map((l) => l.split("\t").map(escapeControls));
  return `${tabwrite(rows)}\n`;
}

/** Go's tabwriter with docker's settings: a cell ended by a tab pads to its column's widest plus 3, at least 10. */
function tabwrite(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) {
    r.slice(0, -1).forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 10, [...cell].length + 3)));
  }
  return rows.map((r) => r.map((cell, i) => (i < r.length - 1 ? cell.padEnd(widths[i]) : cell)).join(""))
    .join("\n");
}

/** A table's column titles as docker's header contexts give them: `{{.Label "k"}}` heads its column K. */
export function headerContext(titles: Record<string, string>): Value {
  return {
    ...titles,
    Label: (name: string) => name.split(".").pop()!.toUpperCase(),
  };
}
