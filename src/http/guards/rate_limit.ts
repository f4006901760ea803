/**
 * The rate-limit guard, the step between admission and the handler: a route that declares
 * `rateLimit` (sign-in, setup, token, revocation) has one attempt reserved from its budget before
 * its handler runs. A spent budget gets the route's own refusal and the handler never runs; else
 * the handler finds the attempt in its context and only says `succeeded()` or `release()`.
 *
 * It runs after the body is read (the account usually comes from the form; `readForm` parses a
 * request once, so the handler's read costs nothing) and reserves in one synchronous step
 * (`RateLimiter`), so concurrent guesses cannot overtake the reservation.
 *
 * @module
 */

import type {
  RateLimiter,
  ReservedAttempt,
  Route,
  RouteContext,
  RouteRateLimit,
} from "../routes.ts";

/** The attempt reserved for this request under `limit`, or a `Response` that answers instead. */
export async function reserveRouteAttempt(
  request: Request,
  limit: RouteRateLimit,
  context: RouteContext,
  limiter: RateLimiter | undefined,
): Promise<ReservedAttempt | Response> {
  // Unreachable when the server started (`checkRateLimiter`); a type cannot say so.
  if (limiter === undefined) throw new Error(`no rate limiter for '${limit.endpoint}'`);
  const account = await limit.account(request, context);
  if (account instanceof Response) return account;
  const reserved = limiter.reserve({
    endpoint: limit.endpoint,
    remoteAddr: context.remoteAddr,
    account,
  });
  return reserved.limited ? limit.refused(reserved.retryAfterS) : reserved;
}

/** The attempt the chain reserved for a rate-limited route's handler. */
export function reservedAttempt(context: RouteContext): ReservedAttempt {
  if (context.attempt === undefined) throw new Error("the route declares no rate limit");
  return context.attempt;
}

/** Refuses a route list that declares rate limits when there is no limiter to keep them. */
export function checkRateLimiter(routes: readonly Route[], limiter: RateLimiter | undefined): void {
  const limited = routes.find((route) => route.rateLimit !== undefined);
  if (limited !== undefined && limiter === undefined) {
    throw new TypeError(
      `${limited.method} ${limited.path} declares a rate limit: give a rateLimiter`,
    );
  }
}
