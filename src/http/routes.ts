/**
 * The contract between the HTTP server and the modules that serve resources: a route is a method,
 * a URLPattern pathname and a Web-standard handler. Feature modules export `Route[]`; the server
 * (`server.ts`) matches them and wraps every response with limits and security headers. A route
 * declares the chain's per-route steps (admission bypass, CSRF, rate limit) instead of repeating
 * them in its handler.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

/** What every handler may use; built once by the server. */
export interface HttpServices {
  db: DatabaseSync;
  nowMs: () => number;
  /** Absolute base URL clients see, e.g. `http://127.0.0.1:8080` (no trailing slash). */
  publicBaseUrl: string;
  /** IANA time zone of the premises, for ESPI LocalTimeParameters. */
  timeZone: string;
  /** True when served over TLS: cookies get `Secure`. */
  secure: boolean;
  /**
   * Origins this gateway is served under (public URL, listen address, loopback names), filled in
   * by the server; the CSRF check (`origin.ts`) accepts only these.
   */
  origins?: readonly string[];
}

export interface RouteContext {
  url: URL;
  /** Named groups of the matched pattern, e.g. `{ id: "3" }`. */
  params: Record<string, string | undefined>;
  services: HttpServices;
  /** Remote address for rate limiting (`127.0.0.1` in tests). */
  remoteAddr: string;
  /**
   * The attempt the rate-limit guard reserved, on routes that declare `rateLimit` (read it with
   * `reservedAttempt`, `guards/rate_limit.ts`).
   */
  attempt?: ReservedAttempt;
}

/**
 * An attempt the chain reserved before the handler ran: it counts as a failure unless the handler
 * says otherwise.
 */
export interface ReservedAttempt {
  /** The caller proved its credential: the failures of its key are forgotten. */
  succeeded(): void;
  /** Refused for a reason that is not the caller's guess (overload): un-counts this attempt. */
  release(): void;
}

/** One budget of attempts: an endpoint's, from one address, for one account. */
export interface RateLimitKey {
  endpoint: string;
  remoteAddr: string;
  account: string;
}

/**
 * Failure budgets, injected into the server by the composition root (the gateway's lives in SQLite,
 * `src/auth/rate_limit.ts`). `reserve` is synchronous on purpose: the check and the record are
 * one step, so concurrent guesses cannot all pass the check before the first is recorded.
 */
export interface RateLimiter {
  reserve(key: RateLimitKey): Reservation;
}

/** A reserved attempt, or the seconds until the spent budget allows another. */
export type Reservation =
  | { limited: true; retryAfterS: number }
  | ({ limited: false } & ReservedAttempt);

/** A route's failure budget, reserved by the chain (`guards/rate_limit.ts`) before its handler. */
export interface RouteRateLimit {
  /** The budget's name in the key; routes that name the same one share it. */
  endpoint: string;
  /**
   * Whose budget the request spends, with its address: a registered client id or a role, never a
   * name the caller invents (each would get fresh attempts). A `Response` answers the request
   * instead, uncounted and without the handler, when there is nothing to guess (e.g. setup done).
   */
  account(
    request: Request,
    context: RouteContext,
  ): string | Response | Promise<string | Response>;
  /** The route's own refusal once the budget is spent (a 429 with `Retry-After`). */
  refused(retryAfterS: number): Response;
}

export type RouteHandler = (
  request: Request,
  context: RouteContext,
) => Response | Promise<Response>;

export interface Route {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** URLPattern pathname syntax, e.g. `/espi/1_1/resource/UsagePoint/:id`. */
  path: string;
  handler: RouteHandler;
  /** `bypass`: cheap and always answered, even under overload (e.g. `/health`). */
  admission?: "bypass";
  /** `own`: a form of this gateway's pages; requests from anywhere else get 403 (CSRF). */
  origin?: "own";
  /** A failure budget reserved before the handler runs; spent, the route's own refusal answers. */
  rateLimit?: RouteRateLimit;
}
