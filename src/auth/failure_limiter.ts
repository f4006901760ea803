/**
 * The gateway's rate limiter for the guard chain (`RateLimiter`, `src/http/routes.ts`), given to
 * the server by the composition root: the failure budgets of `rate_limit.ts`, kept in SQLite.
 *
 * A rate-limited request is also when expired access-control state is swept (`sweep.ts`, at most
 * once a minute), before its attempt is reserved: the limited endpoints (sign-in, setup, token,
 * revocation) are the ones that create such rows, refused requests included.
 *
 * @module
 */

import type { HttpServices, RateLimiter } from "../http/routes.ts";
import { clearFailures, rateLimitKey, reserveAttempt } from "./rate_limit.ts";
import { sweepAuthStateIfDue } from "./sweep.ts";

/** Failure budgets in `services.db`, one per endpoint, remote address and account. */
export function failureLimiter(services: Pick<HttpServices, "db" | "nowMs">): RateLimiter {
  const { db, nowMs } = services;
  return {
    reserve({ endpoint, remoteAddr, account }) {
      sweepAuthStateIfDue(db, nowMs());
      const key = rateLimitKey(endpoint, remoteAddr, account);
      const attempt = reserveAttempt(db, key, nowMs());
      if (attempt.limited) return attempt;
      return { limited: false, release: attempt.release, succeeded: () => clearFailures(db, key) };
    },
  };
}
