/**
 * `--filter KEY=VALUE`, as docker reads it for `ps` and `images`: values
 * of one key are alternatives (any may match), different keys must all
 * match, and an unknown key is docker's `invalid filter 'KEY'`.
 *
 * @module
 */

import { type ContainerRecord, findContainer, type Status } from "./containers.ts";
import { UsageError } from "../errors.ts";

/** Each key's values. */
export type Filters = Map<string, string[]>;

/**
 * Parses `--filter` values.
 *
 * @param valid the keys the command knows
 * @throws {UsageError} `bad format of filter (expected name=value)`, `invalid filter 'KEY'`
 */
export function parseFilters(args: string[], valid: readonly string[]): Filters {
  const filters: Filters = new Map();
  for (const arg of args) {
    const eq = arg.indexOf("=");
    if (eq <= 0) throw new UsageError("bad format of filter (expected name=value)");
    const key = arg.slice(0, eq).trim().toLowerCase();
    if (!valid.includes(key)) throw new UsageError(`invalid filter '${key}'`);
    filters.set(key, [...(filters.get(key) ?? []), arg.slice(eq + 1)]);
  }
  return filters;
}

/** ps's filter keys. */
export const PS_FILTERS = [
  "id",
  "name",
  "label",
  "status",
  "exited",
  "ancestor",
  "before",
  "since",
  "volume",
] as const;

/** docker's container states, as `status=` takes them. */
const STATES = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];

/** `label=KEY` (set) or `label=KEY=VALUE` (set to that), against labels. */
export function labelsMatch(labels: Record<string, string> | undefined, wanted: string[]): boolean {
  return wanted.every((w) => {
    const eq = w.indexOf("=");
    const key = eq === -1 ? w : w.slice(0, eq);
    return labels !== undefined && key in labels && (eq === -1 || labels[key] === w.slice(eq + 1));
  });
}

/** docker's filters.Match: a value is a regular expression the text must contain a match of. */
function matchesAny(text: string, patterns: string[]): boolean {
  return patterns.some((p) => {
    try {
      return new RegExp(p).test(text);
    } catch {
      return text === p;
    }
  });
}

/**
 * A predicate over containers for ps's filters.
 *
 * @param records every container (`before` and `since` name one of them)
 * @param ancestorIds the image ids each `ancestor` value resolves to (an image's name, id or id prefix)
 * @throws {UsageError} `invalid filter 'status=X'`, `invalid filter 'exited=X'`
 * @throws {NotFoundError} when `before` or `since` names no container
 */
export function containerFilter(
  filters: Filters,
  records: ContainerRecord[],
  ancestorIds: Map<string, string | null>,
): (r: ContainerRecord) => boolean {
  const status = filters.get("status") ?? [];
  for (const s of status) if (!STATES.includes(s)) throw new UsageError(`invalid filter 'status=${s}'`);
  const exited = (filters.get("exited") ?? []).map((e) => {
    if (!/^-?[0-9]+$/.test(e)) throw new UsageError(`invalid filter 'exited=${e}'`);
    return Number(e);
  });
  const created = (key: string) =>
    (filters.get(key) ?? []).map((ref) => Date.parse(findContainer(records, ref).created));
  const [before, since] = [created("before"), created("since")];
  const has = (key: string) => filters.has(key);
  const state = (r: ContainerRecord): Status => r.status;
  return (r) =>
    (!has("id") || matchesAny(r.id, filters.get("id")!)) &&
    (!has("name") || matchesAny(`/${r.name}`, filters.get("name")!)) &&
    (!has("label") || labelsMatch(r.labels, filters.get("label")!)) &&
    (status.length === 0 || status.includes(state(r))) &&
    (exited.length === 0 || (r.status === "exited" && exited.includes(r.exitCode ?? -1))) &&
    (!has("ancestor") ||
      filters.get("ancestor")!.some((a) => r.image === a || ancestorIds.get(a) === r.imageId)) &&
    before.every((t) => Date.parse(r.created) < t) &&
    since.every((t) => Date.parse(r.created) > t) &&
    (!has("volume") ||
      filters.get("volume")!.some((v) =>
        r.mounts.some((m) => m.name === v || m.source === v || m.destination === v)
      ));
}

/** images' filter keys. */
export const IMAGE_FILTERS = ["dangling", "reference", "label", "before", "since"] as const;

/**
 * Go's path.Match, as docker's `reference=` uses it: `*` any run of
 * characters but `/`, `?` one, `[...]` a class.
 */
export function pathMatch(pattern: string, text: string): boolean {
  const re = pattern.replace(/[.+^${}()|\\]/g, "\\$&").replaceAll("*", "[^/]*").replaceAll("?", "[^/]");
  try {
    return new RegExp(`^${re}$`).test(text);
  } catch {
    return false;
  }
}
