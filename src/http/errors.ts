/**
 * Short machine-readable errors: `{ "error": "...", "error_description": "..." }` (the OAuth 2.0
 * shape, used for every JSON error the gateway sends), and `HttpError`, which a handler throws to
 * answer with one.
 *
 * @module
 */

/** A request the handler refuses; the server turns it into a JSON error response. */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
  }
}

/** A JSON error response. */
export function jsonError(
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): Response {
  return Response.json({ error, error_description: description }, { status, headers });
}

/** The response for a thrown `HttpError`. */
export function httpErrorResponse(error: HttpError): Response {
  return jsonError(error.status, error.error, error.description, error.headers);
}
