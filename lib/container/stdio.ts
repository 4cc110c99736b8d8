/**
 * A foreground container's input and output, relayed by skiff as docker
 * and podman do, so the container never holds a descriptor of the
 * caller's files or terminal: its stdout and stderr are pipes (a
 * `run >> log` hands it no `log` to read back or chmod), stdin a pipe with
 * -i, and with -t a pseudo-terminal of its own devpts (no TIOCSTI into the
 * caller's terminal), whose master skiff relays to the caller's terminal,
 * set raw meanwhile, with the window size passed on.
 *
 * @module
 */

import { close, readAsync, setWindowSize, writeAllAsync } from "../../ffi/libc.ts";

/** Writes all of `data`; false when the other end is gone (EPIPE and the like). */
async function writeAll(to: { write(p: Uint8Array): Promise<number> }, data: Uint8Array): Promise<boolean> {
  try {
    for (let off = 0; off < data.length;) off += await to.write(data.subarray(off));
    return true;
  } catch {
    return false;
  }
}

/**
 * Copies a child's output to ours until its EOF. When ours is closed
 * (`run ... | head -1`), the pipe is closed too, so the container gets
 * EPIPE as it would have writing there itself.
 */
export async function pump(
  from: ReadableStream<Uint8Array>,
  to: { write(p: Uint8Array): Promise<number> },
): Promise<void> {
  const reader = from.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    if (!(await writeAll(to, value))) {
      await reader.cancel();
      return;
    }
  }
}

/**
 * Passes our stdin on to a child's until our EOF, which closes the
 * child's: the container reads EOF. Our stdin itself stays open.
 */
export function pumpStdin(to: WritableStream<Uint8Array>): void {
  Deno.stdin.readable.pipeTo(to, { preventCancel: true }).catch(() => {
    // the container exited first and closed its end
  });
}

/** A container's terminal being relayed. */
export interface TerminalRelay {
  /** Settles once the container's terminal has closed (every slave closed), and the caller's is restored. */
  done: Promise<void>;
}

/**
 * Relays the master of a container's pty to the caller's terminal: ours
 * is set raw (the container's pty does the line editing and sends the
 * signals for ^C and ^Z), its window size is set now and on each SIGWINCH.
 * The caller's terminal is restored and the master closed when the
 * container's side closes.
 *
 * @param master a descriptor of the pty's master, owned from now on
 */
export function relayTerminal(master: number): TerminalRelay {
  const resize = () => {
    try {
      const { columns, rows } = Deno.consoleSize();
      setWindowSize(master, rows, columns);
    } catch {
      // no size to pass on (no terminal among our stdio)
    }
  };
  resize();
  Deno.addSignalListener("SIGWINCH", resize);
  const raw = Deno.stdin.isTerminal();
  if (raw) Deno.stdin.setRaw(true);
  // A write in flight when the container's side closes is awaited before
  // the master is closed: its number must not be reused under it.
  let closed = false;
  let writing: Promise<boolean> = Promise.resolve(true);
  (async () => {
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await Deno.stdin.read(buf).catch(() => null);
      if (n === null || closed) return;
      writing = writeAllAsync(master, buf.slice(0, n));
      if (!(await writing)) return;
    }
  })();
  const done = (async () => {
    try {
      const buf = new Uint8Array(16384);
      for (;;) {
        const data = await readAsync(master, buf);
        // EOF or EIO: the container's side is closed
        if (data.length === 0) return;
        if (!(await writeAll(Deno.stdout, data))) return;
      }
    } finally {
      closed = true;
      Deno.removeSignalListener("SIGWINCH", resize);
      if (raw) Deno.stdin.setRaw(false);
      await writing;
      close(master);
    }
  })();
  return { done };
}
