/**
 * The rate-limit guard of the chain (`src/http/guards/rate_limit.ts`), on a route of its own over a
 * real server on 127.0.0.1 and the gateway's SQLite limiter on a real file: a spent budget gets
 * the route's own refusal without its handler running, concurrent guesses cannot overtake the
 * reservation, and guard and handler read one form.
 */

import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { failureLimiter } from "../../src/auth/failure_limiter.ts";
import { MAX_FAILURES } from "../../src/auth/rate_limit.ts";
import { readForm } from "../../src/http/body.ts";
import { jsonError } from "../../src/http/errors.ts";
import { reservedAttempt } from "../../src/http/guards/rate_limit.ts";
import type { RouteContext, RouteHandler, RouteRateLimit } from "../../src/http/routes.ts";
import { startHttpServer } from "../../src/http/server.ts";
import { openDatabase } from "../../src/store/db.ts";
import { withTestServer } from "./raw_server.ts";

/** One budget per `who`; `closed=1` answers 409 before anything is counted. */
const guessLimit: RouteRateLimit = {
  endpoint: "guess",
  account: async (request) => {
    const form = await readForm(request);
    if (form.get("closed") === "1") return jsonError(409, "closed", "nothing to guess");
    return form.get("who") ?? "-";
  },
  refused: (retryAfterS) =>
    jsonError(429, "no_more_guesses", "spent", { "Retry-After": String(retryAfterS) }),
};

/** A guess handler: `right` succeeds, `busy` releases, anything else fails. Counts its runs. */
function guessHandler(wait: () => Promise<void> = () => Promise.resolve()) {
  const runs: string[] = [];
  const handler: RouteHandler = async (request: Request, context: RouteContext) => {
    const attempt = reservedAttempt(context);
    const form = await readForm(request);
    runs.push(form.get("guess") ?? "");
    await wait();
    if (form.get("guess") === "right") {
      attempt.succeeded();
      return Response.json({ who: form.get("who") });
    }
    if (form.get("guess") === "busy") {
      attempt.release();
      return jsonError(503, "busy", "try later");
    }
    return jsonError(401, "wrong", "wrong guess");
  };
  return { runs, handler };
}

interface GuessServer {
  url: string;
  db: DatabaseSync;
  /** POSTs `body` as a form to the rate-limited route. */
  post(body: string): Promise<Response>;
}

function withGuessServer(
  handler: RouteHandler,
  run: (server: GuessServer) => Promise<void>,
): Promise<void> {
  return withTestServer((db) => ({
    routes: [{ method: "POST", path: "/guess", handler, rateLimit: guessLimit }],
    rateLimiter: failureLimiter({ db, nowMs: Date.now }),
  }), (server) => {
    const url = `${server.url}/guess`;
    const post = (body: string) =>
      fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body,
      });
    return run({ url, db: server.services.db, post });
  });
}

async function statusOf(response: Promise<Response>): Promise<number> {
  const answered = await response;
  await answered.body?.cancel();
  return answered.status;
}

Deno.test("a spent budget gets the route's own refusal and the handler does not run", async () => {
  const { runs, handler } = guessHandler();
  await withGuessServer(handler, async ({ post }) => {
    for (let i = 0; i < MAX_FAILURES; i++) {
      assert.equal(await statusOf(post("who=alice&guess=wrong")), 401);
    }
    const refused = await post("who=alice&guess=right");
    assert.equal(refused.status, 429);
    assert.equal((await refused.json()).error, "no_more_guesses");
    assert.match(refused.headers.get("retry-after") ?? "", /^[1-9]\d*$/);
    assert.equal(runs.length, MAX_FAILURES, "the handler never ran for the refused guess");
    // Another account's budget is its own.
    assert.equal(await statusOf(post("who=bob&guess=right")), 200);
    assert.equal(runs.length, MAX_FAILURES + 1);
  });
});

Deno.test("concurrent guesses cannot overtake the reservation", async () => {
  const guesses = MAX_FAILURES + 7;
  // Answers that did not wait at the gate: refusals (or, were the guard broken, anything else).
  let notWaiting = 0;
  let allArrived = () => {};
  const arrived = new Promise<void>((resolve) => allArrived = resolve);
  // Every guess is either refused or waiting in its handler (as password hashing would keep it)
  // before any handler answers: only the reserved ones may be among the waiting.
  const tally = () => {
    if (notWaiting + runs.length === guesses) allArrived();
  };
  let open = () => {};
  const gate = new Promise<void>((resolve) => open = resolve);
  const { runs, handler } = guessHandler(() => {
    tally();
    return gate;
  });
  await withGuessServer(handler, async ({ post }) => {
    const answers = Array.from(
      { length: guesses },
      () =>
        statusOf(post("who=alice&guess=wrong")).then((status) => {
          if (status !== 401) notWaiting++;
          tally();
          return status;
        }),
    );
    await arrived;
    const reached = runs.length;
    open();
    const statuses = await Promise.all(answers);
    assert.equal(reached, MAX_FAILURES, "only the reserved attempts reached the handler");
    assert.equal(statuses.filter((status) => status === 401).length, MAX_FAILURES);
    assert.equal(statuses.filter((status) => status === 429).length, guesses - MAX_FAILURES);
  });
});

Deno.test("release() un-counts an attempt; succeeded() forgets the failures", async () => {
  const { runs, handler } = guessHandler();
  await withGuessServer(handler, async ({ post }) => {
    for (let i = 0; i < MAX_FAILURES * 2; i++) {
      assert.equal(await statusOf(post("who=alice&guess=busy")), 503);
    }
    for (let i = 0; i < MAX_FAILURES - 1; i++) {
      assert.equal(await statusOf(post("who=alice&guess=wrong")), 401);
    }
    assert.equal(await statusOf(post("who=alice&guess=right")), 200);
    for (let i = 0; i < MAX_FAILURES; i++) {
      assert.equal(await statusOf(post("who=alice&guess=wrong")), 401);
    }
    assert.equal(await statusOf(post("who=alice&guess=wrong")), 429);
    assert.equal(runs.length, MAX_FAILURES * 4);
  });
});

Deno.test("the account's own answer is uncounted and skips the handler", async () => {
  const { runs, handler } = guessHandler();
  await withGuessServer(handler, async ({ post, db }) => {
    for (let i = 0; i < MAX_FAILURES * 2; i++) {
      assert.equal(await statusOf(post("who=alice&closed=1")), 409);
    }
    assert.equal(runs.length, 0);
    const rows = db.prepare("SELECT COUNT(*) AS n FROM auth_failures").get() as { n: number };
    assert.equal(rows.n, 0);
    assert.equal(await statusOf(post("who=alice&guess=right")), 200);
  });
});

Deno.test("guard and handler read one form, also from a chunked body", async () => {
  const { runs, handler } = guessHandler();
  await withGuessServer(handler, async ({ url }) => {
    const chunks = ["who=ch", "unked&gu", "ess=right"].map((text) =>
      new TextEncoder().encode(text)
    );
    // A stream body goes out chunked: the server reads it into memory before the guard.
    const chunked = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: ReadableStream.from(chunks),
    });
    assert.equal(chunked.status, 200);
    assert.deepEqual(await chunked.json(), { who: "chunked" });
    // Refused by the guard's read; the handler's would refuse the same way.
    const notAForm = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: "who=alice",
    });
    assert.equal(notAForm.status, 415);
    await notAForm.body?.cancel();
    assert.deepEqual(runs, ["right"]);
  });
});

Deno.test("a route that declares a rate limit needs a limiter to start", async () => {
  const dir = await Deno.makeTempDir();
  const db = openDatabase(`${dir}/openseg.db`);
  try {
    assert.throws(
      () =>
        startHttpServer({
          hostname: "127.0.0.1",
          port: 0,
          services: { db, nowMs: Date.now, publicBaseUrl: "", timeZone: "UTC", secure: false },
          routes: [{
            method: "POST",
            path: "/guess",
            handler: () => new Response(),
            rateLimit: guessLimit,
          }],
        }),
      /declares a rate limit/,
    );
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
