/**
 * Enforces the SDL's role directives, so the access rule stands next to the field it guards:
 *
 * - `@ownerOnly`: a signed-in person (the administrator or a household), never an app;
 * - `@administrator`: the administrator, who runs the gateway (radios, link health, households,
 *   app registrations);
 * - `@household`: a household, which owns customer data (utility messages, its apps, its export
 *   switch): `Access.householdId` is set.
 *
 * In a single home the one signed-in person holds both roles. Fields marked with a directive, and
 * every field of a type marked with one, refuse any other caller with `FORBIDDEN` before their
 * resolver (or subscription source) runs; a field under several directives needs all of them.
 *
 * @module
 */

import {
  defaultFieldResolver,
  type GraphQLFieldResolver,
  type GraphQLSchema,
  isObjectType,
} from "graphql";
import type { Access } from "./access.ts";
import type { GraphqlContext } from "./context.ts";
import { apiError } from "./errors.ts";

/** One role directive: who passes, and the refusal's wording for a coordinate. */
interface Role {
  allows: (access: Access) => boolean;
  refusal: (coordinate: string) => string;
}

const PERSON: Role = {
  allows: (access) => access.kind === "owner",
  refusal: (coordinate) => `${coordinate} is only for the gateway's owner`,
};

/** The role directives by name; each implies a signed-in person. */
const ROLES: Readonly<Record<string, Role>> = {
  ownerOnly: PERSON,
  administrator: {
    allows: (access) => access.kind === "owner" && access.administrator,
    refusal: (coordinate) =>
      `${coordinate} is only for the gateway's administrator; a household cannot see or change it`,
  },
  household: {
    allows: (access) => access.kind === "owner" && access.householdId !== null,
    refusal: (coordinate) =>
      `${coordinate} is only for a household: the administrator reads and changes no ` +
      "household's data; sign in as the household",
  },
};

/** Wraps the resolvers of every role-guarded field of `schema` in place; returns them by role. */
export function enforceRoles(schema: GraphQLSchema): Record<string, string[]> {
  const guarded: Record<string, string[]> = Object.fromEntries(
    Object.keys(ROLES).map((name) => [name, []]),
  );
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith("__")) continue;
    const typeRoles = rolesOf(type.astNode);
    for (const field of Object.values(type.getFields())) {
      const names = [...new Set([...typeRoles, ...rolesOf(field.astNode)])];
      if (names.length === 0) continue;
      const coordinate = `${type.name}.${field.name}`;
      const roles = names.map((name) => ROLES[name]);
      field.resolve = guard(coordinate, roles, field.resolve ?? defaultFieldResolver);
      if (field.subscribe !== undefined) {
        field.subscribe = guard(coordinate, roles, field.subscribe);
      }
      for (const name of names) guarded[name].push(coordinate);
    }
  }
  return guarded;
}

function guard(
  coordinate: string,
  roles: Role[],
  // deno-lint-ignore no-explicit-any
  resolve: GraphQLFieldResolver<any, GraphqlContext>,
  // deno-lint-ignore no-explicit-any
): GraphQLFieldResolver<any, GraphqlContext> {
  return (source, args, context, info) => {
    // An app hears that the field is a person's, whichever role it is.
    if (!PERSON.allows(context.access)) {
      throw apiError("FORBIDDEN", PERSON.refusal(coordinate));
    }
    const refused = roles.find((role) => !role.allows(context.access));
    if (refused !== undefined) throw apiError("FORBIDDEN", refused.refusal(coordinate));
    return resolve(source, args, context, info);
  };
}

function rolesOf(
  node: { directives?: readonly { name: { value: string } }[] } | null | undefined,
): string[] {
  return (node?.directives ?? []).map((directive) => directive.name.value)
    .filter((name) => Object.hasOwn(ROLES, name));
}
