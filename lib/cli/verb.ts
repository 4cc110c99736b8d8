/**
 * What every verb of the command line is made of: its usage, summary and
 * options next to its action (as bocker keeps a verb's help beside its
 * code), and the options and helpers several verbs share.
 *
 * @module
 */

import { formatOptions, type OptionSpec, type Parsed } from "./args.ts";
import { describeError, UsageError } from "../errors.ts";
import type { Store } from "../store/store.ts";

/** A verb: its help next to its code, as bocker keeps them. */
export interface Verb {
  usage: string;
  summary: string;
  options: OptionSpec[];
  /** Options end at the first positional (run's command keeps its own). */
  stopAtPositional?: boolean;
  /** How many positionals: at least `min`, at most `max`. */
  args: { min: number; max?: number };
  /** Runs in the caller's own user namespace, even rootless (exec enters the container's). */
  outsideUserNamespace?: boolean;
  action(store: Store, parsed: Parsed): Promise<number>;
}

export const HELP: OptionSpec = { long: "help", short: "h", kind: "flag", help: "Show this help" };

/** stop's and restart's `-t`. */
export const STOP_TIME: OptionSpec = {
  long: "time",
  short: "t",
  kind: "value",
  arg: "SECONDS",
  help: "Seconds before SIGKILL",
};

/** Options `run` and `exec` share. */
export const INTERACTIVE: OptionSpec = {
  long: "interactive",
  short: "i",
  kind: "flag",
  help: "Keep stdin open",
};
export const TTY: OptionSpec = {
  long: "tty",
  short: "t",
  kind: "flag",
  help: "Give the command the terminal",
};
export const ENV: OptionSpec = {
  long: "env",
  short: "e",
  kind: "list",
  arg: "KEY=VALUE",
  help: "Set an environment variable (repeatable)",
};
export const WORKDIR: OptionSpec = {
  long: "workdir",
  short: "w",
  kind: "value",
  arg: "DIR",
  help: "Working directory inside the container",
};

/**
 * Applies `fn` to each name, printing the name when it succeeds (or what
 * `show` makes of its result: wait prints exit codes) and the error when
 * not, as docker's rm does; 1 when any failed.
 */
export async function forEachName<T>(
  names: string[],
  fn: (name: string) => Promise<T>,
  show: (name: string, result: T) => string = (name) => name,
): Promise<number> {
  let failed = 0;
  for (const name of names) {
    try {
      console.log(show(name, await fn(name)));
    } catch (e) {
      console.error(`skiff: ${describeError(e)}`);
      failed++;
    }
  }
  return failed === 0 ? 0 : 1;
}

/** stop's and restart's `-t`: seconds before SIGKILL, 10 unless given. */
export function stopTimeout(value: Parsed["options"][string]): number {
  const timeout = value === undefined ? 10 : Number(value);
  if (!(timeout >= 0)) throw new UsageError(`Invalid -t "${value}": use a number of seconds`);
  return timeout;
}

/** A verb's `--help`. */
export function verbHelp(verb: Verb): string {
  return [`Usage: skiff ${verb.usage}`, "", verb.summary, "", "Options:", formatOptions(verb.options)].join(
    "\n",
  );
}
