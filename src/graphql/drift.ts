/**
 * The check that keeps resolvers and SDL together: every object field in the SDL has a resolver
 * and every resolver has an SDL field; custom scalars have an implementation; an enum map names
 * exactly the SDL's values. Run at start-up (the server refuses a drifted build) and in tests.
 *
 * @module
 */

import { type GraphQLSchema, isEnumType, isObjectType, isScalarType } from "graphql";

const BUILT_IN_SCALARS = new Set(["String", "Int", "Float", "Boolean", "ID"]);

/** Every difference between the schema and the resolver map, as readable lines. */
export function resolverDrift(
  schema: GraphQLSchema,
  resolvers: Record<string, object>,
): string[] {
  const problems: string[] = [];
  const compare = (typeName: string, sdl: string[], implemented: string[], what: string) => {
    for (const name of sdl) {
      if (!implemented.includes(name)) problems.push(`${typeName}.${name} has no ${what}`);
    }
    for (const name of implemented) {
      if (!sdl.includes(name)) problems.push(`${typeName}.${name} is not in the SDL`);
    }
  };
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith("__")) continue;
    const implementation = resolvers[type.name];
    if (isObjectType(type)) {
      if (implementation === undefined) {
        problems.push(`type ${type.name} has no resolvers`);
        continue;
      }
      compare(type.name, Object.keys(type.getFields()), Object.keys(implementation), "resolver");
    } else if (isScalarType(type) && !BUILT_IN_SCALARS.has(type.name)) {
      if (implementation === undefined) problems.push(`scalar ${type.name} has no implementation`);
    } else if (isEnumType(type) && implementation !== undefined) {
      compare(
        type.name,
        type.getValues().map((value) => value.name),
        Object.keys(implementation),
        "internal value",
      );
    }
  }
  for (const name of Object.keys(resolvers)) {
    if (schema.getType(name) === undefined || schema.getType(name) === null) {
      problems.push(`resolvers for ${name}, which is not in the SDL`);
    }
  }
  return problems;
}
