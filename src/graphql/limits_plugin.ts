/**
 * The query limits (`limits.ts`) as a yoga plugin, at the earliest point each can be checked: the
 * document's size before parsing, the parser's token limit while parsing, and depth, aliases and
 * cost before validation. Also makes every refusal without `data` a 4xx under `application/json`.
 *
 * @module
 */

import {
  type DocumentNode,
  type ExecutionResult,
  GraphQLError,
  parse,
  type ParseOptions,
  type Source,
} from "graphql";
import { isAsyncIterable, type Plugin } from "graphql-yoga";
import { documentSizeError, limitError, queryLimitErrors, type QueryLimits } from "./limits.ts";

/**
 * Enforces `limits` before any expensive work: the document's size before parsing, the parser's
 * token limit while parsing, and depth, aliases and cost before validation (a refused document is
 * never validated, let alone executed).
 */
export function limitsPlugin(limits: QueryLimits): Plugin {
  const refusals = new WeakMap<DocumentNode, GraphQLError[]>();
  const parseWithLimit = limitedParser(limits);
  return {
    onParams({ params, setResult }) {
      const refusal = typeof params.query === "string"
        ? documentSizeError(params.query, limits)
        : null;
      if (refusal !== null) setResult({ errors: [refusal] });
    },
    onParse({ setParseFn }) {
      setParseFn(parseWithLimit);
    },
    onValidate({ params, setResult }) {
      let errors = refusals.get(params.documentAST);
      if (errors === undefined) {
        errors = queryLimitErrors(params.schema, params.documentAST, limits);
        refusals.set(params.documentAST, errors);
      }
      if (errors.length > 0) setResult(errors);
    },
    onExecutionResult({ result }) {
      if (result && !Array.isArray(result) && !isAsyncIterable(result)) noDataIsNotSuccess(result);
    },
  };
}

/**
 * graphql-js's `parse` that stops after `limits.maxTokens` tokens with a `QUERY_TOO_LARGE` refusal
 * (other syntax errors are thrown as they are).
 */
export function limitedParser(
  limits: QueryLimits,
): (source: string | Source, options?: ParseOptions) => DocumentNode {
  return (source, options) => {
    try {
      return parse(source, { ...options, maxTokens: limits.maxTokens });
    } catch (error) {
      // graphql-js 16 says "contains more that N tokens" (sic); a fix must not break this.
      if (!(error instanceof GraphQLError) || !/more th\w+ \d+ tokens/.test(error.message)) {
        throw error;
      }
      throw limitError(
        "QUERY_TOO_LARGE",
        `the document has more than ${limits.maxTokens} tokens; parsing stopped there`,
      );
    }
  };
}

/**
 * A result without `data` (a document refused before execution) gets its error's 4xx also under
 * `application/json`, for which yoga would follow the legacy rule and answer 200.
 */
function noDataIsNotSuccess(result: ExecutionResult): void {
  if ("data" in result || !result.errors) return;
  for (const error of result.errors) {
    const http = error.extensions?.http as { spec?: boolean } | undefined;
    if (http !== undefined) http.spec = false;
  }
}
