/**
 * `create`: docker's first half of `run`, a container's record and its
 * writable layer (and its volumes, made ready), with no process until
 * `start` claims it (lib/container/inside.ts, startInside). The record is
 * `created`, with no owner, and marked `ready`: the sweep that removes a
 * half-made container whose maker died keeps it.
 *
 * @module
 */

import { createContainer, removeContainer, updateContainer } from "./containers.ts";
import { planContainer, type RunOptions, validateRunOptions } from "./run.ts";
import { resolveImage } from "./resolve_image.ts";
import { prepareMounts } from "./volumes.ts";
import type { Store } from "../store/store.ts";

/**
 * Creates a container as `run -d` would, without starting it.
 *
 * @returns its id
 * @throws {UsageError} for bad options (a terminal, -i), before anything is made
 */
export async function createOnly(store: Store, opts: RunOptions): Promise<string> {
  // what a start takes is what a detached run takes
  validateRunOptions(opts, true);
  await store.init();
  const image = await resolveImage(store, opts.image, opts.pull);
  const { fields } = planContainer(image, opts);
  const record = await createContainer(store, fields);
  try {
    const mounts = opts.mounts?.length ? await prepareMounts(store, opts.mounts) : [];
    await updateContainer(store, record.id, { mounts, ready: true, owner: undefined });
  } catch (e) {
    await removeContainer(store, record.id, true).catch(() => {});
    throw e;
  }
  return record.id;
}
