/**
 * Queries and mutations against the gateway's `/graphql` with the owner's session cookie. The
 * body is JSON, which the gateway's CSRF rule requires of cookie requests.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />

export const GRAPHQL_PATH = "/graphql";

/** A refusal or failure, with the API's `extensions.code` when it gave one. */
export class GraphqlError extends Error {
  constructor(message: string, readonly code: string | null, readonly status: number) {
    super(message);
    this.name = "GraphqlError";
  }
}

/** True when the owner is not signed in (no session, or it expired). */
export function isSignedOut(error: unknown): boolean {
  return error instanceof GraphqlError && error.code === "UNAUTHENTICATED";
}

interface GraphqlBody<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** Runs a query or mutation; resolves its data or throws `GraphqlError`. */
export async function graphql<T>(
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(GRAPHQL_PATH, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/graphql-response+json, application/json",
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new GraphqlError("the gateway cannot be reached", null, 0);
  }
  const body = await response.json().catch(() => ({})) as GraphqlBody<T>;
  const first = body.errors?.[0];
  if (first !== undefined) {
    throw new GraphqlError(first.message, first.extensions?.code ?? null, response.status);
  }
  if (!response.ok || body.data === undefined || body.data === null) {
    throw new GraphqlError(`the gateway answered ${response.status}`, null, response.status);
  }
  return body.data;
}
