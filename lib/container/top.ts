/**
 * `top`: the host's `ps` over a container's processes, as docker does it:
 * ps runs on the host with the user's options (`-ef` unless given), for
 * the container's pids, and only their rows are kept.
 *
 * @module
 */

import { findContainer, listContainers } from "./containers.ts";
import { InvalidStateError } from "../errors.ts";
import { processesInPidNamespace } from "../host/proc.ts";
import { runHelper } from "../host/spawn.ts";
import { pid1Of } from "./lifecycle.ts";
import type { Store } from "../store/store.ts";

/** What `top` shows: ps's column titles, and one row per process. */
export interface Top {
  titles: string[];
  processes: string[][];
}

/** ps's options when none are given: docker's default. */
export const DEFAULT_PS_ARGS = ["-ef"];

/**
 * ps's output, keeping the rows of `pids`, as docker's parsePSOutput does:
 * the PID column found by its title, fields split on blanks, the last
 * title taking the rest of the line (a command with its arguments). A
 * thread row (`-` as PID, with `-L` or `m`) goes with the process above.
 *
 * @throws {Error} when there is no PID column, or a PID that is not a number
 */
export function parsePsOutput(output: string, pids: number[]): Top {
  const lines = output.split("\n");
  const titles = lines[0].trim().split(/\s+/).filter((t) => t !== "");
  const at = titles.indexOf("PID");
  if (at === -1) throw new Error("Couldn't find PID field in ps output");
  const wanted = new Set(pids);
  const processes: string[][] = [];
  let previousKept = false;
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/).filter((f) => f !== "");
    if (fields.length === 0) continue;
    const row = [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(" ")];
    if (fields[at] === "-") {
      if (previousKept) processes.push(row);
      continue;
    }
    if (!/^\d+$/.test(fields[at] ?? "")) throw new Error(`Unexpected pid "${fields[at]}" in ps output`);
    previousKept = wanted.has(Number(fields[at]));
    if (previousKept) processes.push(row);
  }
  return { titles, processes };
}

/**
 * Runs the host's ps over a running container's processes.
 *
 * @param psArgs ps's options, `-ef` unless given
 * @throws {InvalidStateError} when the container is not running
 * @throws {Error} `Error running ps: …` when ps refuses its options
 */
export async function containerTop(store: Store, ref: string, psArgs = DEFAULT_PS_ARGS): Promise<Top> {
  const record = findContainer(await listContainers(store), ref);
  const pid1 = pid1Of(record);
  if (pid1 === undefined) throw new InvalidStateError(`Container "${ref}" is not running`);
  const pids = processesInPidNamespace(pid1);
  const ps = (args: string[]) => runHelper("ps", args, "Error running ps", { stdout: true });
  let out: Uint8Array;
  try {
    // Only the container's rows, as docker asks; some options (the forest
    // ones) refuse -q, so then all of ps's and the filter does the rest.
    out = await ps([...psArgs, "-q", pids.join(",")]);
  } catch {
    out = await ps(psArgs);
  }
  return parsePsOutput(new TextDecoder().decode(out), pids);
}
