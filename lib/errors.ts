/**
 * Errors that callers branch on. Everything else is a plain Error whose
 * message says what went wrong, with the cause kept.
 *
 * @module
 */

/** The command line was wrong; the message says how. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** No container or image answers to the name the user gave. */
export class NotFoundError extends Error {
  override name = "NotFoundError";
}

/** The container is not in a state that allows the operation. */
export class InvalidStateError extends Error {
  override name = "InvalidStateError";
}
