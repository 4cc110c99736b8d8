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

/** At most `max` characters, the last an ellipsis when cut: docker's stringutils.Ellipsis. */
export function ellipsis(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
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

/**
 * A byte count in SI units with three significant digits: "2.02MB", as
 * docker shows sizes (go-units' HumanSizeWithPrecision; its HumanSize, for
 * a prune's total, takes four).
 */
export function humanSize(bytes: number, digits = 3): string {
  const [value, unit] = scaled(bytes, 1000, ["B", "kB", "MB", "GB", "TB"]);
  return `${Number(value.toPrecision(digits))}${unit}`;
}

/**
 * Characters a terminal would act on rather than show: C0 controls (ESC
 * starts ANSI sequences, CR and BS overwrite), DEL, C1 controls (CSI
 * among them), and the bidirectional overrides and line separators that
 * reorder or break what follows.
 */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * A string made safe for a terminal: each control character as `\xHH`
 * (`\uHHHH` above 0xff), so a container's command or an image's path
 * shows as text instead of moving the cursor or recolouring the screen.
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/**
 * Rows as columns padded to their widest cell, three spaces apart; every
 * cell escaped. With `minWidth`, a column and its three spaces take at
 * least that many characters (Go's tabwriter minwidth: docker top uses 20).
 */
export function table(header: string[], rows: string[][], { minWidth = 0 } = {}): string {
  const cells = [header, ...rows].map((r) => r.map(escapeControls));
  const widths = cells[0].map((_, i) => Math.max(Math.max(...cells.map((r) => r[i].length)) + 3, minWidth));
  return cells
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join(""))
    .join("\n");
}

/** A byte count in binary units as docker stats shows them: "1.5MiB". */
export function humanBytes(bytes: number): string {
  const [value, unit] = scaled(bytes, 1024, ["B", "KiB", "MiB", "GiB", "TiB"]);
  return `${Number(value.toFixed(2))}${unit}`;
}
