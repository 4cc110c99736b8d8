/**
 * The image verbs: images, import, save, load, rmi and image prune.
 *
 * @module
 */

import { NotFoundError, UsageError } from "../errors.ts";
import { ellipsis, humanSize, table, timeAgo } from "./format.ts";
import type { HistoryItem } from "../image/history.ts";
import { findImage, imageLayers, importFile, listImages, removeImage, tarballName } from "../image/images.ts";
import { confirmPrune, forEachName, HELP, type Verb } from "./verb.ts";
import { repoDigests } from "../image/registry/digests.ts";
import type { PruneReport } from "../image/prune.ts";
import { later } from "../host/later.ts";

const images: Verb = {
  usage: "images [OPTIONS]",
  summary: "List images",
  args: { min: 0, max: 0 },
  options: [
    { long: "quiet", short: "q", kind: "flag", help: "Show only image ids" },
    { long: "digests", kind: "flag", help: "Show the registry digests of pulled and pushed images" },
    {
      long: "filter",
      short: "f",
      kind: "list",
      arg: "KEY=VALUE",
      help: "dangling=true|false, reference=PATTERN, label=KEY[=VALUE], before, since",
    },
    { long: "format", kind: "value", arg: "TEMPLATE", help: "A Go template (table TEMPLATE: columns)" },
    HELP,
  ],
  async action(store, { options: o }) {
    const more = o.filter || o.format
      ? await later<typeof import("./listing.ts")>("./listing.ts", import.meta.url)
      : null;
    const lines = more ? await more.selectImages(store, o) : (await listImages(store)).map((i) => ({
      image: i,
      id: i.id,
      size: i.size,
      created: i.config.created,
    }));
    if (o.format !== undefined) {
      more!.printImagesFormat(lines, String(o.format));
      return 0;
    }
    if (o.quiet) {
      for (const line of lines) console.log(line.id.slice(0, 12));
      return 0;
    }
    const rows = await Promise.all(lines.map(async ({ image, id, size, created }) => {
      if (image === null) {
        const none = o.digests ? ["<none>", "<none>", "<none>"] : ["<none>", "<none>"];
        return [...none, id.slice(0, 12), timeAgo(created), humanSize(size)];
      }
      const colon = image.ref.lastIndexOf(":");
      const name = image.ref.slice(0, colon);
      const row = [name, image.ref.slice(colon + 1)];
      if (o.digests) {
        const own = (await repoDigests(store, image.id)).filter((d) => d.startsWith(`${name}@`));
        row.push(own.length > 0 ? own[own.length - 1].slice(name.length + 1) : "<none>");
      }
      return [...row, image.id.slice(0, 12), timeAgo(image.config.created), humanSize(image.size)];
    }));
    const head = o.digests ? ["REPOSITORY", "TAG", "DIGEST"] : ["REPOSITORY", "TAG"];
    console.log(table([...head, "IMAGE ID", "CREATED", "SIZE"], rows));
    return 0;
  },
};

const history: Verb = {
  usage: "history [OPTIONS] IMAGE",
  summary: "Show how an image was made: its history, newest first, with the size of each layer",
  args: { min: 1, max: 1 },
  options: [
    { long: "no-trunc", kind: "flag", help: "Do not truncate ids and commands" },
    { long: "quiet", short: "q", kind: "flag", help: "Show only image ids" },
    HELP,
  ],
  async action(store, { options: o, positionals: [ref] }) {
    const { imageHistory } = await later<typeof import("../image/history.ts")>(
      "../image/history.ts",
      import.meta.url,
    );
    const image = await findImage(store, ref);
    if (!image) throw new NotFoundError(`No such image: ${ref}`);
    const items = imageHistory(image.id, image.config, (await imageLayers(store, image)).map((l) => l.size));
    const full = Boolean(o["no-trunc"]);
    // docker's TruncateID: the hex, 12 digits; <missing> as it is
    const id = (i: HistoryItem) => full || !i.id.startsWith("sha256:") ? i.id : i.id.slice(7, 19);
    if (o.quiet) {
      for (const item of items) console.log(id(item));
      return 0;
    }
    const rows = items.map((i) => {
      const createdBy = i.createdBy.replaceAll("\t", " ");
      return [
        id(i),
        i.created === "" ? "N/A" : timeAgo(i.created),
        full ? createdBy : ellipsis(createdBy, 45),
        humanSize(i.size),
        i.comment,
      ];
    });
    // docker's formatter: tabwriter, minimum width 10
    console.log(table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], rows, { minWidth: 10 }));
    return 0;
  },
};

const importVerb: Verb = {
  usage: "import FILE [NAME[:TAG]]",
  summary: "Import a rootfs tarball (plain or gzip), e.g. `docker export` output, as an image",
  args: { min: 1, max: 2 },
  options: [HELP],
  async action(store, { positionals: [file, ref] }) {
    const image = await importFile(store, file, ref ?? tarballName(file));
    console.log(`sha256:${image.id}`);
    return 0;
  },
};

const save: Verb = {
  usage: "save [--format oci|docker] -o FILE IMAGE",
  summary: "Write an image as an OCI archive (or the docker save format)",
  args: { min: 1, max: 1 },
  options: [
    { long: "output", short: "o", kind: "value", arg: "FILE", help: "The archive to write (required)" },
    { long: "format", kind: "value", arg: "oci|docker", help: "The archive format (default: oci)" },
    HELP,
  ],
  async action(store, { options: o, positionals: [ref] }) {
    const format = (o.format as string | undefined) ?? "oci";
    if (format !== "oci" && format !== "docker") {
      throw new UsageError(`Unknown format "${format}": use --format oci or --format docker`);
    }
    if (o.output === undefined) throw new UsageError('"skiff save" needs -o FILE');
    const { saveImage } = await later<typeof import("../image/archive.ts")>(
      "../image/archive.ts",
      import.meta.url,
    );
    await saveImage(store, ref, o.output as string, format);
    return 0;
  },
};

const load: Verb = {
  usage: "load -i FILE|DIR",
  summary: "Load images from an OCI archive or layout, or a docker save archive (plain or gzip layers)",
  args: { min: 0, max: 0 },
  options: [
    { long: "input", short: "i", kind: "value", arg: "FILE", help: "The archive to read (required)" },
    HELP,
  ],
  async action(store, { options: o }) {
    if (o.input === undefined) throw new UsageError('"skiff load" needs -i FILE');
    const { loadImages } = await later<typeof import("../image/archive.ts")>(
      "../image/archive.ts",
      import.meta.url,
    );
    for (const image of await loadImages(store, o.input as string)) console.log(`Loaded image: ${image.ref}`);
    return 0;
  },
};

const rmi: Verb = {
  usage: "rmi [-f] IMAGE...",
  summary: "Remove images, and the layers no other image or container needs",
  args: { min: 1 },
  options: [{ long: "force", short: "f", kind: "flag", help: "Untag even if a container uses it" }, HELP],
  async action(store, { options: o, positionals }) {
    return await forEachName(positionals, (ref) => removeImage(store, ref, { force: Boolean(o.force) }));
  },
};

const WARNING = {
  dangling: "This will remove all dangling images.",
  all: "This will remove all images without at least one container associated to them.",
};

const image: Verb = {
  usage: "image prune [-a] [-f]",
  summary: "Remove dangling images (-a: every image no container uses) and unfinished downloads",
  args: { min: 1, max: 1 },
  options: [
    {
      long: "all",
      short: "a",
      kind: "flag",
      help: "Remove every image no container uses, not just dangling ones",
    },
    { long: "force", short: "f", kind: "flag", help: "Do not ask for confirmation" },
    HELP,
  ],
  async action(store, { options: o, positionals: [sub] }) {
    if (sub !== "prune") throw new UsageError(`Unknown image command "${sub}"; use prune`);
    if (!(await confirmPrune("image prune", o.all ? WARNING.all : WARNING.dangling, Boolean(o.force)))) {
      return 0;
    }
    const { pruneImages } = await later<typeof import("../image/prune.ts")>(
      "../image/prune.ts",
      import.meta.url,
    );
    const report = await pruneImages(store, { all: Boolean(o.all) });
    console.log(
      [...imagePruneLines(report), `Total reclaimed space: ${humanSize(report.reclaimed)}`].join("\n"),
    );
    return 0;
  },
};

/** What an image prune removed, as docker prints it: `Deleted Images:`, `untagged: REF`, `deleted: sha256:ID`, a blank line. */
export function imagePruneLines(report: PruneReport): string[] {
  const lines = [
    ...report.untagged.map((ref) => `untagged: ${ref}`),
    ...report.deleted.map((id) => `deleted: sha256:${id}`),
  ];
  const downloads = report.downloads.map((d) => `deleted: ${d.name}`);
  return [
    ...(lines.length > 0 ? ["Deleted Images:", ...lines, ""] : []),
    ...(downloads.length > 0 ? ["Deleted Downloads:", ...downloads, ""] : []),
  ];
}

/** The image verbs, in the order help lists them. */
export const IMAGE_VERBS: Record<string, Verb> = {
  images,
  history,
  import: importVerb,
  save,
  load,
  rmi,
  image,
};
