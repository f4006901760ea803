/**
 * The administrator's page of households and meters: `/owner/households` lists every household
 * (sign-in state, export switch) and every meter with a form to give it to a household, and
 * `POST /owner/households/assign` does so. Only the administrator's session may use it; a
 * household's session gets exactly the 404 of a path that does not exist. Adding, re-keying and
 * removing households stays on the command line (`openseg households`), where setup codes are
 * printed to the person at the box.
 *
 * @module
 */

import { readForm } from "../http/body.ts";
import { jsonError } from "../http/errors.ts";
import { escapeHtml, htmlPage, seeOther } from "../http/html.ts";
import type { Route, RouteContext } from "../http/routes.ts";
import { findManagedMeter } from "../store/household_meters.ts";
import { assignMeter, findHouseholdByName } from "../store/households.ts";
import {
  type HouseholdOverview,
  householdsOverview,
  type OverviewMeter,
} from "./household_overview.ts";
import { loginUrl } from "./owner_pages.ts";
import { personPolicy } from "./read_policy.ts";
import { findSessionRecord } from "./sessions.ts";

/** The administrator's page of households and meters. */
export const HOUSEHOLDS_PAGE = "/owner/households";

/** The page and its assign form. */
export function ownerHouseholdRoutes(): Route[] {
  return [
    { method: "GET", path: HOUSEHOLDS_PAGE, handler: showHouseholds },
    { method: "POST", path: `${HOUSEHOLDS_PAGE}/assign`, handler: assign, origin: "own" },
  ];
}

/** What a request to these pages is: the administrator's, someone else's, or nobody's. */
type Visitor = "administrator" | "household" | "signed-out";

function visitor(request: Request, context: RouteContext): Visitor {
  const { db, nowMs } = context.services;
  const session = findSessionRecord(db, request, nowMs());
  if (session === null) return "signed-out";
  return personPolicy(db, session.householdId).administrator ? "administrator" : "household";
}

/** A household is not told this page exists: the router's answer for an unknown path. */
function noSuchPage(): Response {
  return jsonError(404, "not_found", "no such resource");
}

function showHouseholds(request: Request, context: RouteContext): Response {
  const who = visitor(request, context);
  if (who === "household") return noSuchPage();
  if (who === "signed-out") return seeOther(loginUrl(HOUSEHOLDS_PAGE));
  const overview = householdsOverview(context.services.db, context.services.nowMs());
  const households = overview.households.map(householdRow).join("\n");
  // Code-unit order of unique keys: localeCompare would load ICU's collation tables (~2 MB
  // resident for as long as the gateway runs) to order ASCII ids.
  const everyMeter = [
    ...overview.households.flatMap((household) =>
      household.meters.map((meter) => ({ meter, householdId: household.householdId }))
    ),
    ...overview.unassignedMeters.map((meter) => ({ meter, householdId: null })),
  ].sort((a, b) => a.meter.meterKey < b.meter.meterKey ? -1 : 1);
  const meters = everyMeter.map(({ meter, householdId }) =>
    meterRow(meter, householdId, overview.households, !overview.singleHome)
  ).join("\n");
  const note = overview.singleHome
    ? `<p>This is a single home: its one household owns every meter. Add a household with
<code>openseg households add NAME</code> on the gateway to share it.</p>`
    : `<p>Each household signs in at <a href="/owner/login">/owner/login</a> with its name and
sees only its own meters. A meter given to no one is read by nobody.</p>`;
  return htmlPage(
    "Households and meters",
    `${note}
<table>
<thead><tr><th>Id</th><th>Household</th><th>Sign-in</th><th>Exports</th><th>Meters</th></tr></thead>
<tbody>
${households}
</tbody>
</table>
<h2>Meters</h2>
${
      everyMeter.length === 0 ? "<p>No meter has been heard yet.</p>" : `<table>
<thead><tr><th>Meter</th><th>Name</th><th>Usage point</th><th>Household</th></tr></thead>
<tbody>
${meters}
</tbody>
</table>`
    }
<p>Add, re-key or remove households with <code>openseg households</code> on the gateway.</p>
<p><a href="/owner/authorizations">Back</a></p>`,
  );
}

function householdRow(household: HouseholdOverview): string {
  return `<tr><td>${household.householdId}</td><td>${escapeHtml(household.name)}</td><td>${
    escapeHtml(household.signIn)
  }</td><td>${household.exportAllowed ? "on" : "off"}</td><td>${household.meters.length}</td></tr>`;
}

/** A meter's row; when `assignable` (a building), with a form to give it to a household. */
function meterRow(
  meter: OverviewMeter,
  householdId: number | null,
  households: HouseholdOverview[],
  assignable: boolean,
): string {
  const key = escapeHtml(meter.meterKey);
  const cells = `<tr><td>${key}</td><td>${escapeHtml(meter.name ?? "")}</td><td>${
    escapeHtml(meter.usagePointId)
  }</td>`;
  if (!assignable) {
    const owner = households.find((household) => household.householdId === householdId);
    return `${cells}<td>${escapeHtml(owner?.name ?? "")}</td></tr>`;
  }
  const options = [
    `<option value=""${householdId === null ? " selected" : ""}>(no one)</option>`,
    ...households.map((household) =>
      `<option value="${household.householdId}"${
        household.householdId === householdId ? " selected" : ""
      }>${household.householdId} ${escapeHtml(household.name)}</option>`
    ),
  ].join("");
  return `${cells}<td><form method="post" action="${HOUSEHOLDS_PAGE}/assign">
<input type="hidden" name="meter" value="${key}">
<select name="household" aria-label="Household of meter ${key}">${options}</select>
<button type="submit">Assign</button></form></td></tr>`;
}

async function assign(request: Request, context: RouteContext): Promise<Response> {
  const who = visitor(request, context);
  if (who === "household") return noSuchPage();
  if (who === "signed-out") return seeOther(loginUrl(HOUSEHOLDS_PAGE));
  const { db } = context.services;
  const form = await readForm(request);
  const householdField = (form.get("household") ?? "").slice(0, 128);
  const household = householdField.trim() === "" ? null : findHouseholdByName(db, householdField);
  if (household === null && householdField.trim() !== "") {
    return refusal(404, "No such household.");
  }
  let meter;
  try {
    meter = findManagedMeter(db, (form.get("meter") ?? "").slice(0, 128));
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return refusal(400, `${error.message}.`);
  }
  if (meter === null) return refusal(404, "No such meter.");
  // A single home's household owns every meter whatever is stored: an assignment would be a no-op.
  if (householdsOverview(db, context.services.nowMs()).singleHome) {
    return refusal(409, "This is a single home: its one household owns every meter.");
  }
  assignMeter(db, meter.meterKey, household?.householdId ?? null);
  return seeOther(HOUSEHOLDS_PAGE);
}

function refusal(status: number, message: string): Response {
  return htmlPage(
    "Not assigned",
    `<p role="alert">${escapeHtml(message)} Nothing was changed.</p>
<p><a href="${HOUSEHOLDS_PAGE}">Back to the households</a></p>`,
    { status },
  );
}
