/**
 * Human-readable times, sizes and tables, as docker prints them.
 *
 * @module
 */

/** A duration as docker's HumanDuration: "Less than a second", "3 minutes", "About an hour". */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

/** "3 minutes ago" for an ISO time, relative to `now`. */
export function timeAgo(iso: string, now = Date.now()): string {
  return `${humanDuration(now - Date.parse(iso))} ago`;
}

/** A count in the largest unit below it, by powers of `base`. */
function scaled(value: number, base: number, units: string[]): [number, string] {
  let unit = 0;
  while (value >= base && unit < units.length - 1) {
    value /= base;
    unit++;
  }
  return [value, units[unit]];
}

/** A byte count in SI units with three significant digits: "2.02MB", as docker shows sizes. */
export function humanSize(bytes: number): string {
  const [value, unit] = scaled(bytes, 1000, ["B", "kB", "MB", "GB", "TB"]);
  return `${Number(value.toPrecision(3))}${unit}`;
}

/** Rows as columns padded to their widest cell, three spaces apart. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows]
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join("   "))
    .join("\n");
}

/** A byte count in binary units as docker stats shows them: "1.5MiB". */
export function humanBytes(bytes: number): string {
  const [value, unit] = scaled(bytes, 1024, ["B", "KiB", "MiB", "GiB", "TiB"]);
  return `${Number(value.toFixed(2))}${unit}`;
}
