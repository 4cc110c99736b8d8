/**
 * Errors that callers branch on. Everything else is a plain Error whose
 * message says what went wrong, with the cause kept.
 *
 * @module
 */

/** The command line was wrong; the message says how. */
export class UsageError extends Error {
  /** The class name, as errors show it. */
  override name = "UsageError";
}

/** No container or image answers to the name the user gave. */
export class NotFoundError extends Error {
  /** The class name, as errors show it. */
  override name = "NotFoundError";
}

/** The container is not in a state that allows the operation. */
export class InvalidStateError extends Error {
  /** The class name, as errors show it. */
  override name = "InvalidStateError";
}

/**
 * An error as one line: its message, then each cause after a colon, as
 * crun prints them (`outer: inner`). A cause that only repeats its error's
 * message (an errno class over its SyscallError) is said once.
 */
export function describeError(e: unknown): string {
  const parts: string[] = [];
  for (let cur: unknown = e; cur !== undefined; cur = (cur as Error).cause) {
    const message = cur instanceof Error ? cur.message : String(cur);
    if (message !== parts.at(-1)) parts.push(message);
    if (!(cur instanceof Error)) break;
  }
  return parts.join(": ").replace(/\s*\n\s*/g, " ");
}
