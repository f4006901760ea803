/**
 * Query limits, checked before validation and execution so a refused document costs no more than
 * reading it: document size, parser tokens, nesting depth, aliases (the usual way to repeat an
 * expensive field many times in one request) and an estimated cost.
 *
 * The analysis is linear in the document: each fragment is measured once per context (inside
 * introspection or not) and its measure reused at every spread, so a chain of fragments that each
 * spread the next twice is refused after measuring each fragment once, instead of walking 2^n
 * spreads. A fragment cycle counts nothing here (validation reports it). The walk recurses, but
 * the token limit bounds how deep a document can nest, far below the stack's depth.
 *
 * The schema has no cycles of its own, so depth matters for introspection (`ofType { ofType … }`);
 * the cost estimate weighs the fields that read a series and multiplies what sits under a list of
 * objects (`meters`). Introspection is not multiplied: it is cheap and owner-only.
 *
 * @module
 */

import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  getNamedType,
  getNullableType,
  type GraphQLError,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  SchemaMetaFieldDef,
  type SelectionSetNode,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  visit,
} from "graphql";
import { apiError, type ErrorCode } from "./errors.ts";

export interface QueryLimits {
  /** Deepest field nesting (GraphiQL's introspection query needs about 13). */
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
  /** Lexical tokens the parser reads before giving up (GraphiQL's introspection has ~200). */
  maxTokens: number;
  /** UTF-8 bytes of the document text. */
  maxDocumentBytes: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxDepth: 15,
  maxAliases: 20,
  maxCost: 2000,
  maxTokens: 2000,
  maxDocumentBytes: 16 * 1024,
};

/** Extra cost of fields that read a series from the store. */
const SERIES_COST: Readonly<Record<string, number>> = {
  demandSeries: 20,
  intervals: 20,
  usage: 10,
};
/** Assumed length of a list of objects (meters, messages, radios). */
const LIST_FACTOR = 10;
/** Costs stop growing here: the number only has to stay above any limit, and stay finite. */
const COST_CEILING = Number.MAX_SAFE_INTEGER;

interface Measure {
  depth: number;
  cost: number;
}

/** A limit refusal: `extensions.code` for the client, HTTP 400 for yoga (with any media type). */
export function limitError(code: ErrorCode, message: string): GraphQLError {
  const error = apiError(code, message);
  // `spec: false`: yoga would otherwise answer `application/json` requests with 200.
  (error.extensions as Record<string, unknown>).http = { status: 400, spec: false };
  return error;
}

/** The refusal of a document text that is too large, or null. */
export function documentSizeError(query: string, limits: QueryLimits): GraphQLError | null {
  // UTF-8 never takes fewer bytes than UTF-16 code units, nor more than three per unit.
  if (query.length <= limits.maxDocumentBytes / 3) return null;
  const bytes = new TextEncoder().encode(query).byteLength;
  if (bytes <= limits.maxDocumentBytes) return null;
  return limitError(
    "QUERY_TOO_LARGE",
    `the document has ${bytes} bytes; at most ${limits.maxDocumentBytes} are allowed`,
  );
}

/** The refusals of a parsed document under `limits` (empty when it is within them). */
export function queryLimitErrors(
  schema: GraphQLSchema,
  document: DocumentNode,
  limits: QueryLimits = DEFAULT_QUERY_LIMITS,
): GraphQLError[] {
  const errors: GraphQLError[] = [];
  let aliases = 0;
  visit(document, {
    [Kind.FIELD](node) {
      if (node.alias !== undefined) aliases++;
    },
  });
  if (aliases > limits.maxAliases) {
    errors.push(
      limitError("QUERY_TOO_COMPLEX", `the query uses more than ${limits.maxAliases} aliases`),
    );
  }
  const walk = new MeasureWalk(schema, document);
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const root = schema.getRootType(definition.operation);
    if (root === undefined || root === null) continue;
    const measure = walk.selections(definition.selectionSet, root, false);
    if (measure.depth > limits.maxDepth) {
      errors.push(limitError(
        "QUERY_TOO_COMPLEX",
        `the query nests ${measure.depth} levels deep; at most ${limits.maxDepth} are allowed`,
      ));
    }
    if (measure.cost > limits.maxCost) {
      errors.push(limitError(
        "QUERY_TOO_COMPLEX",
        `the query's estimated cost is ${measure.cost}; at most ${limits.maxCost} is allowed ` +
          "(series fields cost more, and so does anything under a list of meters)",
      ));
    }
  }
  return errors;
}

/** Depth and cost of selections, with each fragment measured once. */
class MeasureWalk {
  readonly #schema: GraphQLSchema;
  readonly #fragments = new Map<string, FragmentDefinitionNode>();
  /** By fragment name and context: `name` outside introspection, `name/i` inside it. */
  readonly #measured = new Map<string, Measure>();
  readonly #onPath = new Set<string>();

  constructor(schema: GraphQLSchema, document: DocumentNode) {
    this.#schema = schema;
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) {
        this.#fragments.set(definition.name.value, definition);
      }
    }
  }

  selections(
    selectionSet: SelectionSetNode,
    parent: GraphQLNamedType,
    introspection: boolean,
  ): Measure {
    const total: Measure = { depth: 0, cost: 0 };
    const add = (measure: Measure) => {
      total.depth = Math.max(total.depth, measure.depth);
      total.cost = Math.min(COST_CEILING, total.cost + measure.cost);
    };
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        add(this.#field(selection, parent, introspection));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition
          ? this.#schema.getType(selection.typeCondition.name.value)
          : parent;
        if (type) add(this.selections(selection.selectionSet, type, introspection));
      } else {
        add(this.#fragment(selection.name.value, introspection));
      }
    }
    return total;
  }

  #fragment(name: string, introspection: boolean): Measure {
    const key = introspection ? `${name}/i` : name;
    const known = this.#measured.get(key);
    if (known !== undefined) return known;
    const fragment = this.#fragments.get(name);
    const type = fragment && this.#schema.getType(fragment.typeCondition.name.value);
    // Unknown fragments and types, and cycles, are validation's to report.
    if (!fragment || !type || this.#onPath.has(key)) return { depth: 0, cost: 0 };
    this.#onPath.add(key);
    const measure = this.selections(fragment.selectionSet, type, introspection);
    this.#onPath.delete(key);
    this.#measured.set(key, measure);
    return measure;
  }

  #field(node: FieldNode, parent: GraphQLNamedType, introspection: boolean): Measure {
    const field = this.#fieldOf(parent, node.name.value);
    if (field === null) {
      // Validation will refuse the unknown field; its nesting still counts, so that a deep pile
      // of unknown fields is refused here, before validation walks it.
      if (node.selectionSet === undefined) return { depth: 1, cost: 1 };
      const inner = this.selections(node.selectionSet, parent, introspection);
      return { depth: inner.depth + 1, cost: Math.min(COST_CEILING, 1 + inner.cost) };
    }
    const inIntrospection = introspection || node.name.value.startsWith("__");
    const ownCost = SERIES_COST[node.name.value] ?? 1;
    if (node.selectionSet === undefined) return { depth: 1, cost: ownCost };
    const child = getNamedType(field.type);
    if (!isCompositeType(child)) return { depth: 1, cost: ownCost };
    const inner = this.selections(node.selectionSet, child, inIntrospection);
    const multiplier = !inIntrospection && isListType(getNullableType(field.type)) &&
        SERIES_COST[node.name.value] === undefined
      ? LIST_FACTOR
      : 1;
    return {
      depth: inner.depth + 1,
      cost: Math.min(COST_CEILING, ownCost + multiplier * inner.cost),
    };
  }

  #fieldOf(parent: GraphQLNamedType, name: string): GraphQLField<unknown, unknown> | null {
    if (name === "__typename") return TypeNameMetaFieldDef;
    const isQuery = parent === this.#schema.getQueryType();
    if (name === "__schema" && isQuery) return SchemaMetaFieldDef;
    if (name === "__type" && isQuery) return TypeMetaFieldDef;
    if (isObjectType(parent) || isInterfaceType(parent)) return parent.getFields()[name] ?? null;
    return null;
  }
}
