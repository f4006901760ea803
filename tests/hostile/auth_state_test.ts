/**
 * Hostile traffic against the auth tables (issue 10, item 3, and the "never exchanged" approval):
 * invented client ids must not grow the database, one app must not mint unbounded client tokens,
 * the failure table has a hard cap, expired rows are swept, and an approval whose code was never
 * exchanged is not shown as active.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { CODE_EXPIRES_IN_S } from "../../src/auth/codes.ts";
import {
  FAILURE_ROWS_MAX,
  MAX_FAILURES,
  rateLimitKey,
  reserveAttempt,
} from "../../src/auth/rate_limit.ts";
import { CLIENT_TOKENS_MAX, REFRESH_TOKEN_EXPIRES_IN_S } from "../../src/auth/tokens.ts";
import { openDatabase } from "../../src/store/db.ts";
import {
  addApp,
  authorize,
  basic,
  probe,
  REDIRECT_URI,
  type TestGateway,
  tokenRequest,
} from "../auth/fixtures.ts";
import { approvedCode, withGateway } from "../auth/flow_helpers.ts";

const FLOOD_REQUESTS = 400;
const FLOOD_CONCURRENCY = 8;
const CLIENT_ID_CHARS = 60_000;
const BASIC_ID_CHARS = 8_000;

function count(db: DatabaseSync, sql: string, ...params: string[]): number {
  return (db.prepare(sql).get(...params) as { n: number }).n;
}

/** The database's logical size in bytes (the WAL included: that is what a checkpoint writes). */
function databaseBytes(db: DatabaseSync): number {
  const pages = db.prepare("PRAGMA page_count").get() as { page_count: number };
  const size = db.prepare("PRAGMA page_size").get() as { page_size: number };
  return pages.page_count * size.page_size;
}

function randomId(chars: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(chars));
  return Array.from(bytes, (byte) => alphabet[byte % alphabet.length]).join("");
}

Deno.test("token requests with 60 KB random client ids do not grow the database", async () => {
  await withGateway(async (gateway) => {
    const before = databaseBytes(gateway.db);
    let next = 0;
    const statuses = new Map<number, number>();
    const worker = async () => {
      while (next < FLOOD_REQUESTS) {
        const i = next++;
        const fields: Record<string, string> = { grant_type: "client_credentials" };
        // Half claim the id in the body (public-client style), half in HTTP Basic (smaller: a
        // 60 KB header is refused by the HTTP server before any handler sees it).
        const response = i % 2 === 0
          ? await tokenRequest(gateway, { ...fields, client_id: randomId(CLIENT_ID_CHARS) })
          : await tokenRequest(gateway, fields, basic(randomId(BASIC_ID_CHARS), "guess"));
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: FLOOD_CONCURRENCY }, worker));

    const grownBytes = databaseBytes(gateway.db) - before;
    assert.ok(grownBytes < 256 * 1024, `the database grew by ${grownBytes} bytes`);
    const rows = count(gateway.db, "SELECT count(*) AS n FROM auth_failures");
    assert.ok(rows <= MAX_FAILURES, `${rows} failure rows for one address`);
    const longest = count(gateway.db, "SELECT max(length(key)) AS n FROM auth_failures");
    assert.ok(longest <= 200, `a failure key of ${longest} characters`);
    // The address is locked out after its few failures: the rest were refused, not evaluated
    // (429, or 503 when admission shed them while the flood kept the loop busy).
    const statusText = JSON.stringify([...statuses]);
    const refused = (statuses.get(429) ?? 0) + (statuses.get(503) ?? 0);
    assert.equal((statuses.get(401) ?? 0) + refused, FLOOD_REQUESTS, statusText);
    assert.ok((statuses.get(401) ?? 0) <= MAX_FAILURES, statusText);
  });
});

Deno.test("an unregistered client id does not get a fresh set of attempts", async () => {
  await withGateway(async (gateway) => {
    const app = addApp(gateway);
    for (let i = 0; i < MAX_FAILURES; i++) {
      const response = await tokenRequest(gateway, {
        grant_type: "client_credentials",
        client_id: `invented-${i}`,
      });
      assert.equal(response.status, 401);
    }
    const another = await tokenRequest(gateway, {
      grant_type: "client_credentials",
      client_id: "invented-again",
    });
    assert.equal(another.status, 429, "invented ids share the address's budget");
    assert.ok(Number(another.headers.get("retry-after")) > 0);
    // A registered client keeps its own budget at this address.
    const registered = await tokenRequest(
      gateway,
      { grant_type: "client_credentials" },
      basic(app.app.clientId, app.clientSecret!),
    );
    assert.equal(registered.status, 200);
  });
});

Deno.test("the failure table never holds more than its cap", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-failures-" });
  const db = openDatabase(`${dir}/openseg.db`);
  try {
    const nowMs = Date.now();
    const addresses = FAILURE_ROWS_MAX + 500;
    for (let i = 0; i < addresses; i++) {
      // Distinct IPv6 addresses, as an attacker with a /64 has; one long one among them.
      const address = i === 7 ? `2001:db8::${"f".repeat(5000)}` : `2001:db8::${i.toString(16)}`;
      const attempt = reserveAttempt(db, rateLimitKey("token", address, "-"), nowMs);
      assert.equal(attempt.limited, false);
    }
    assert.ok(count(db, "SELECT count(*) AS n FROM auth_failures") <= FAILURE_ROWS_MAX);
    assert.ok(count(db, "SELECT max(length(key)) AS n FROM auth_failures") <= 200);
    // The newest failures are the ones kept.
    const newest = rateLimitKey("token", `2001:db8::${(addresses - 1).toString(16)}`, "-");
    assert.equal(count(db, "SELECT count(*) AS n FROM auth_failures WHERE key = ?", newest), 1);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("one app minting many client tokens keeps at most the cap alive", async () => {
  await withGateway(async (gateway) => {
    const app = addApp(gateway);
    const auth = basic(app.app.clientId, app.clientSecret!);
    const tokens: string[] = [];
    for (let i = 0; i < CLIENT_TOKENS_MAX * 4; i++) {
      const response = await tokenRequest(gateway, { grant_type: "client_credentials" }, auth);
      assert.equal(response.status, 200);
      tokens.push(response.body.access_token as string);
    }
    const stored = count(
      gateway.db,
      "SELECT count(*) AS n FROM oauth_tokens WHERE kind = 'client' AND client_id = ?",
      app.app.clientId,
    );
    assert.ok(stored <= CLIENT_TOKENS_MAX, `${stored} client tokens stored`);
    assert.equal((await probe(gateway, tokens[0])).status, 401, "the oldest was revoked");
    assert.equal((await probe(gateway, tokens.at(-1)!)).status, 200, "the newest works");
  });
});

/** Sends one token request from the app, which runs the sweep when it is due. */
async function nudge(gateway: TestGateway, auth: string): Promise<void> {
  await tokenRequest(gateway, { grant_type: "client_credentials" }, auth);
}

Deno.test("expired sessions, codes, tokens, failures and pending approvals are swept", async () => {
  await withGateway(async (gateway) => {
    const { code, auth, cookie, registered } = await approvedCode(gateway);
    const tokens = (await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
    }, auth)).body;
    await tokenRequest(gateway, {
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token as string,
    }, auth);
    await nudge(gateway, auth);
    await tokenRequest(gateway, { grant_type: "client_credentials" }, basic("nobody", "guess"));
    // A second approval whose code the app never exchanges.
    await authorize(gateway, cookie, {
      response_type: "code",
      client_id: registered.app.clientId,
      redirect_uri: REDIRECT_URI,
    });
    const db = gateway.db;
    assert.ok(count(db, "SELECT count(*) AS n FROM oauth_tokens WHERE kind != 'registration'") > 0);
    assert.equal(count(db, "SELECT count(*) AS n FROM oauth_authorizations"), 2);

    // Minutes later: the pending approval's code has expired; failures left their window.
    gateway.clock.offsetMs = (CODE_EXPIRES_IN_S + 120) * 1000;
    await nudge(gateway, auth);
    assert.equal(count(db, "SELECT count(*) AS n FROM oauth_authorizations"), 1);
    assert.equal(count(db, "SELECT count(*) AS n FROM auth_failures"), 0);
    assert.equal(
      count(db, "SELECT count(*) AS n FROM oauth_tokens WHERE kind = 'access'"),
      1,
      "only the live access token is left; the rotated-away one is gone",
    );

    // Past every lifetime: only the registration token and the (used-up) authorization remain.
    gateway.clock.offsetMs = (REFRESH_TOKEN_EXPIRES_IN_S + 2 * 86_400) * 1000;
    await nudge(gateway, auth);
    assert.equal(count(db, "SELECT count(*) AS n FROM owner_sessions"), 0);
    assert.equal(count(db, "SELECT count(*) AS n FROM oauth_codes"), 0);
    assert.equal(
      count(db, "SELECT count(*) AS n FROM oauth_tokens WHERE kind NOT IN ('registration')"),
      1,
      "the client token minted by this very request",
    );
  });
});

Deno.test("an approval whose code was never exchanged is not listed as active", async () => {
  await withGateway(async (gateway) => {
    const { code, auth, cookie } = await approvedCode(gateway);
    const page = async () => {
      const response = await fetch(`${gateway.url}/owner/authorizations`, {
        headers: { Cookie: cookie },
      });
      assert.equal(response.status, 200);
      return await response.text();
    };
    const pending = await page();
    assert.match(pending, /No app has access/);
    assert.doesNotMatch(pending, /Revoke/);

    await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
    }, auth);
    const exchanged = await page();
    assert.match(exchanged, /Energy Coach/);
    assert.match(exchanged, /Revoke/);
  });
});
