/**
 * The owner's actions: rename a meter, confirm a utility message on the radio, revoke an
 * authorization, register or approve an app, turn the household's export switch. Each calls the module that owns the concern
 * (`src/store`, the link supervisor, `src/auth`) and turns its refusals into typed errors.
 *
 * @module
 */

import { type AppInfo, findApp, registerApp, type RegisteredApp } from "../auth/apps.ts";
import {
  type AuthorizationRecord,
  createAuthorization,
  findAuthorization,
  revokeAuthorization,
} from "../auth/authorizations.ts";
import { parseScope, ScopeError, scopeWithin } from "../auth/scope.ts";
import { findHousehold, type Household, setExportAllowed } from "../store/households.ts";
import { setMeterName } from "../store/meter_names.ts";
import type { GraphqlContext } from "./context.ts";
import { apiError } from "./errors.ts";
import { isConfirmable, withCurrent } from "./messages.ts";
import { meterById, meterKeyFor, type MeterModel } from "./meters.ts";

export interface MessageConfirmation {
  meterId: string;
  messageId: string;
  sentAtMs: number;
}

export interface RegisterAppInput {
  name: string;
  redirectUris: string[];
  scopes?: string[] | null;
  isPublic?: boolean | null;
}

export interface ApproveAppInput {
  appId: string;
  meterIds: string[];
  scope?: string | null;
}

export function renameMeter(
  context: GraphqlContext,
  args: { id: string; name?: string | null },
): MeterModel {
  const { db } = context.services;
  const meterKey = meterKeyFor(db, context.access, args.id);
  try {
    setMeterName(db, meterKey, args.name ?? null);
  } catch (error) {
    if (error instanceof RangeError) throw apiError("BAD_USER_INPUT", error.message);
    throw error;
  }
  return meterById(db, context.access, args.id);
}

/** Sends `confirm_message` through the supervisor of the meter's radio; resolves once written. */
export async function confirmMessage(
  context: GraphqlContext,
  args: { meterId: string; messageId: string },
): Promise<MessageConfirmation> {
  const meter = meterById(context.services.db, context.access, args.meterId);
  const message = withCurrent(meter.latest("messages"))
    .find((message) => message.messageId === args.messageId);
  if (message === undefined) {
    throw apiError("NOT_FOUND", `meter ${args.meterId} has no message ${args.messageId}`);
  }
  if (!isConfirmable(message)) {
    throw apiError(
      "NOT_CONFIRMABLE",
      !message.current
        ? `message ${args.messageId} is no longer the meter's current message; the radio holds ` +
          "only the newest one, so an older message can no longer be confirmed"
        : message.confirmed
        ? `message ${args.messageId} is already confirmed`
        : `message ${args.messageId} does not ask for confirmation`,
    );
  }
  const supervisor = context.gateway.supervisors.find((s) => s.port === meter.summary.port);
  if (supervisor === undefined || supervisor.state !== "connected") {
    throw apiError(
      "RADIO_UNAVAILABLE",
      `the meter's radio is ${supervisor?.state ?? "not configured"}; try again once connected`,
    );
  }
  // The key is the meter MAC unless the radio never named its meter; then the radio picks.
  const meterMac = /^0x[0-9a-f]+$/.test(meter.meterKey) ? meter.meterKey : undefined;
  try {
    await supervisor.send({ name: "confirmMessage", meter: meterMac, messageId: args.messageId });
  } catch (error) {
    throw apiError("RADIO_UNAVAILABLE", `the command was not sent: ${(error as Error).message}`);
  }
  return { meterId: args.meterId, messageId: args.messageId, sentAtMs: context.services.nowMs() };
}

export function revokeAppAuthorization(
  context: GraphqlContext,
  args: { id: string },
): AuthorizationRecord {
  const { db, nowMs } = context.services;
  // Another household's authorization looks exactly like one that does not exist.
  if (findAuthorization(db, args.id)?.householdId !== context.access.householdId) {
    throw apiError("NOT_FOUND", `no authorization with id ${args.id}`);
  }
  revokeAuthorization(db, args.id, nowMs());
  return findAuthorization(db, args.id)!;
}

export function registerNewApp(
  context: GraphqlContext,
  args: { input: RegisterAppInput },
): RegisteredApp {
  try {
    return registerApp(context.services.db, {
      name: args.input.name,
      redirectUris: args.input.redirectUris,
      scopes: args.input.scopes ?? undefined,
      isPublic: args.input.isPublic ?? false,
      nowMs: context.services.nowMs(),
    });
  } catch (error) {
    if (error instanceof RangeError) throw apiError("BAD_USER_INPUT", error.message);
    throw error;
  }
}

/** Grants an app meters, as the consent page's "Allow" does, within a scope it registered. */
export function approveApp(
  context: GraphqlContext,
  args: { input: ApproveAppInput },
): AuthorizationRecord {
  const { db, nowMs } = context.services;
  const app = findApp(db, args.input.appId);
  if (app === null) throw apiError("NOT_FOUND", `no app with id ${args.input.appId}`);
  const householdId = context.access.householdId;
  const meterIds = [...new Set(args.input.meterIds)];
  if (meterIds.length === 0) throw apiError("BAD_USER_INPUT", "grant at least one meter");
  for (const meterId of meterIds) meterKeyFor(db, context.access, meterId);
  if (householdId === null) throw apiError("FORBIDDEN", ADMINISTRATOR_GRANTS_NOTHING);
  return createAuthorization(db, {
    clientId: app.clientId,
    scope: grantedScope(app, args.input.scope ?? null),
    usagePointIds: meterIds,
    householdId,
    nowMs: nowMs(),
  });
}

/** The signed-in household's export switch (`@household` in the SDL: a household is signed in). */
export function setHouseholdExport(
  context: GraphqlContext,
  args: { allowed: boolean },
): Household {
  const { db, nowMs } = context.services;
  const householdId = context.access.householdId!;
  setExportAllowed(db, householdId, args.allowed, nowMs());
  return findHousehold(db, householdId)!;
}

const ADMINISTRATOR_GRANTS_NOTHING =
  "the administrator owns no meter data; sign in as the household that owns the meters";

function grantedScope(app: AppInfo, requested: string | null): string {
  if (requested === null) return app.scopes[0];
  let scope;
  try {
    scope = parseScope(requested);
  } catch (error) {
    if (error instanceof ScopeError) throw apiError("BAD_USER_INPUT", error.message);
    throw error;
  }
  if (!app.scopes.some((registered) => scopeWithin(scope, parseScope(registered)))) {
    throw apiError("BAD_USER_INPUT", `the app registered no scope covering '${scope.text}'`);
  }
  return scope.text;
}
