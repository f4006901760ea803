/**
 * The error every CLI command throws for a bad option or value: `main.ts` prints its message on one
 * line and exits with code 2.
 *
 * @module
 */

/** A bad command-line option or value; the message names it. */
export class UsageError extends Error {
  override name = "UsageError";
}
