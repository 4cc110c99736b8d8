/**
 * skiff's command line: the global options and dispatch to the verbs in
 * lib/cli/. No syscalls here.
 *
 * @example
 * ```sh
 * sudo deno task run --rm busybox echo hello
 * sudo deno task skiff ps -a
 * ```
 *
 * @module
 */

import { formatOptions, type OptionSpec, parseArgs } from "./lib/cli/args.ts";
import { CONTAINER_VERBS } from "./lib/cli/container.ts";
import { HELP, type Verb, verbHelp } from "./lib/cli/verb.ts";
import { describeError, UsageError } from "./lib/errors.ts";
import { EXIT_SKIFF, InitFailure } from "./lib/container/init.ts";
import { StartError } from "./lib/container/run.ts";
import { SUPERVISOR_ENV } from "./lib/container/inside.ts";
import { hostUid } from "./lib/host/proc.ts";
import { OUTER_ENV, runInUserNamespace } from "./lib/host/rootless.ts";
import { defaultRunRoot, defaultStoreRoot, Store } from "./lib/store/store.ts";
import { later } from "./lib/host/later.ts";

/**
 * The verbs. Started by lib/container/launcher.sh inside a container's
 * namespaces, the CLI only runs: the other groups' modules stay unloaded,
 * since every module is start-up time on the path of `run`.
 */
const VERBS: Record<string, Verb> = Deno.env.get(SUPERVISOR_ENV) ? { ...CONTAINER_VERBS } : {
  ...CONTAINER_VERBS,
  ...(await later<typeof import("./lib/cli/image.ts")>("./lib/cli/image.ts", import.meta.url)).IMAGE_VERBS,
  ...(await later<typeof import("./lib/cli/registry.ts")>("./lib/cli/registry.ts", import.meta.url))
    .REGISTRY_VERBS,
  ...(await later<typeof import("./lib/cli/volume.ts")>("./lib/cli/volume.ts", import.meta.url)).VOLUME_VERBS,
  ...(await later<typeof import("./lib/cli/network.ts")>("./lib/cli/network.ts", import.meta.url))
    .NETWORK_VERBS,
  ...(await later<typeof import("./lib/cli/build.ts")>("./lib/cli/build.ts", import.meta.url)).BUILD_VERBS,
  ...(await later<typeof import("./lib/cli/system.ts")>("./lib/cli/system.ts", import.meta.url)).SYSTEM_VERBS,
};

const GLOBAL: OptionSpec[] = [
  {
    long: "root",
    kind: "value",
    arg: "DIR",
    help: "The store (default: $SKIFF_ROOT, else /var/lib/skiff; rootless: ~/.local/share/skiff)",
  },
  {
    long: "runroot",
    kind: "value",
    arg: "DIR",
    help:
      "Running containers' state (default: in --root's store, else /run/skiff; rootless: $XDG_RUNTIME_DIR/skiff)",
  },
  HELP,
];

function mainHelp(): string {
  const width = Math.max(...Object.keys(VERBS).map((v) => v.length));
  return [
    "Usage: skiff [--root DIR] [--runroot DIR] COMMAND [OPTIONS] [ARGS]",
    "",
    "A small container toolkit: images, overlay filesystems, namespaces.",
    "",
    "Commands:",
    ...Object.entries(VERBS).map(([name, v]) => `  ${name.padEnd(width)}  ${v.summary}`),
    "",
    "Global options:",
    formatOptions(GLOBAL),
    "",
    'Run "skiff COMMAND --help" for a command\'s options.',
  ].join("\n");
}

/**
 * Runs skiff with `argv` (without the program name).
 *
 * @returns the exit code: the container's for `run`, 125 when skiff fails
 */
export async function main(argv: string[]): Promise<number> {
  try {
    const global = parseArgs(argv, GLOBAL, "skiff", true);
    const [name, ...rest] = global.positionals;
    if (name === undefined || global.options.help) {
      console.log(mainHelp());
      return name === undefined && !global.options.help ? EXIT_SKIFF : 0;
    }
    const verb = VERBS[name];
    if (!verb) throw new UsageError(`Unknown command "${name}"; see "skiff --help"`);
    const parsed = parseArgs(rest, verb.options, `skiff ${name}`, verb.stopAtPositional);
    if (parsed.options.help) {
      console.log(verbHelp(verb));
      return 0;
    }
    const n = parsed.positionals.length;
    if (n < verb.args.min || (verb.args.max !== undefined && n > verb.args.max)) {
      throw new UsageError(
        `"skiff ${name}" takes ${verb.usage.replace(/^\S+\s*/, "")}; see "skiff ${name} --help"`,
      );
    }
    const flags = global.options as { root?: string; runroot?: string };
    // An empty --root or --runroot is unset, as an empty $SKIFF_ROOT is.
    // Root of a rootless user's namespace (a run the launcher started) is
    // that user, with the user's store.
    const uid = hostUid();
    const root = defaultStoreRoot(flags.root || undefined, uid);
    const store = new Store(root, flags.runroot || defaultRunRoot(root, uid));
    // An ordinary user's skiff runs again as root of a user namespace;
    // exec enters the container's own from here (see lib/rootless.ts).
    if (Deno.uid() !== 0 && !verb.outsideUserNamespace) {
      const where = ["--root", store.root, "--runroot", store.runRoot];
      return await runInUserNamespace(new URL(import.meta.url).pathname, [...where, name, ...rest]);
    }
    const outer = Deno.env.get(OUTER_ENV);
    if (outer !== undefined && Deno.ppid !== Number(outer)) return EXIT_SKIFF; // it died before we armed
    return await verb.action(store, parsed);
  } catch (e) {
    console.error(`skiff: ${describeError(e)}`);
    if (Deno.env.get("SKIFF_DEBUG")) console.error(e);
    return e instanceof StartError || e instanceof InitFailure ? e.exitCode : EXIT_SKIFF;
  }
}

/**
 * The arguments lib/container/launcher.sh passed in the environment
 * (`SKIFF_ARGC`, `SKIFF_ARG_0`…), taken out of it; else Deno's.
 */
function launchedArgs(): string[] {
  const count = Deno.env.get("SKIFF_ARGC");
  if (count === undefined) return Deno.args;
  Deno.env.delete("SKIFF_ARGC");
  return Array.from({ length: Number(count) }, (_, i) => {
    const arg = Deno.env.get(`SKIFF_ARG_${i}`) ?? "";
    Deno.env.delete(`SKIFF_ARG_${i}`);
    return arg;
  });
}

if (import.meta.main) Deno.exit(await main(launchedArgs()));
