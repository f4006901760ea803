/**
 * The owner's sign-in pages: `/owner/login` (password form), `/owner/logout` and `/owner/setup`
 * (first run: the console's one-time setup code sets the password). Plain HTML forms; every POST
 * must come from this gateway's own pages (`origin: "own"`, checked by the guard chain) and the cookie
 * is `SameSite=Strict`. Sign-in and setup declare their failure budgets (`rateLimit`): the chain
 * reserves each attempt before the handler checks the password or the code.
 *
 * @module
 */

import { readForm } from "../http/body.ts";
import { escapeHtml, htmlPage, seeOther } from "../http/html.ts";
import { reservedAttempt } from "../http/guards/rate_limit.ts";
import { sameOriginPath } from "../http/redirect_target.ts";
import type { ReservedAttempt, Route, RouteContext, RouteRateLimit } from "../http/routes.ts";
import { findHouseholdByName, householdCount } from "../store/households.ts";
import {
  type Account,
  accountForSetupCode,
  ADMINISTRATOR,
  checkOwnerPassword,
  checkPasswordOfNoOne,
  MIN_PASSWORD_LENGTH,
  ownerHasPassword,
  passwordProblem,
  setOwnerPassword,
  setupPending,
} from "./owner.ts";
import { HASH_BUSY_RETRY_AFTER_S, HashingBusyError } from "./hash_slots.ts";
import { clearSessionCookie, createSession, endSession, findSession } from "./sessions.ts";

/** Where the owner lands after signing in without a `next`. */
export const OWNER_HOME = "/owner/authorizations";

/** The login, logout and setup routes. */
export function ownerSignInRoutes(): Route[] {
  return [
    { method: "GET", path: "/owner", handler: () => seeOther(OWNER_HOME) },
    { method: "GET", path: "/owner/login", handler: showLogin },
    { method: "POST", path: "/owner/login", handler: login, origin: "own", rateLimit: loginLimit },
    { method: "POST", path: "/owner/logout", handler: logout, origin: "own" },
    { method: "GET", path: "/owner/setup", handler: showSetup },
    { method: "POST", path: "/owner/setup", handler: setup, origin: "own", rateLimit: setupLimit },
  ];
}

/**
 * A local path to continue to after login (`redirect_target.ts` grammar); anything else
 * (`//evil`, `https://…`, control characters) goes home.
 */
export function safeNext(next: string | null): string {
  return sameOriginPath(next, OWNER_HOME);
}

/** The login page URL that returns to `path` afterwards. */
export function loginUrl(path: string): string {
  return `/owner/login?next=${encodeURIComponent(path)}`;
}

/** 429 page with `Retry-After`. */
export function tooManyAttemptsPage(retryAfterS: number): Response {
  return htmlPage(
    "Too many attempts",
    `<p>Too many failed attempts. Try again in ${retryAfterS} seconds.</p>`,
    { status: 429, headers: { "Retry-After": String(retryAfterS) } },
  );
}

/** 503 page with `Retry-After`: password hashing is at capacity. */
function busyPage(): Response {
  return htmlPage(
    "Busy",
    `<p>The gateway is busy checking other sign-ins. Try again in ${HASH_BUSY_RETRY_AFTER_S}
seconds.</p>`,
    { status: 503, headers: { "Retry-After": String(HASH_BUSY_RETRY_AFTER_S) } },
  );
}

/**
 * Runs password hashing for a reserved attempt; on overload the attempt is released (it guessed
 * nothing) and the answer is the 503 page.
 */
async function hashOrBusy<T>(
  attempt: ReservedAttempt,
  work: () => Promise<T>,
): Promise<T | Response> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof HashingBusyError)) throw error;
    attempt.release();
    return busyPage();
  }
}

function showLogin(_request: Request, context: RouteContext): Response {
  const db = context.services.db;
  if (!ownerHasPassword(db)) return setupNeededPage();
  return loginPage(safeNext(context.url.searchParams.get("next")), null, 200, askAccount(db));
}

/** A building's sign-in page asks whose account; a single home's asks only the password. */
function askAccount(db: RouteContext["services"]["db"]): boolean {
  return householdCount(db) > 1;
}

/**
 * The account a login form names: the administrator when the field is empty (always, in a single
 * home), else the household of that name or number; null when there is none.
 */
function accountNamed(db: RouteContext["services"]["db"], name: string): Account | null {
  if (!askAccount(db) || name.trim() === "" || /^administrator$/i.test(name.trim())) {
    return ADMINISTRATOR;
  }
  const household = findHouseholdByName(db, name);
  return household === null ? null : { kind: "household", householdId: household.householdId };
}

/**
 * One sign-in budget per account, however it is spelled; unknown names share one. Without a
 * password yet there is nothing to guess: the setup hint answers, uncounted.
 */
const loginLimit: RouteRateLimit = {
  endpoint: "login",
  account: async (request, { services: { db } }) => {
    const form = await readForm(request);
    if (!ownerHasPassword(db)) return setupNeededPage();
    const account = formAccount(db, form);
    return account === null
      ? "unknown"
      : account.kind === "administrator"
      ? "owner"
      : `household|${account.householdId}`;
  },
  refused: tooManyAttemptsPage,
};

/** The account a login form names, or null when it names none. */
function formAccount(db: RouteContext["services"]["db"], form: URLSearchParams): Account | null {
  return accountNamed(db, (form.get("account") ?? "").slice(0, 128));
}

/** The attempt was reserved by the chain (`loginLimit`) before this runs. */
async function login(request: Request, context: RouteContext): Promise<Response> {
  const { db, nowMs } = context.services;
  const attempt = reservedAttempt(context);
  const form = await readForm(request);
  const next = safeNext(form.get("next"));
  const account = formAccount(db, form);
  const password = form.get("password") ?? "";
  // An unknown household costs the same hash as a wrong password: the answer tells nothing.
  const matches = await hashOrBusy(
    attempt,
    () =>
      account === null ? checkPasswordOfNoOne(password) : checkOwnerPassword(db, password, account),
  );
  if (matches instanceof Response) return matches;
  const ask = askAccount(db);
  if (!matches) {
    return loginPage(next, ask ? "Wrong household or password." : "Wrong password.", 401, ask);
  }
  attempt.succeeded();
  const session = createSession(db, {
    nowMs: nowMs(),
    secure: context.services.secure,
    householdId: account?.kind === "household" ? account.householdId : null,
  });
  return seeOther(next, { "Set-Cookie": session.setCookie });
}

function logout(request: Request, context: RouteContext): Response {
  const { db, nowMs, secure } = context.services;
  const sessionId = findSession(db, request, nowMs());
  if (sessionId !== null) endSession(db, sessionId);
  return seeOther("/owner/login", { "Set-Cookie": clearSessionCookie(secure) });
}

function showSetup(_request: Request, context: RouteContext): Response {
  const { db, nowMs } = context.services;
  if (!setupPending(db, nowMs())) return seeOther("/owner/login");
  return setupPage(null, 200);
}

/** Setup has one budget per address; once done, the form only points to the sign-in page. */
const setupLimit: RouteRateLimit = {
  endpoint: "setup",
  account: async (request, { services: { db, nowMs } }) => {
    if (!setupPending(db, nowMs())) return seeOther("/owner/login");
    // A body that is no form is refused (415) before anything is counted.
    await readForm(request);
    return "owner";
  },
  refused: tooManyAttemptsPage,
};

/** The attempt was reserved by the chain (`setupLimit`) before this runs. */
async function setup(request: Request, context: RouteContext): Promise<Response> {
  const { db, nowMs } = context.services;
  const attempt = reservedAttempt(context);
  const form = await readForm(request);
  // The code says whose account this is: the administrator's, or the household it was made for.
  const account = accountForSetupCode(db, form.get("setup_code") ?? "", nowMs());
  if (account === null) {
    return setupPage("That setup code is not the one printed on the console.", 401);
  }
  // The right code is proof enough: what follows is about the new password, not a guess.
  attempt.succeeded();
  const password = form.get("password") ?? "";
  const problem = passwordProblem(password);
  if (problem !== null) return setupPage(`Not set: ${problem}.`, 400);
  if (password !== form.get("password_again")) {
    return setupPage("Not set: the two passwords differ.", 400);
  }
  const set = await hashOrBusy(attempt, () => setOwnerPassword(db, password, nowMs(), account));
  if (set instanceof Response) return set;
  const session = createSession(db, {
    nowMs: nowMs(),
    secure: context.services.secure,
    householdId: account.kind === "household" ? account.householdId : null,
  });
  return seeOther(OWNER_HOME, { "Set-Cookie": session.setCookie });
}

function loginPage(
  next: string,
  message: string | null,
  status: number,
  askAccount = false,
): Response {
  const accountField = askAccount
    ? `<p><label>Household (name or number; empty for the administrator) <input name="account"
 autocomplete="username"></label></p>\n`
    : "";
  return htmlPage(
    "Sign in",
    `${message ? `<p role="alert">${escapeHtml(message)}</p>` : ""}
<form method="post" action="/owner/login">
<input type="hidden" name="next" value="${escapeHtml(next)}">
${accountField}<p><label>Password <input type="password" name="password" autocomplete="current-password"
 required autofocus></label></p>
<p><button type="submit">Sign in</button></p>
</form>`,
    { status },
  );
}

function setupNeededPage(): Response {
  return htmlPage(
    "No password yet",
    `<p>This gateway has no owner password yet. <a href="/owner/setup">Set it up</a> with the code
printed on the gateway's console, or run <code>openseg admin set-password</code>.</p>`,
    { status: 409 },
  );
}

function setupPage(message: string | null, status: number): Response {
  return htmlPage(
    "Set the owner password",
    `${message ? `<p role="alert">${escapeHtml(message)}</p>` : ""}
<form method="post" action="/owner/setup">
<p><label>Setup code (printed on the console, or given to you by the administrator) <input name="setup_code" autocomplete="off"
 required></label></p>
<p><label>New password (at least ${MIN_PASSWORD_LENGTH} characters) <input type="password"
 name="password" autocomplete="new-password" minlength="${MIN_PASSWORD_LENGTH}" required></label></p>
<p><label>Again <input type="password" name="password_again" autocomplete="new-password"
 required></label></p>
<p><button type="submit">Set password</button></p>
</form>`,
    { status },
  );
}
