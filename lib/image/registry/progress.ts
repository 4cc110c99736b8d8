/**
 * Pull progress as podman and docker show it: on a terminal, one line per
 * blob with bytes and rate, redrawn in place (at most every 100 ms);
 * otherwise plain lines, one per event; nothing when quiet.
 *
 * @module
 */

/** Where progress goes. */
export interface Progress {
  /** A line that stays (e.g. "Writing manifest"). */
  line(text: string): void;
  /** A blob starts: its line shows `label` and then bytes as they come. */
  start(key: string, label: string, total: number): void;
  /** `bytes` of the blob `key` so far. */
  update(key: string, bytes: number): void;
  /** The blob is done. */
  done(key: string): void;
  /** A blob not fetched: the store has it. */
  skipped(label: string): void;
}

/** Sizes as podman prints them: 1.2MiB. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)}${units[i]}`;
}

/** Progress that prints nothing. */
export const QUIET: Progress = { line() {}, start() {}, update() {}, done() {}, skipped() {} };

/** Plain lines, for a pipe or a file: one when a blob starts. */
export function plainProgress(write: (line: string) => void): Progress {
  return {
    line: write,
    start(_key, label, total) {
      write(`${label} (${formatBytes(total)})`);
    },
    update() {},
    done() {},
    skipped(label) {
      write(`${label} skipped: already exists`);
    },
  };
}

/**
 * Lines redrawn in place on a terminal (ANSI: cursor up, erase line).
 * Each line is cut to the terminal's width: a line that wrapped would
 * take two rows, and cursor-up by the number of lines would then redraw
 * over the wrong ones.
 *
 * @param write writes raw text (no newline added)
 * @param columns the terminal's width now (it may change while a pull runs)
 */
export function terminalProgress(
  write: (text: string) => void,
  now = () => Date.now(),
  columns = () => Infinity,
): Progress {
  interface Row {
    label: string;
    total: number;
    bytes: number;
    started: number;
    note?: string;
  }
  const rows = new Map<string, Row>();
  let drawn = 0;
  let last = 0;
  const text = (r: Row) => {
    if (r.note) return `${r.label} ${r.note}`;
    const seconds = Math.max((now() - r.started) / 1000, 0.001);
    return `${r.label} ${formatBytes(r.bytes)} / ${formatBytes(r.total)} ${formatBytes(r.bytes / seconds)}/s`;
  };
  const draw = (force: boolean) => {
    if (!force && now() - last < 100) return;
    last = now();
    let out = drawn > 0 ? `\x1b[${drawn}A` : "";
    const width = Math.max(columns() - 1, 1);
    for (const r of rows.values()) out += `\r\x1b[2K${text(r).slice(0, width)}\n`;
    drawn = rows.size;
    write(out);
  };
  return {
    line(t) {
      draw(true);
      write(`${t}\n`);
      rows.clear();
      drawn = 0;
    },
    start(key, label, total) {
      rows.set(key, { label, total, bytes: 0, started: now() });
      draw(true);
    },
    update(key, bytes) {
      const r = rows.get(key);
      if (r) r.bytes = bytes;
      draw(false);
    },
    done(key) {
      const r = rows.get(key);
      if (r) {
        r.bytes = r.total;
        r.note = `${formatBytes(r.total)} done`;
      }
      draw(true);
    },
    skipped(label) {
      rows.set(label, { label, total: 0, bytes: 0, started: now(), note: "skipped: already exists" });
      draw(true);
    },
  };
}

/** The progress for a pull: quiet, terminal or plain, on stderr. */
export function stderrProgress(quiet: boolean): Progress {
  if (quiet) return QUIET;
  const encoder = new TextEncoder();
  if (Deno.stderr.isTerminal()) {
    const columns = () => {
      try {
        return Deno.consoleSize().columns || Infinity;
      } catch {
        return Infinity; // no size to tell (a pty that never set one)
      }
    };
    return terminalProgress(
      (t) => {
        const bytes = encoder.encode(t);
        for (let off = 0; off < bytes.length;) off += Deno.stderr.writeSync(bytes.subarray(off));
      },
      () => Date.now(),
      columns,
    );
  }
  return plainProgress((l) => console.error(l));
}
