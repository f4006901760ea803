/**
 * A household's view of who may read its meter data: `/owner/authorizations` lists the
 * authorizations it granted in plain words, and `POST /owner/authorizations/:id/revoke` ends one (its tokens
 * stop working at once).
 *
 * @module
 */

import { escapeHtml, htmlPage, seeOther } from "../http/html.ts";
import type { Route, RouteContext } from "../http/routes.ts";
import { findApp } from "./apps.ts";
import { findAuthorization, listAuthorizations, revokeAuthorization } from "./authorizations.ts";
import { HOUSEHOLDS_PAGE } from "./owner_households.ts";
import { loginUrl, OWNER_HOME } from "./owner_pages.ts";
import { describeScope, parseScope } from "./scope.ts";
import { personPolicy } from "./read_policy.ts";
import { findSessionRecord } from "./sessions.ts";

/** The list and revoke routes. */
export function ownerAuthorizationRoutes(): Route[] {
  return [
    { method: "GET", path: OWNER_HOME, handler: showAuthorizations },
    { method: "POST", path: `${OWNER_HOME}/:id/revoke`, handler: revoke, origin: "own" },
  ];
}

function showAuthorizations(request: Request, context: RouteContext): Response {
  const { db, nowMs } = context.services;
  const session = findSessionRecord(db, request, nowMs());
  if (session === null) return seeOther(loginUrl(OWNER_HOME));
  const policy = personPolicy(db, session.householdId);
  const householdId = policy.householdId;
  // The administrator of a building owns no data, so it has no authorizations to list.
  const own = householdId === null ? [] : listAuthorizations(db, { householdId });
  const items = own.map((authorization) => {
    const app = findApp(db, authorization.clientId);
    const lines = describeScope(parseScope(authorization.scope))
      .map((line) => `<li>${escapeHtml(line)}</li>`).join("");
    const since = new Date(authorization.createdMs).toISOString();
    const state = authorization.status === "active"
      ? `<form method="post" action="${OWNER_HOME}/${
        encodeURIComponent(authorization.authorizationId)
      }/revoke"><button type="submit">Revoke</button></form>`
      : `<p>Revoked ${new Date(authorization.revokedMs ?? 0).toISOString()}.</p>`;
    return `<li><h2>${escapeHtml(app?.name ?? "(removed app)")}</h2>
<p>Granted ${since} for ${authorization.usagePointIds.length} meter(s).</p><ul>${lines}</ul>
${state}</li>`;
  });
  return htmlPage(
    "Who can read your energy data",
    `${items.length === 0 ? "<p>No app has access.</p>" : `<ul>${items.join("\n")}</ul>`}
${
      policy.administrator
        ? `<p><a href="${HOUSEHOLDS_PAGE}">Households and meters</a> (administrator)</p>\n`
        : ""
    }<form method="post" action="/owner/logout"><button type="submit">Sign out</button></form>`,
  );
}

function revoke(request: Request, context: RouteContext): Response {
  const { db, nowMs } = context.services;
  const session = findSessionRecord(db, request, nowMs());
  if (session === null) return seeOther(loginUrl(OWNER_HOME));
  const id = context.params.id ?? "";
  const householdId = personPolicy(db, session.householdId).householdId;
  // Another household's authorization looks exactly like one that does not exist.
  if (householdId === null || findAuthorization(db, id)?.householdId !== householdId) {
    return htmlPage("Not found", "<p>No such authorization.</p>", { status: 404 });
  }
  revokeAuthorization(db, id, nowMs());
  return seeOther(OWNER_HOME);
}
