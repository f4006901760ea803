/**
 * Enforces the SDL's `@ownerOnly` directive: fields marked with it, and every field of a type
 * marked with it, refuse any caller but the owner with `FORBIDDEN` before their resolver (or
 * subscription source) runs. Declaring it in the SDL keeps the access rule next to the field.
 *
 * @module
 */

import {
  defaultFieldResolver,
  type GraphQLFieldResolver,
  type GraphQLSchema,
  isObjectType,
} from "graphql";
import type { GraphqlContext } from "./context.ts";
import { apiError } from "./errors.ts";

const DIRECTIVE = "ownerOnly";

/** Wraps the resolvers of every owner-only field of `schema` in place; returns their names. */
export function enforceOwnerOnly(schema: GraphQLSchema): string[] {
  const guarded: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith("__")) continue;
    const wholeType = hasDirective(type.astNode);
    for (const field of Object.values(type.getFields())) {
      if (!wholeType && !hasDirective(field.astNode)) continue;
      const coordinate = `${type.name}.${field.name}`;
      field.resolve = guard(coordinate, field.resolve ?? defaultFieldResolver);
      if (field.subscribe !== undefined) field.subscribe = guard(coordinate, field.subscribe);
      guarded.push(coordinate);
    }
  }
  return guarded;
}

function guard(
  coordinate: string,
  // deno-lint-ignore no-explicit-any
  resolve: GraphQLFieldResolver<any, GraphqlContext>,
  // deno-lint-ignore no-explicit-any
): GraphQLFieldResolver<any, GraphqlContext> {
  return (source, args, context, info) => {
    if (context.access.kind !== "owner") {
      throw apiError("FORBIDDEN", `${coordinate} is only for the gateway's owner`);
    }
    return resolve(source, args, context, info);
  };
}

function hasDirective(
  node: { directives?: readonly { name: { value: string } }[] } | null | undefined,
) {
  return node?.directives?.some((directive) => directive.name.value === DIRECTIVE) ?? false;
}
