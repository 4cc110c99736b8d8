/**
 * The CLI's end of init's sync FIFO (see lib/container/init.ts): init
 * writes one JSON line per message and the CLI reads to EOF, as crun's
 * sync socket. The descriptor is close-on-exec in init, so EOF comes at
 * once when init executes the command or dies: no timer, no deadline.
 *
 * A FIFO, not a pipe, because `Deno.Command` passes no descriptor beyond
 * 0-2. Until init opens its write end, the CLI holds one of its own, so a
 * read does not see EOF before init has even started; it lets go of it at
 * init's first message, or when the process that runs init ends (init then
 * never opened the FIFO).
 *
 * @module
 */

import { mkfifo } from "../../ffi/libc.ts";
import type { InitMessage } from "./init.ts";

/** The reading end of a sync FIFO. */
export class InitChannel {
  #buffered = "";
  #decoder = new TextDecoder();
  #chunk = new Uint8Array(4096);

  private constructor(private reader: Deno.FsFile, private holder: Deno.FsFile | undefined) {}

  /**
   * Makes the FIFO at `path` (replacing a stale one) and opens it, ready
   * for an init that is yet to start.
   *
   * @param ended settles when the process that runs init ends: then no
   *   init will open the FIFO, and reads must see EOF
   */
  static open(path: string, ended?: Promise<unknown>): InitChannel {
    try {
      Deno.removeSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    mkfifo(path, 0o600);
    // Opening one end of a FIFO waits for the other, but O_RDWR does not
    // wait (fifo(7)): the holder opens first, then the reader finds a
    // writer and returns at once. Both synchronous: an async open would
    // start Deno's blocking-op thread on the path of run (~8 ms here).
    const holder = Deno.openSync(path, { read: true, write: true });
    const reading = Deno.openSync(path, { read: true });
    const channel = new InitChannel(reading, holder);
    ended?.finally(() => channel.release());
    return channel;
  }

  /** Lets go of the CLI's own write end: EOF comes once init's closes. */
  release(): void {
    this.holder?.close();
    this.holder = undefined;
  }

  /**
   * The next message, or null at EOF.
   *
   * @throws {Error} when a line is not a message
   */
  async next(): Promise<InitMessage | null> {
    while (!this.#buffered.includes("\n")) {
      const n = await this.reader.read(this.#chunk);
      if (n === null) {
        if (this.#buffered !== "") {
          throw new Error(`Cannot read init's report: "${this.#buffered}" was cut short`);
        }
        return null;
      }
      this.#buffered += this.#decoder.decode(this.#chunk.subarray(0, n), { stream: true });
    }
    const line = this.#buffered.slice(0, this.#buffered.indexOf("\n"));
    this.#buffered = this.#buffered.slice(line.length + 1);
    this.release();
    try {
      return JSON.parse(line) as InitMessage;
    } catch (e) {
      throw new Error(`Cannot read init's report: "${line}" is not JSON`, { cause: e });
    }
  }

  /** Closes both ends the CLI has. */
  close(): void {
    this.release();
    try {
      this.reader.close();
    } catch { /* closed */ }
  }
}
