/**
 * Typed, readable GraphQL errors: every refusal carries `extensions.code`, one of the SDL's
 * `ErrorCode` values, and a message a developer can act on without reading the source.
 *
 * @module
 */

import { GraphQLError } from "graphql";

/** Mirrors `enum ErrorCode` in `schema/openseg.graphql` (the drift test compares them). */
export const ERROR_CODES = [
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "BAD_USER_INPUT",
  "RANGE_TOO_LARGE",
  "TOO_MANY_BUCKETS",
  "QUERY_TOO_COMPLEX",
  "QUERY_TOO_LARGE",
  "TOO_MANY_STREAMS",
  "NOT_CONFIRMABLE",
  "RADIO_UNAVAILABLE",
] as const;

export type ErrorCode = typeof ERROR_CODES[number];

/** A GraphQL error with its code. */
export function apiError(code: ErrorCode, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}
