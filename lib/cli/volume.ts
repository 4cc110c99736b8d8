/**
 * The volume verbs: volume create, ls, inspect and rm.
 *
 * @module
 */

import { createVolume, inspectVolume, listVolumes, removeVolume } from "../container/volumes.ts";
import { UsageError } from "../errors.ts";
import { table } from "./format.ts";
import { forEachName, HELP, prune, type Verb } from "./verb.ts";
import { later } from "../host/later.ts";

const volume: Verb = {
  usage: "volume create|ls|inspect|rm|prune [-f] [--format TEMPLATE] [NAME...]",
  summary: "Manage named volumes",
  args: { min: 1 },
  options: [
    {
      long: "force",
      short: "f",
      kind: "flag",
      help: "rm: even if stopped containers use it; prune: do not ask",
    },
    { long: "format", kind: "value", arg: "TEMPLATE", help: "ls: a Go template (table TEMPLATE: columns)" },
    HELP,
  ],
  async action(store, { options: o, positionals: [sub, ...names] }) {
    const needNames = () => {
      if (names.length === 0) throw new UsageError(`"skiff volume ${sub}" needs a volume name`);
    };
    switch (sub) {
      case "create":
        needNames();
        for (const name of names) console.log((await createVolume(store, name)).Name);
        return 0;
      case "ls": {
        if (o.format !== undefined) {
          const c = await later<typeof import("./contexts.ts")>("./contexts.ts", import.meta.url);
          const items = (await listVolumes(store)).map(c.volumeContext);
          c.printFormatted(String(o.format), items, c.VOLUME_HEADERS, c.VOLUMES_TABLE);
          return 0;
        }
        const rows = (await listVolumes(store)).map((v) => [v.Driver, v.Name]);
        console.log(table(["DRIVER", "VOLUME NAME"], rows));
        return 0;
      }
      case "inspect":
        needNames();
        console.log(JSON.stringify(await Promise.all(names.map((n) => inspectVolume(store, n))), null, 2));
        return 0;
      case "rm":
        needNames();
        return await forEachName(names, (name) => removeVolume(store, name, Boolean(o.force)));
      case "prune": {
        if (names.length > 0) throw new UsageError('"skiff volume prune" takes no volume name');
        return await prune(store, "volume", Boolean(o.force));
      }
      default:
        throw new UsageError(`Unknown volume command "${sub}"; use create, ls, inspect, rm or prune`);
    }
  },
};

/** The volume verbs. */
export const VOLUME_VERBS: Record<string, Verb> = { volume };
