/**
 * The graphql-jit plugin (`src/graphql/jit.ts`) against plain graphql-js on one small schema with
 * the gateway's DateTime scalar and typed errors: queries run compiled and answer the same;
 * errors, bad variables, mutations and subscriptions answer exactly as graphql-js does.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createSchema, createYoga } from "graphql-yoga";
import type { GraphQLResolveInfo } from "graphql";
import { DateTimeScalar, formatInstant } from "../../src/graphql/date_time.ts";
import { apiError } from "../../src/graphql/errors.ts";
import { jitQueriesPlugin } from "../../src/graphql/jit.ts";

const typeDefs = `
  scalar DateTime
  type Query {
    at(t: DateTime!): DateTime!
    items(n: Int!): [Item!]!
    engine: String!
    refused: String
  }
  type Item { i: Int! at: DateTime! engine: String! }
  type Mutation { engine: String! }
  type Subscription { count: Int! }
`;

/**
 * Which engine resolved a field: graphql-js's response paths carry the parent type's name,
 * graphql-jit's do not.
 */
const engine = (_source: unknown, _args: unknown, _context: unknown, info: GraphQLResolveInfo) =>
  info.path.typename === undefined ? "jit" : "graphql-js";

function yoga(jit: boolean) {
  const schema = createSchema({
    typeDefs,
    resolvers: {
      DateTime: DateTimeScalar,
      Query: {
        at: (_root: unknown, args: { t: number }) => args.t,
        items: (_root: unknown, args: { n: number }) =>
          Array.from({ length: args.n }, (_, i) => ({ i, atMs: 1_700_000_000_000 + i * 900_000 })),
        engine,
        refused: () => {
          throw apiError("FORBIDDEN", "not for you");
        },
      },
      Item: {
        i: (item: { i: number }) => item.i,
        at: (item: { atMs: number }) => item.atMs,
        engine,
      },
      Mutation: { engine },
      Subscription: {
        count: {
          subscribe: async function* () {
            for (let i = 1; i <= 3; i++) yield { count: i };
          },
        },
      },
    },
  });
  return createYoga({ schema, logging: false, plugins: jit ? [jitQueriesPlugin()] : [] });
}

const compiled = yoga(true);
const plain = yoga(false);

async function post(
  server: ReturnType<typeof yoga>,
  body: { query: string; variables?: Record<string, unknown>; operationName?: string },
  accept = "application/json",
) {
  const response = await server.fetch("http://localhost/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: accept },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

Deno.test("queries run compiled from their second run and answer as graphql-js does", async () => {
  const series = { query: "{ engine items(n: 192) { i at engine } }" };
  // A text's first run is graphql-js's (one-off texts are never compiled).
  assert.equal(JSON.parse((await post(compiled, series)).text).data.engine, "graphql-js");
  const reply = await post(compiled, series);
  const data = JSON.parse(reply.text).data;
  assert.equal(data.engine, "jit");
  assert.equal(data.items.length, 192);
  assert.equal(data.items[191].at, new Date(1_700_000_000_000 + 191 * 900_000).toISOString());
  assert.equal(
    reply.text.replaceAll('"jit"', '"graphql-js"'),
    (await post(plain, series)).text,
  );
  // The same text with another operation picked compiles that operation, not the first one.
  const two = "query A { engine } query B { items(n: 1) { i } }";
  for (const operationName of ["A", "B", "A", "B", "A"]) {
    const body = { query: two, operationName };
    assert.equal(
      (await post(compiled, body)).text.replace('"jit"', '"graphql-js"'),
      (await post(plain, body)).text,
    );
  }
});

Deno.test("errors, bad variables, mutations and subscriptions are graphql-js's own", async () => {
  const variables = "query ($t: DateTime!) { at(t: $t) engine }";
  for (
    const body of [
      // A resolver's typed error: graphql-js's answer, with locations and extensions.code.
      { query: "{ engine refused }" },
      // A variable the DateTime scalar refuses: its message, and yoga's 400.
      { query: variables, variables: { t: "2024-06-03" } },
      { query: variables, variables: {} },
      { query: "{ at(t: 5) }" },
      { query: "mutation { engine }" },
    ]
  ) {
    await post(compiled, body);
    const [jitReply, plainReply] = [await post(compiled, body), await post(plain, body)];
    assert.deepEqual(jitReply, plainReply, body.query);
    assert.ok(!jitReply.text.includes('"jit"'), jitReply.text);
  }
  const refused = JSON.parse((await post(compiled, { query: "{ engine refused }" })).text);
  assert.deepEqual(refused.errors[0].locations, [{ line: 1, column: 10 }]);
  assert.equal(refused.errors[0].extensions.code, "FORBIDDEN");
  // The document that failed above runs compiled with a good variable.
  const good = await post(compiled, { query: variables, variables: { t: "2024-06-03T12:00:00Z" } });
  assert.deepEqual(JSON.parse(good.text).data, { at: "2024-06-03T12:00:00.000Z", engine: "jit" });

  const events = await post(compiled, { query: "subscription { count }" }, "text/event-stream");
  assert.equal(events.status, 200);
  assert.deepEqual(
    [...events.text.matchAll(/"count":(\d+)/g)].map((match) => Number(match[1])),
    [1, 2, 3],
  );
});

Deno.test("formatInstant writes what toISOString writes", () => {
  const day = 86_400_000;
  for (
    const value of [
      0,
      1,
      999,
      59_999,
      day - 1,
      day,
      1_700_000_000_123,
      253_402_300_799_999,
      253_402_300_800_000,
      -1,
      -day - 1,
      1.5,
      8.64e15,
    ]
  ) {
    assert.equal(formatInstant(value), new Date(value).toISOString(), String(value));
  }
  for (let value = Date.UTC(2024, 1, 28); value < Date.UTC(2024, 2, 2); value += 997) {
    assert.equal(formatInstant(value), new Date(value).toISOString());
  }
  assert.throws(() => formatInstant(Number.NaN), RangeError);
});
