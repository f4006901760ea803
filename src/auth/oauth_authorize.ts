/**
 * `/oauth/authorize`: the authorization-code grant's front door. GET shows the owner a consent
 * page in plain words (which app, which data, how far back, how fine-grained, which meters) after
 * sign-in; POST records the decision: approve creates an authorization (Subscription) and
 * redirects a single-use code, deny redirects `access_denied`.
 *
 * @module
 */

import { readForm } from "../http/body.ts";
import { escapeHtml, htmlPage, seeOther } from "../http/html.ts";
import type { Route, RouteContext } from "../http/routes.ts";
import { listMeters } from "../store/queries.ts";
import { usagePointIdFor } from "../store/usage_points.ts";
import {
  type AuthorizeRequest,
  clientRedirect,
  errorRedirect,
  validateAuthorizeRequest,
} from "./authorize_request.ts";
import { createAuthorization } from "./authorizations.ts";
import { CODE_EXPIRES_IN_S, issueCode } from "./codes.ts";
import { loginUrl } from "./owner_pages.ts";
import { describeScope } from "./scope.ts";
import { personPolicy, type ReadPolicy } from "./read_policy.ts";
import { findSessionRecord } from "./sessions.ts";

/** The GET (consent page) and POST (decision) routes. */
export function authorizeRoutes(): Route[] {
  return [
    { method: "GET", path: "/oauth/authorize", handler: showConsent },
    { method: "POST", path: "/oauth/authorize", handler: decide, origin: "own" },
  ];
}

function showConsent(request: Request, context: RouteContext): Response {
  const { db, nowMs } = context.services;
  const validation = validateAuthorizeRequest(db, context.url.searchParams);
  if (validation.kind === "fatal") return badRequestPage(validation.description);
  if (validation.kind === "redirect") return seeOther(validation.location);
  const session = findSessionRecord(db, request, nowMs());
  if (session === null) return seeOther(loginUrl(context.url.pathname + context.url.search));
  const policy = personPolicy(db, session.householdId);
  if (policy.householdId === null) return householdsOnlyPage();
  return consentPage(validation.request, meterChoices(context, policy));
}

async function decide(request: Request, context: RouteContext): Promise<Response> {
  const { db, nowMs } = context.services;
  const form = await readForm(request, { repeatable: ["usage_point"] });
  const session = findSessionRecord(db, request, nowMs());
  if (session === null) {
    return htmlPage("Signed out", "<p>Please sign in and start again from the app.</p>", {
      status: 401,
    });
  }
  const policy = personPolicy(db, session.householdId);
  if (policy.householdId === null) return householdsOnlyPage();
  const decision = form.get("decision");
  form.delete("decision");
  const chosen = form.getAll("usage_point");
  form.delete("usage_point");
  const validation = validateAuthorizeRequest(db, form);
  if (validation.kind === "fatal") return badRequestPage(validation.description);
  if (validation.kind === "redirect") return seeOther(validation.location);
  const authorizeRequest = validation.request;
  if (decision !== "approve") {
    return seeOther(errorRedirect(
      authorizeRequest.redirectUri,
      "access_denied",
      "the owner denied access",
      authorizeRequest.state,
    ));
  }
  // Only the household's own meters can be granted, whatever the form claims.
  const usagePointIds = [...new Set(chosen)].filter((id) => policy.usagePointIds.has(id));
  const authorization = createAuthorization(db, {
    clientId: authorizeRequest.app.clientId,
    scope: authorizeRequest.scope.text,
    usagePointIds,
    householdId: policy.householdId,
    nowMs: nowMs(),
    codePendingUntilMs: nowMs() + CODE_EXPIRES_IN_S * 1000,
  });
  const code = issueCode(db, {
    authorizationId: authorization.authorizationId,
    clientId: authorizeRequest.app.clientId,
    redirectUri: authorizeRequest.redirectUriGiven ? authorizeRequest.redirectUri : null,
    codeChallenge: authorizeRequest.codeChallenge,
    nowMs: nowMs(),
  });
  return seeOther(clientRedirect(authorizeRequest.redirectUri, { code }, authorizeRequest.state));
}

interface MeterChoice {
  usagePointId: string;
  label: string;
}

/** The meters this household may grant: its own. */
function meterChoices(context: RouteContext, policy: ReadPolicy): MeterChoice[] {
  const db = context.services.db;
  return listMeters(db).map((meter, index) => ({
    meter,
    index,
    usagePointId: usagePointIdFor(db, meter.meterKey),
  })).filter(({ usagePointId }) => policy.usagePointIds.has(usagePointId)).map((
    { meter, index, usagePointId },
  ) => ({
    usagePointId,
    // The owner's own page: naming the meter by its key is fine here, never in an ESPI href.
    label: `${meter.name ?? `Meter ${index + 1}`} (${meter.meterKey}), last heard ${
      new Date(meter.lastSeenMs).toISOString()
    }`,
  }));
}

function consentPage(request: AuthorizeRequest, meters: MeterChoice[]): Response {
  const hidden: Record<string, string | null> = {
    client_id: request.app.clientId,
    redirect_uri: request.redirectUriGiven ? request.redirectUri : null,
    response_type: "code",
    scope: request.scope.text,
    state: request.state,
    code_challenge: request.codeChallenge,
    code_challenge_method: request.codeChallenge === null ? null : "S256",
  };
  const hiddenInputs = Object.entries(hidden).filter(([, value]) => value !== null)
    .map(([name, value]) =>
      `<input type="hidden" name="${name}" value="${escapeHtml(value as string)}">`
    ).join("\n");
  const lines = describeScope(request.scope).map((line) => `<li>${escapeHtml(line)}</li>`)
    .join("\n");
  const meterInputs = meters.length === 0
    ? "<p>No meter has reported yet, so the app would see no data until you grant again.</p>"
    : meters.map((meter) =>
      `<p><label><input type="checkbox" name="usage_point" value="${
        escapeHtml(meter.usagePointId)
      }" checked> ${escapeHtml(meter.label)}</label></p>`
    ).join("\n");
  const destination = new URL(request.redirectUri);
  return htmlPage(
    `Allow “${request.app.name}” to read your energy data?`,
    `<p><strong>${escapeHtml(request.app.name)}</strong> asks to read data from this gateway.
After you approve, it is sent to <strong>${
      escapeHtml(destination.host || destination.protocol)
    }</strong>.</p>
<ul>
${lines}
</ul>
<form method="post" action="/oauth/authorize">
${hiddenInputs}
<fieldset><legend>Which meters</legend>
${meterInputs}
</fieldset>
<p>You can revoke this at any time under <a href="/owner/authorizations">your authorizations</a>.</p>
<p><button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button></p>
</form>`,
  );
}

/** The administrator of a building owns no meter data, so it grants none. */
function householdsOnlyPage(): Response {
  return htmlPage(
    "Sign in as a household",
    `<p>You are signed in as the gateway's administrator, who owns no meter data. Each household
grants access to its own meters: <a href="/owner/login">sign in as the household</a>.</p>`,
    { status: 403 },
  );
}

function badRequestPage(description: string): Response {
  return htmlPage(
    "This request cannot be authorized",
    `<p>${escapeHtml(description)}</p><p>Nothing was shared. Please tell the app's provider.</p>`,
    { status: 400 },
  );
}
