/**
 * The dashboard's GraphQL documents and result types against the SDL (`schema/openseg.graphql`):
 * every document validates, every enum the dashboard spells out has exactly the SDL's values, and
 * every field of a result interface named like an SDL type exists on that type. A renamed or
 * removed field fails here, not in a homeowner's browser.
 *
 * @module
 */

import assert from "node:assert/strict";
import { buildSchema, GraphQLEnumType, GraphQLObjectType, parse, validate } from "graphql";
import * as queries from "../../src/web/queries.ts";

const SDL = await Deno.readTextFile(new URL("../../schema/openseg.graphql", import.meta.url));
const SOURCE = await Deno.readTextFile(new URL("../../src/web/queries.ts", import.meta.url));
const schema = buildSchema(SDL);
/** Dashboard type names that differ from the SDL's. */
const SDL_NAMES: Record<string, string> = { Direction: "FlowDirection" };

/** The exported string constants of `queries.ts` that are GraphQL operations. */
function documents(): [string, string][] {
  const entries: [string, unknown][] = Object.entries(queries);
  return entries.flatMap(([name, value]) =>
    typeof value === "string" && /^\s*(query|mutation|subscription)\b/.test(value)
      ? [[name, value] as [string, string]]
      : []
  );
}

Deno.test("every dashboard document validates against the SDL", () => {
  const found = documents();
  assert.ok(found.length >= 10, `found ${found.length} documents`);
  for (const [name, text] of found) {
    const errors = validate(schema, parse(text));
    assert.deepEqual(errors.map((error) => error.message), [], name);
  }
});

Deno.test("the dashboard's enum types have exactly the SDL's values", () => {
  const unions = [...SOURCE.matchAll(/^export type (\w+) = ((?:"\w+"(?: \| )?)+);/gm)];
  assert.ok(unions.length >= 3);
  for (const [, name, union] of unions) {
    const type = schema.getType(SDL_NAMES[name] ?? name);
    assert.ok(type instanceof GraphQLEnumType, `${name} is an SDL enum`);
    const values = [...union.matchAll(/"(\w+)"/g)].map((match) => match[1]).sort();
    assert.deepEqual(values, type.getValues().map((value) => value.name).sort(), name);
  }
});

Deno.test("every field of a result interface named like an SDL type exists on it", () => {
  const interfaces = [...SOURCE.matchAll(/^export interface (\w+) \{\n([\s\S]*?)^\}/gm)];
  let checked = 0;
  for (const [, name, body] of interfaces) {
    const type = schema.getType(name);
    if (!(type instanceof GraphQLObjectType)) continue;
    const fields = [...body.matchAll(/^ {2}(\w+)\??:/gm)].map((match) => match[1]);
    for (const field of fields) {
      assert.ok(field in type.getFields(), `${name}.${field} is not in the SDL`);
    }
    checked++;
  }
  assert.ok(checked >= 8, `checked ${checked} interfaces`);
});
