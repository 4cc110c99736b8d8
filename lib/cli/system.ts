/**
 * `system df` and `system prune`: the store's use, as docker's table
 * shows it, and every prune in one, reusing each (lib/container/prune.ts,
 * lib/image/prune.ts).
 *
 * @module
 */

import { isRunning, listContainers } from "../container/containers.ts";
import { pruneContainers, pruneVolumes, treeSize } from "../container/prune.ts";
import { containersUsing, listVolumes } from "../container/volumes.ts";
import { listImages } from "../image/images.ts";
import { UsageError } from "../errors.ts";
import type { Store } from "../store/store.ts";
import { humanSize } from "./format.ts";
import { imagePruneLines } from "./image.ts";
import { formatItems, headerContext, STRUCT } from "./template.ts";
import { confirmPrune, HELP, PRUNES, type Verb } from "./verb.ts";
import { later } from "../host/later.ts";

/** One row of `system df`. */
interface Usage {
  type: string;
  total: number;
  active: number;
  size: number;
  reclaimable: number;
}

/** docker's DiskUsageContext: RECLAIMABLE with its share of SIZE, `(N%)` cut down to a whole number. */
function usageContext(u: Usage) {
  const share = u.size > 0 ? ` (${Math.floor((u.reclaimable * 100) / u.size)}%)` : "";
  return {
    [STRUCT]: "*formatter.diskUsageImagesContext",
    Type: u.type,
    TotalCount: String(u.total),
    Active: String(u.active),
    Size: humanSize(u.size, 4),
    Reclaimable: `${humanSize(u.reclaimable, 4)}${u.type === "Build Cache" ? "" : share}`,
  };
}

const DF_HEADERS = headerContext({
  Type: "TYPE",
  TotalCount: "TOTAL",
  Active: "ACTIVE",
  Size: "SIZE",
  Reclaimable: "RECLAIMABLE",
});

/**
 * What the store holds: images (each layer counted once; reclaimable:
 * the layers only images no container uses have), containers' writable
 * layers (reclaimable: those not running), volumes (reclaimable: those no
 * container uses), and build cache, which skiff keeps as images.
 */
export async function diskUsage(store: Store): Promise<Usage[]> {
  const records = await listContainers(store);
  const images = await listImages(store);
  const usedIds = new Set(records.map((r) => r.imageId));
  const layerSize = new Map<string, number>();
  const neededLayers = new Set<string>();
  for (const image of images) {
    for (const d of image.config.rootfs.diff_ids.map((d) => d.replace(/^sha256:/, ""))) {
      if (!layerSize.has(d)) layerSize.set(d, treeSize(store.layer(d)));
      if (usedIds.has(image.id)) neededLayers.add(d);
    }
  }
  const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);
  const activeImages = new Set(images.filter((i) => usedIds.has(i.id)).map((i) => i.id));
  const rw = records.map((r) => ({ r, size: treeSize(`${store.container(r.id)}/upper`) }));
  const volumes = (await listVolumes(store)).map((v) => ({
    used: containersUsing(records, v.Name).length > 0,
    size: treeSize(v.Mountpoint),
  }));
  return [
    {
      type: "Images",
      total: new Set(images.map((i) => i.id)).size,
      active: activeImages.size,
      size: sum(layerSize.values()),
      reclaimable: sum([...layerSize].filter(([d]) => !neededLayers.has(d)).map(([, n]) => n)),
    },
    {
      type: "Containers",
      total: records.length,
      active: records.filter(isRunning).length,
      size: sum(rw.map((c) => c.size)),
      reclaimable: sum(rw.filter((c) => !isRunning(c.r)).map((c) => c.size)),
    },
    {
      type: "Local Volumes",
      total: volumes.length,
      active: volumes.filter((v) => v.used).length,
      size: sum(volumes.map((v) => v.size)),
      reclaimable: sum(volumes.filter((v) => !v.used).map((v) => v.size)),
    },
    { type: "Build Cache", total: 0, active: 0, size: 0, reclaimable: 0 },
  ];
}

/** docker's system prune warning, by what it will remove. */
function pruneWarning(all: boolean, volumes: boolean): string {
  return [
    "This will remove:",
    "  - all stopped containers",
    ...(volumes ? ["  - all volumes not used by at least one container"] : []),
    all ? "  - all images without at least one container associated to them" : "  - all dangling images",
    all ? "  - all build cache" : "  - unused build cache",
    "",
  ].join("\n");
}

const system: Verb = {
  usage: "system df [--format TEMPLATE] | system prune [-a] [--volumes] [-f]",
  summary: "system df: what images, containers and volumes take; system prune: every prune at once",
  args: { min: 1, max: 1 },
  options: [
    {
      long: "all",
      short: "a",
      kind: "flag",
      help: "prune: every image no container uses, not only dangling ones",
    },
    { long: "volumes", kind: "flag", help: "prune: volumes no container uses too" },
    { long: "force", short: "f", kind: "flag", help: "prune: do not ask for confirmation" },
    { long: "format", kind: "value", arg: "TEMPLATE", help: "df: a Go template (table TEMPLATE: columns)" },
    HELP,
  ],
  async action(store, { options: o, positionals: [sub] }) {
    if (sub === "df") {
      const rows = (await diskUsage(store)).map(usageContext);
      const format = o.format === undefined ? "table" : String(o.format);
      const text = formatItems(
        format,
        rows,
        DF_HEADERS,
        "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
      );
      Deno.stdout.writeSync(new TextEncoder().encode(text));
      return 0;
    }
    if (sub !== "prune") throw new UsageError(`Unknown system command "${sub}"; use df or prune`);
    const all = Boolean(o.all);
    if (!(await confirmPrune("system prune", pruneWarning(all, Boolean(o.volumes)), Boolean(o.force)))) {
      return 0;
    }
    const { pruneImages } = await later<typeof import("../image/prune.ts")>(
      "../image/prune.ts",
      import.meta.url,
    );
    const out: string[] = [];
    let bytes = 0;
    const section = (title: string, removed: string[]) => {
      if (removed.length > 0) out.push(`${title}:`, ...removed, "");
    };
    const containers = await pruneContainers(store);
    section(PRUNES.container.title, containers.removed);
    bytes += containers.bytes;
    if (o.volumes) {
      const volumes = await pruneVolumes(store);
      section(PRUNES.volume.title, volumes.removed);
      bytes += volumes.bytes;
    }
    const images = await pruneImages(store, { all });
    out.push(...imagePruneLines(images));
    bytes += images.reclaimed;
    console.log([...out, `Total reclaimed space: ${humanSize(bytes, 4)}`].join("\n"));
    return 0;
  },
};

/** The system verbs. */
export const SYSTEM_VERBS: Record<string, Verb> = { system };
