/**
 * The authorization server's routes in one list: the OAuth 2.0 endpoints, their metadata and the
 * owner's sign-in and authorization pages.
 *
 * @module
 */

import type { Route } from "../http/routes.ts";
import { authorizeRoutes } from "./oauth_authorize.ts";
import { metadataRoutes } from "./oauth_metadata.ts";
import { revokeRoutes } from "./oauth_revoke.ts";
import { tokenRoutes } from "./oauth_token.ts";
import { ownerAuthorizationRoutes } from "./owner_authorizations.ts";
import { ownerHouseholdRoutes } from "./owner_households.ts";
import { ownerSignInRoutes } from "./owner_pages.ts";

/** Every route of `src/auth`. */
export function authRoutes(): Route[] {
  return [
    ...metadataRoutes(),
    ...authorizeRoutes(),
    ...tokenRoutes(),
    ...revokeRoutes(),
    ...ownerSignInRoutes(),
    ...ownerAuthorizationRoutes(),
    ...ownerHouseholdRoutes(),
  ];
}
