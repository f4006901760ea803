/**
 * `GET /.well-known/oauth-authorization-server` (RFC 8414): where the endpoints are and what
 * they support, so a client can configure itself from the gateway's base URL.
 *
 * @module
 */

import type { Route } from "../http/routes.ts";

/** The metadata route. */
export function metadataRoutes(): Route[] {
  return [{
    method: "GET",
    path: "/.well-known/oauth-authorization-server",
    handler: (_request, context) => {
      const base = context.services.publicBaseUrl;
      return Response.json({
        issuer: base,
        authorization_endpoint: `${base}/oauth/authorize`,
        token_endpoint: `${base}/oauth/token`,
        revocation_endpoint: `${base}/oauth/revoke`,
        response_types_supported: ["code"],
        response_modes_supported: ["query"],
        grant_types_supported: ["authorization_code", "refresh_token", "client_credentials"],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "none"],
        revocation_endpoint_auth_methods_supported: ["client_secret_basic", "none"],
        code_challenge_methods_supported: ["S256"],
      });
    },
  }];
}
