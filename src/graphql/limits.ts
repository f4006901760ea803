/**
 * Query limits, as validation rules so a refused query never executes: nesting depth, aliases
 * (the usual way to repeat an expensive field many times in one request) and an estimated cost.
 *
 * The schema has no cycles of its own, so depth matters for introspection (`ofType { ofType … }`);
 * the cost estimate weighs the fields that read a series and multiplies what sits under a list of
 * objects (`meters`). Introspection is not multiplied: it is cheap and owner-only.
 *
 * @module
 */

import {
  type FieldNode,
  getNamedType,
  getNullableType,
  type GraphQLField,
  type GraphQLNamedType,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  SchemaMetaFieldDef,
  type SelectionSetNode,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  type ValidationContext,
  type ValidationRule,
} from "graphql";
import { apiError } from "./errors.ts";

export interface QueryLimits {
  /** Deepest field nesting (GraphiQL's introspection query needs about 13). */
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = { maxDepth: 15, maxAliases: 20, maxCost: 2000 };

/** Extra cost of fields that read a series from the store. */
const SERIES_COST: Readonly<Record<string, number>> = {
  demandSeries: 20,
  intervals: 20,
  usage: 10,
};
/** Assumed length of a list of objects (meters, messages, radios). */
const LIST_FACTOR = 10;

interface Measure {
  depth: number;
  cost: number;
}

/** The rules enforcing `limits`. */
export function queryLimitRules(limits: QueryLimits = DEFAULT_QUERY_LIMITS): ValidationRule[] {
  const aliases: ValidationRule = (context) => {
    let count = 0;
    return {
      Field(node) {
        if (node.alias !== undefined && ++count === limits.maxAliases + 1) {
          context.reportError(
            apiError(
              "QUERY_TOO_COMPLEX",
              `the query uses more than ${limits.maxAliases} aliases`,
            ),
          );
        }
      },
    };
  };
  const depthAndCost: ValidationRule = (context) => ({
    OperationDefinition(node) {
      const root = context.getSchema().getRootType(node.operation);
      if (root === undefined || root === null) return;
      const measure = measureSelections(context, node.selectionSet, root, new Set(), false);
      if (measure.depth > limits.maxDepth) {
        context.reportError(apiError(
          "QUERY_TOO_COMPLEX",
          `the query nests ${measure.depth} levels deep; at most ${limits.maxDepth} are allowed`,
        ));
      }
      if (measure.cost > limits.maxCost) {
        context.reportError(apiError(
          "QUERY_TOO_COMPLEX",
          `the query's estimated cost is ${measure.cost}; at most ${limits.maxCost} is allowed ` +
            "(series fields cost more, and so does anything under a list of meters)",
        ));
      }
    },
  });
  return [aliases, depthAndCost];
}

function measureSelections(
  context: ValidationContext,
  selectionSet: SelectionSetNode,
  parent: GraphQLNamedType,
  fragmentsOnPath: Set<string>,
  introspection: boolean,
): Measure {
  const total: Measure = { depth: 0, cost: 0 };
  const add = (measure: Measure) => {
    total.depth = Math.max(total.depth, measure.depth);
    total.cost += measure.cost;
  };
  for (const selection of selectionSet.selections) {
    if (selection.kind === "Field") {
      add(measureField(context, selection, parent, fragmentsOnPath, introspection));
    } else if (selection.kind === "InlineFragment") {
      const type = selection.typeCondition
        ? context.getSchema().getType(selection.typeCondition.name.value)
        : parent;
      if (type) {
        add(
          measureSelections(context, selection.selectionSet, type, fragmentsOnPath, introspection),
        );
      }
    } else {
      const name = selection.name.value;
      const fragment = context.getFragment(name);
      // A fragment cycle is reported by the standard rules; here it only must not loop.
      if (!fragment || fragmentsOnPath.has(name)) continue;
      const type = context.getSchema().getType(fragment.typeCondition.name.value);
      if (!type) continue;
      const onPath = new Set(fragmentsOnPath).add(name);
      add(measureSelections(context, fragment.selectionSet, type, onPath, introspection));
    }
  }
  return total;
}

function measureField(
  context: ValidationContext,
  node: FieldNode,
  parent: GraphQLNamedType,
  fragmentsOnPath: Set<string>,
  introspection: boolean,
): Measure {
  const field = fieldOf(context, parent, node.name.value);
  if (field === null) return { depth: 1, cost: 1 };
  const inIntrospection = introspection || node.name.value.startsWith("__");
  const ownCost = SERIES_COST[node.name.value] ?? 1;
  if (node.selectionSet === undefined) return { depth: 1, cost: ownCost };
  const child = getNamedType(field.type);
  if (!isCompositeType(child)) return { depth: 1, cost: ownCost };
  const inner = measureSelections(
    context,
    node.selectionSet,
    child,
    fragmentsOnPath,
    inIntrospection,
  );
  const multiplier = !inIntrospection && isListType(getNullableType(field.type)) &&
      SERIES_COST[node.name.value] === undefined
    ? LIST_FACTOR
    : 1;
  return { depth: inner.depth + 1, cost: ownCost + multiplier * inner.cost };
}

function fieldOf(
  context: ValidationContext,
  parent: GraphQLNamedType,
  name: string,
): GraphQLField<unknown, unknown> | null {
  if (name === "__typename") return TypeNameMetaFieldDef;
  const isQuery = parent === context.getSchema().getQueryType();
  if (name === "__schema" && isQuery) return SchemaMetaFieldDef;
  if (name === "__type" && isQuery) return TypeMetaFieldDef;
  if (isObjectType(parent) || isInterfaceType(parent)) return parent.getFields()[name] ?? null;
  return null;
}
