/**
 * The build verb: `skiff build`, a Dockerfile into an image (lib/build/).
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { HELP, type Verb } from "./verb.ts";
import { later } from "../host/later.ts";

const build: Verb = {
  usage: "build [OPTIONS] CONTEXT",
  summary: "Build an image from a Dockerfile, with a layer cache",
  args: { min: 1, max: 1 },
  options: [
    { long: "tag", short: "t", kind: "list", arg: "NAME[:TAG]", help: "Name the image (repeatable)" },
    {
      long: "file",
      short: "f",
      kind: "value",
      arg: "FILE",
      help: "The Dockerfile (default: CONTEXT/Dockerfile, else CONTEXT/Containerfile; - reads stdin)",
    },
    {
      long: "build-arg",
      kind: "list",
      arg: "KEY[=VALUE]",
      help: "Set an ARG (KEY alone: from the environment)",
    },
    { long: "target", kind: "value", arg: "STAGE", help: "Stop at this stage" },
    { long: "no-cache", kind: "flag", help: "Run every step again, without the layer cache" },
    { long: "pull", kind: "flag", help: "Pull FROM images even when they are stored" },
    {
      long: "network",
      kind: "value",
      arg: "MODE",
      help: "RUN's network, as run's --network: none, host, bridge or a network's name (default: run's)",
    },
    { long: "quiet", short: "q", kind: "flag", help: "Print only the image id" },
    HELP,
  ],
  async action(store, { options: o, positionals: [context] }) {
    const { buildImage, StepError } = await later<typeof import("../build/builder.ts")>(
      "../build/builder.ts",
      import.meta.url,
    );
    const network = o.network as string | undefined;
    const buildArgs: Record<string, string> = {};
    for (const arg of (o["build-arg"] as string[] | undefined) ?? []) {
      const eq = arg.indexOf("=");
      if (eq === 0) throw new UsageError(`Invalid --build-arg "${arg}": use KEY=VALUE`);
      if (eq > 0) buildArgs[arg.slice(0, eq)] = arg.slice(eq + 1);
      else {
        const value = Deno.env.get(arg);
        if (value !== undefined) buildArgs[arg] = value;
      }
    }
    const file = o.file as string | undefined;
    const quiet = o.quiet === true;
    try {
      const image = await buildImage(store, {
        context,
        ...(file === "-" ? { text: await new Response(Deno.stdin.readable).text() } : { file }),
        tags: o.tag as string[] | undefined,
        buildArgs,
        target: o.target as string | undefined,
        noCache: o["no-cache"] === true,
        pull: o.pull === true,
        network,
        print: quiet ? undefined : (line) => console.log(line),
      });
      console.log(image.id);
      return 0;
    } catch (e) {
      if (!(e instanceof StepError)) throw e;
      console.error(`skiff: ${e.message}`);
      return 1; // as docker's build when a step fails
    }
  },
};

/** The build verb, by name. */
export const BUILD_VERBS: Record<string, Verb> = { build };
