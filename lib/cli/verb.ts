/**
 * What every verb of the command line is made of: its usage, summary and
 * options next to its action (as bocker keeps a verb's help beside its
 * code), and the options and helpers several verbs share.
 *
 * @module
 */

import { formatOptions, type OptionSpec, type Parsed } from "./args.ts";
import { describeError, UsageError } from "../errors.ts";
import { humanSize } from "./format.ts";
import type { Store } from "../store/store.ts";
import { later } from "../host/later.ts";

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

/**
 * A prune's confirmation, as docker asks it: `-f` skips it, a terminal is
 * asked (y or yes goes on), and without a terminal nobody can answer, so
 * it is refused rather than taken for a no.
 *
 * @param warning what will go, as docker says it: `This will remove all stopped containers.`
 * @returns whether to go on
 * @throws {UsageError} without `-f` when stdin is not a terminal
 */
export async function confirmPrune(command: string, warning: string, force: boolean): Promise<boolean> {
  if (force) return true;
  if (!Deno.stdin.isTerminal()) {
    throw new UsageError(
      `"skiff ${command}" asks before it removes anything, and stdin is not a terminal: use -f to prune without asking`,
    );
  }
  Deno.stdout.writeSync(
    new TextEncoder().encode(`WARNING! ${warning}\nAre you sure you want to continue? [y/N] `),
  );
  const line = new Uint8Array(1024);
  const n = await Deno.stdin.read(line);
  const answer = new TextDecoder().decode(line.subarray(0, n ?? 0)).trim().toLowerCase();
  return answer === "y" || answer === "yes";
}

/** What docker says before and after each prune. */
export const PRUNES = {
  container: { warning: "This will remove all stopped containers.", title: "Deleted Containers" },
  volume: {
    warning: "This will remove all local volumes not used by at least one container.",
    title: "Deleted Volumes",
  },
};

/**
 * `container prune` and `volume prune`: asked first (see confirmPrune),
 * then what went printed as docker prints it: `Deleted Containers:`, one
 * a line, a blank line, and the total.
 */
export async function prune(store: Store, kind: keyof typeof PRUNES, force: boolean): Promise<number> {
  const { warning, title } = PRUNES[kind];
  if (!(await confirmPrune(`${kind} prune`, warning, force))) return 0;
  const { pruneContainers, pruneVolumes } = await later<typeof import("../container/prune.ts")>(
    "../container/prune.ts",
    import.meta.url,
  );
  const { removed, bytes } = await (kind === "container" ? pruneContainers : pruneVolumes)(store);
  const list = removed.length > 0 ? `${title}:\n${removed.join("\n")}\n\n` : "";
  console.log(`${list}Total reclaimed space: ${humanSize(bytes, 4)}`);
  return 0;
}

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
/** `-u`/`--user`: run's and exec's user. */
export const USER: OptionSpec = {
  long: "user",
  short: "u",
  kind: "value",
  arg: "USER[:GROUP]",
  help: "Run as this user: a name or uid, and a group (the image's USER by default)",
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

/**
 * A number of seconds a flag gives (stop's `-t`, run's `--stop-timeout`),
 * or a one-line error naming the flag and the value.
 */
export function seconds(flag: string, value: Parsed["options"][string]): number {
  const n = Number(value);
  if (typeof value !== "string" || value.trim() === "" || !(n >= 0)) {
    throw new UsageError(`Invalid ${flag} "${value}": use a number of seconds`);
  }
  return n;
}

/** A verb's `--help`. */
export function verbHelp(verb: Verb): string {
  return [`Usage: skiff ${verb.usage}`, "", verb.summary, "", "Options:", formatOptions(verb.options)].join(
    "\n",
  );
}
