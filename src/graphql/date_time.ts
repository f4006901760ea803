/**
 * The `DateTime` scalar: Unix milliseconds inside the gateway, ISO 8601 UTC strings on the wire.
 * Input accepts any ISO 8601 instant with a zone (`Z` or an offset), so a time never silently
 * means the server's local time.
 *
 * @module
 */

import { GraphQLError, GraphQLScalarType, Kind } from "graphql";

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function parseInstant(value: unknown): number {
  if (typeof value !== "string" || !ISO_INSTANT.test(value)) {
    throw new GraphQLError(
      `DateTime must be an ISO 8601 instant with a zone, e.g. 2024-06-03T12:00:00Z; got ${
        JSON.stringify(value)
      }`,
      { extensions: { code: "BAD_USER_INPUT" } },
    );
  }
  const timeMs = Date.parse(value);
  if (!Number.isFinite(timeMs)) {
    throw new GraphQLError(`DateTime ${value} is not a real instant`, {
      extensions: { code: "BAD_USER_INPUT" },
    });
  }
  return timeMs;
}

export const DateTimeScalar = new GraphQLScalarType<number, string>({
  name: "DateTime",
  serialize: (value) => new Date(value as number).toISOString(),
  parseValue: parseInstant,
  parseLiteral: (ast) => parseInstant(ast.kind === Kind.STRING ? ast.value : undefined),
});
