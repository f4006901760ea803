/**
 * Enforces the SDL's `@grantedData` directive: an app whose grant lacks the kind of data a
 * selected field is (see `src/auth/granted_data.ts`: the kinds its scope's ESPI function blocks
 * grant) has the whole operation refused with one `FORBIDDEN` error that names those fields and the
 * function blocks that would grant them. Refusing the whole operation, rather than nulling fields,
 * means an app never mistakes "not granted" for "no data". The kinds a caller may read come from
 * its read policy (`src/auth/read_policy.ts`): a household reads all of its meters' data, the
 * administrator of a building only basic meter information.
 *
 * Checked when an operation executes or subscribes, not in validation: yoga caches validation
 * results per document for every caller, and this answer depends on the caller. What an operation
 * selects is worked out once per operation node (yoga's parser cache hands out the same document
 * for the same text), so a repeated query costs a map lookup and a few set checks.
 *
 * @module
 */

import type { Plugin } from "graphql-yoga";
import {
  type ASTNode,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FragmentDefinitionNode,
  getOperationAST,
  type GraphQLField,
  type GraphQLSchema,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from "graphql";
import {
  functionBlocksInWords,
  GRANTED_DATA,
  GRANTED_DATA_KINDS,
  type GrantedData,
} from "../auth/granted_data.ts";
import type { Access } from "./access.ts";
import type { GraphqlContext } from "./context.ts";
import { apiError } from "./errors.ts";

const DIRECTIVE = "grantedData";

const ADMINISTRATOR_REFUSAL = "the administrator reads no household's meter readings; " +
  "sign in as the household that owns the meter";

// deno-lint-ignore no-explicit-any
type AnyField = GraphQLField<any, any>;

/** A selected field that needs a kind of data, by its schema coordinate (`Meter.demand`). */
interface NeededField {
  coordinate: string;
  data: GrantedData;
}

/** The `GrantedData` enum's internal values: the table's kinds, so the drift check compares them. */
export const GRANTED_DATA_ENUM: Record<GrantedData, GrantedData> = Object.fromEntries(
  GRANTED_DATA_KINDS.map((kind) => [kind, kind]),
) as Record<GrantedData, GrantedData>;

/** Every `@grantedData` field of `schema` with its kind; throws on a kind the table lacks. */
export function grantedDataFields(schema: GraphQLSchema): Map<AnyField, GrantedData> {
  const fields = new Map<AnyField, GrantedData>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith("__")) continue;
    for (const field of Object.values(type.getFields())) {
      const directive = field.astNode?.directives?.find((node) => node.name.value === DIRECTIVE);
      const value = directive?.arguments?.find((argument) => argument.name.value === "data")?.value;
      if (value === undefined) continue;
      if (value.kind !== Kind.ENUM || !Object.hasOwn(GRANTED_DATA, value.value)) {
        throw new Error(`${type.name}.${field.name}: @grantedData names no kind of granted data`);
      }
      fields.set(field, value.value as GrantedData);
    }
  }
  return fields;
}

/**
 * Why `access` may not run `operationName` of `document`, as the result to answer with, or null
 * when it may (or when there is no one operation to run: execution itself answers that).
 */
export type GrantedDataRefusal = (
  access: Access,
  document: DocumentNode,
  operationName: string | null | undefined,
) => ExecutionResult | null;

/** The check for `schema`, which must be the schema that executes. */
export function grantedDataRefusal(schema: GraphQLSchema): GrantedDataRefusal {
  const fields = grantedDataFields(schema);
  const needsByOperation = new WeakMap<OperationDefinitionNode, readonly NeededField[]>();
  return (access, document, operationName) => {
    if (access.grantedData.size === GRANTED_DATA_KINDS.length) return null;
    const operation = getOperationAST(document, operationName);
    if (!operation) return null;
    let needed = needsByOperation.get(operation);
    if (needed === undefined) {
      needed = neededFields(schema, fields, document, operation);
      needsByOperation.set(operation, needed);
    }
    if (needed.length === 0) return null;
    const missing = needed.filter((field) => !access.grantedData.has(field.data));
    if (missing.length === 0) return null;
    return {
      errors: [
        apiError(
          "FORBIDDEN",
          access.kind === "owner" ? ADMINISTRATOR_REFUSAL : message(missing),
        ),
      ],
    };
  };
}

/** The plugin for `schema`, which must be the schema yoga executes. */
export function grantedDataPlugin(schema: GraphQLSchema): Plugin<GraphqlContext> {
  const check = grantedDataRefusal(schema);
  const refusal = (args: ExecutionArgs) =>
    check((args.contextValue as GraphqlContext).access, args.document, args.operationName);
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const result = refusal(args);
      if (result !== null) setResultAndStopExecution(result);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const result = refusal(args);
      if (result !== null) setResultAndStopExecution(result);
    },
  };
}

/** The `@grantedData` fields an operation selects, through the fragments it spreads. */
function neededFields(
  schema: GraphQLSchema,
  fields: Map<AnyField, GrantedData>,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): NeededField[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) {
      fragments.set(definition.name.value, definition);
    }
  }
  const needed = new Map<string, GrantedData>();
  const spread = new Set<string>();
  const pending: ASTNode[] = [operation];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    const typeInfo = new TypeInfo(schema);
    visit(
      node,
      visitWithTypeInfo(typeInfo, {
        Field() {
          const field = typeInfo.getFieldDef();
          const data = field ? fields.get(field) : undefined;
          if (field && data !== undefined) {
            needed.set(`${typeInfo.getParentType()?.name}.${field.name}`, data);
          }
        },
        FragmentSpread(spreadNode) {
          const fragment = fragments.get(spreadNode.name.value);
          if (fragment !== undefined && !spread.has(fragment.name.value)) {
            spread.add(fragment.name.value);
            pending.push(fragment);
          }
        },
      }),
    );
  }
  return [...needed].map(([coordinate, data]) => ({ coordinate, data }));
}

/**
 * `this app's grant does not include power demand (ESPI function block 6): Meter.demand, …`, one
 * clause per missing kind in the table's order, and what to do about it.
 */
function message(missing: NeededField[]): string {
  const clauses = GRANTED_DATA_KINDS.flatMap((kind) => {
    const coordinates = missing.filter((field) => field.data === kind)
      .map((field) => field.coordinate);
    if (coordinates.length === 0) return [];
    return [
      `${GRANTED_DATA[kind].words} (${functionBlocksInWords(kind)}): ${coordinates.join(", ")}`,
    ];
  });
  return `this app's grant does not include ${clauses.join("; ")}. Leave these fields out, or ` +
    "ask the owner for a grant with those function blocks (viewer.grantedData lists what it has).";
}
