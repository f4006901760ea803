/**
 * Introspection (`__schema`, `__type`) is for the gateway's owner: apps are refused at execution,
 * not validation, because yoga caches validation results by document and a cached owner result
 * must not let an app through. (`--graphql-dev` leaves the plugin out.)
 *
 * @module
 */

import { type DocumentNode, Kind, visit } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { GraphqlContext } from "./context.ts";
import { apiError } from "./errors.ts";

/** Refuses introspection to every caller but the owner. */
export function ownerIntrospectionPlugin(): Plugin<GraphqlContext> {
  const refusal = {
    errors: [apiError("FORBIDDEN", "introspection is only for the gateway's owner")],
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      if (args.contextValue.access.kind !== "owner" && introspects(args.document)) {
        setResultAndStopExecution(refusal);
      }
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      if (args.contextValue.access.kind !== "owner" && introspects(args.document)) {
        setResultAndStopExecution(refusal);
      }
    },
  };
}

/** True when the document selects `__schema` or `__type` anywhere. */
export function introspects(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    [Kind.FIELD](node) {
      if (node.name.value === "__schema" || node.name.value === "__type") found = true;
    },
  });
  return found;
}
