/**
 * Command-line parsing for skiff's verbs, docker-style: `--name x`,
 * `--name=x`, `-e K=V`, `-eK=V`, grouped flags (`-it`, `-ite K=V`), `--`.
 * With `stopAtPositional`, options end at the first positional, so in
 * `run busybox ls -l` the `-l` belongs to ls.
 *
 * Why not a library: on this project's machines any `npm:` import adds
 * 45-65 ms to Deno's start-up and `node:util` 16 ms (measured, README), and
 * this parser runs on the path of every `run`.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** One option a verb accepts. */
export interface OptionSpec {
  /** The long name without dashes; also the key in {@link Parsed.options}. */
  long: string;
  short?: string;
  /** A boolean flag, one value, or a value that may repeat. */
  kind: "flag" | "value" | "list";
  /** The value's placeholder and what the option does, for --help. */
  arg?: string;
  help: string;
}

/** What {@link parseArgs} found. */
export interface Parsed {
  options: Record<string, boolean | string | string[] | undefined>;
  positionals: string[];
}

/**
 * Parses `argv` against `specs`.
 *
 * @param command the verb, for error messages (`skiff run`)
 * @throws {UsageError} on an unknown option or a missing value
 */
export function parseArgs(
  argv: string[],
  specs: OptionSpec[],
  command: string,
  stopAtPositional = false,
): Parsed {
  const options: Parsed["options"] = {};
  const positionals: string[] = [];
  const unknown = (arg: string) =>
    new UsageError(`Unknown option "${arg}" for "${command}"; see "${command} --help"`);
  const set = (spec: OptionSpec, value: string | undefined, arg: string) => {
    if (spec.kind === "flag") {
      if (value !== undefined) throw new UsageError(`Option "${arg}" of "${command}" takes no value`);
      options[spec.long] = true;
      return;
    }
    if (value === undefined) {
      throw new UsageError(`Option "${arg}" of "${command}" needs a value: ${spec.arg ?? "VALUE"}`);
    }
    if (spec.kind === "list") {
      options[spec.long] = [...((options[spec.long] as string[] | undefined) ?? []), value];
    } else options[spec.long] = value;
  };

  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      i++;
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const spec = specs.find((s) => s.long === name);
      if (!spec) throw unknown(arg);
      let value = eq === -1 ? undefined : arg.slice(eq + 1);
      if (value === undefined && spec.kind !== "flag" && i + 1 < argv.length) value = argv[++i];
      set(spec, value, `--${name}`);
    } else if (arg.startsWith("-") && arg !== "-") {
      // grouped short options: every one a flag but perhaps the last
      for (let j = 1; j < arg.length; j++) {
        const spec = specs.find((s) => s.short === arg[j]);
        if (!spec) throw unknown(`-${arg[j]}`);
        if (spec.kind === "flag") {
          set(spec, undefined, `-${arg[j]}`);
          continue;
        }
        let value: string | undefined = arg.slice(j + 1).replace(/^=/, "");
        if (value === "") value = i + 1 < argv.length ? argv[++i] : undefined;
        set(spec, value, `-${arg[j]}`);
        break;
      }
    } else {
      positionals.push(arg);
      if (stopAtPositional) {
        i++;
        break;
      }
    }
  }
  positionals.push(...argv.slice(i));
  return { options, positionals };
}

/** The options part of a verb's --help text, one aligned line each. */
export function formatOptions(specs: OptionSpec[]): string {
  const left = specs.map((s) =>
    `${s.short ? `-${s.short}, ` : "    "}--${s.long}${s.kind === "flag" ? "" : ` ${s.arg ?? "VALUE"}`}`
  );
  const width = Math.max(...left.map((l) => l.length));
  return specs.map((s, i) => `  ${left[i].padEnd(width)}  ${s.help}`).join("\n");
}
