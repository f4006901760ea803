/**
 * Who may read what: a table of access cases at handler level (constructed callers), then the
 * same rules through the real HTTP server on 127.0.0.1 with tokens minted by `src/auth`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { registerApp } from "../../src/auth/apps.ts";
import { createAuthorization } from "../../src/auth/authorizations.ts";
import type { Caller } from "../../src/auth/caller.ts";
import { mintToken } from "../../src/auth/tokens.ts";
import { dispatchEspi } from "../../src/espi/routes.ts";
import { createHttpApp } from "../../src/app/http_app.ts";
import {
  accessCaller,
  END_MS,
  espiFixture,
  get,
  HOUR_MS,
  PLAIN_METER,
  scope,
  SOLAR_METER,
} from "./fixtures.ts";

interface AccessCase {
  name: string;
  path: string;
  caller: Caller;
  status: number;
  /** Expected `WWW-Authenticate` pattern, when the status is 401/403. */
  challenge?: RegExp;
}

Deno.test("access table: token kinds, subscriptions, grants and query parameters", async () => {
  const fixture = await espiFixture();
  try {
    const up = fixture.solarUsagePointId;
    const other = fixture.plainUsagePointId;
    const access = accessCaller("sub-a", [up]);
    const client: Caller = { kind: "client", applicationId: "app-1", tokenId: "c" };
    const registration: Caller = { kind: "registration", applicationId: "app-1", tokenId: "r" };
    const owner: Caller = { kind: "owner", sessionId: "s", householdId: null };
    const insufficient = /^Bearer realm="openseg", error="insufficient_scope"/;
    const cases: AccessCase[] = [
      {
        name: "no credentials",
        path: "Batch/Subscription/sub-a",
        caller: { kind: "anonymous" },
        status: 401,
        challenge: /^Bearer realm="openseg"$/,
      },
      {
        name: "invalid token",
        path: "Batch/Subscription/sub-a",
        caller: { kind: "anonymous", reason: "invalid_token" },
        status: 401,
        challenge: /error="invalid_token"/,
      },
      {
        name: "client token on the subscription",
        path: "Batch/Subscription/sub-a",
        caller: client,
        status: 403,
        challenge: insufficient,
      },
      {
        name: "registration token on the subscription",
        path: "Batch/Subscription/sub-a",
        caller: registration,
        status: 403,
        challenge: insufficient,
      },
      {
        name: "owner session on the subscription",
        path: "Batch/Subscription/sub-a",
        caller: owner,
        status: 403,
        challenge: insufficient,
      },
      {
        name: "another subscription's id",
        path: "Batch/Subscription/sub-b",
        caller: access,
        status: 403,
        challenge: insufficient,
      },
      {
        name: "another subscription's usage point path",
        path: `Subscription/sub-b/UsagePoint/${up}`,
        caller: access,
        status: 403,
      },
      {
        // Not granted looks exactly like not there.
        name: "ungranted usage point",
        path: `Subscription/sub-a/UsagePoint/${other}/MeterReading/1/IntervalBlock`,
        caller: access,
        status: 404,
      },
      {
        name: "ungranted usage point summary",
        path: `UsagePoint/${other}/UsageSummary`,
        caller: access,
        status: 404,
      },
      {
        name: "interval coarser than a day cannot be served",
        path: "Batch/Subscription/sub-a",
        caller: accessCaller("sub-a", [up], scope({ intervalDurationS: 2 * 86_400 })),
        status: 403,
        challenge: insufficient,
      },
      {
        name: "unknown meter reading",
        path: `Subscription/sub-a/UsagePoint/${up}/MeterReading/9`,
        caller: access,
        status: 404,
      },
      { name: "access token on Authorization", path: "Authorization", caller: access, status: 403 },
      {
        name: "access token on ReadServiceStatus",
        path: "ReadServiceStatus",
        caller: access,
        status: 403,
      },
      {
        name: "registration token on ReadServiceStatus",
        path: "ReadServiceStatus",
        caller: registration,
        status: 403,
      },
      {
        name: "client token on ReadServiceStatus",
        path: "ReadServiceStatus",
        caller: client,
        status: 200,
      },
      {
        name: "client token on ApplicationInformation",
        path: "ApplicationInformation/app-1",
        caller: client,
        status: 403,
      },
      {
        name: "another app's registration",
        path: "ApplicationInformation/app-2",
        caller: registration,
        status: 403,
      },
      {
        name: "another app's authorization",
        path: "Authorization/auth-x",
        caller: client,
        status: 404,
      },
      {
        name: "access token on Download My Data",
        path: "Batch/RetailCustomer/1/UsagePoint",
        caller: access,
        status: 403,
      },
      {
        name: "anonymous on Download My Data",
        path: "Batch/RetailCustomer/1/UsagePoint",
        caller: { kind: "anonymous" },
        status: 401,
      },
      {
        name: "owner, unknown retail customer",
        path: "Batch/RetailCustomer/2/UsagePoint",
        caller: owner,
        status: 404,
      },
      {
        name: "owner, Download My Data",
        path: "Batch/RetailCustomer/1/UsagePoint",
        caller: owner,
        status: 200,
      },
      { name: "client token on ReadingType", path: "ReadingType", caller: client, status: 403 },
      {
        name: "malformed published-min",
        path: "Batch/Subscription/sub-a?published-min=yesterday",
        caller: access,
        status: 400,
      },
      {
        name: "date without offset",
        path: "Batch/Subscription/sub-a?updated-max=2024-06-01T00:00:00",
        caller: access,
        status: 400,
      },
      {
        name: "negative max-results",
        path: "Batch/Subscription/sub-a?max-results=-1",
        caller: access,
        status: 400,
      },
      {
        name: "start-index 0",
        path: "Batch/Subscription/sub-a?start-index=0",
        caller: access,
        status: 400,
      },
      {
        name: "depth not a number",
        path: "Batch/Subscription/sub-a?depth=all",
        caller: access,
        status: 400,
      },
      {
        name: "repeated parameter",
        path: "Batch/Subscription/sub-a?max-results=1&max-results=2",
        caller: access,
        status: 400,
      },
      {
        name: "well-formed parameters",
        path:
          "Batch/Subscription/sub-a?published-min=2024-06-02T00:00:00Z&max-results=5&start-index=2&depth=9",
        caller: access,
        status: 200,
      },
    ];
    for (const c of cases) {
      const response = dispatchEspi(get(c.path), fixture.services(), c.caller);
      const body = await response.text();
      assert.equal(response.status, c.status, `${c.name}: ${body}`);
      if (c.status >= 400) {
        assert.match(response.headers.get("content-type") ?? "", /application\/json/, c.name);
        assert.equal(typeof JSON.parse(body).error, "string", c.name);
      }
      if (c.challenge) {
        assert.match(response.headers.get("www-authenticate") ?? "", c.challenge, c.name);
      }
    }
  } finally {
    await fixture.cleanup();
  }
});

Deno.test("history: nothing older than the granted history length", async () => {
  const fixture = await espiFixture();
  try {
    const caller = accessCaller(
      "sub-a",
      [fixture.plainUsagePointId],
      scope({ historyLengthS: 3 * 3600 }),
    );
    const xml = await dispatchEspi(get("Batch/Subscription/sub-a"), fixture.services(), caller)
      .text();
    const starts = [
      ...xml.matchAll(/<espi:timePeriod><espi:duration>\d+<\/espi:duration><espi:start>(\d+)</g),
    ]
      .map((match) => Number(match[1]) * 1000);
    assert.ok(starts.length > 0);
    assert.ok(starts.every((startMs) => startMs >= END_MS - 3 * HOUR_MS), "an interval is too old");
    // Three hours of 5-minute energy delivered: 36 intervals.
    const delivered = xml.split("/MeterReading/1/IntervalBlock/").length - 1;
    assert.ok(delivered >= 1);
    assert.equal(xml.match(/<espi:cost>/g)?.length, 36);
  } finally {
    await fixture.cleanup();
  }
});

Deno.test("paging, and no meter address in any href or title", async () => {
  const fixture = await espiFixture();
  try {
    const caller = accessCaller("sub-a", [fixture.solarUsagePointId, fixture.plainUsagePointId]);
    const all = await dispatchEspi(get("Batch/Subscription/sub-a"), fixture.services(), caller)
      .text();
    const entries = all.split("<entry>").length - 1;
    const paged = await dispatchEspi(
      get("Batch/Subscription/sub-a?start-index=3&max-results=4"),
      fixture.services(),
      caller,
    ).text();
    assert.equal(paged.split("<entry>").length - 1, 4);
    assert.ok(entries > 20);
    for (const meter of [SOLAR_METER, PLAIN_METER]) {
      const hex = meter.slice(2);
      assert.ok(!all.toLowerCase().includes(hex), `the feed reveals ${meter}`);
    }
    assert.equal(all.match(/<title>[^<]*\d{6,}[^<]*<\/title>/), null);
  } finally {
    await fixture.cleanup();
  }
});

/** The HTTP case needs `--allow-net=127.0.0.1` (as `.ci/test` grants); without it, it is skipped. */
const netGranted =
  Deno.permissions.querySync({ name: "net", host: "127.0.0.1" }).state === "granted";

Deno.test({
  name: "through HTTP on 127.0.0.1: real tokens, each endpoint only for its token kind",
  ignore: !netGranted,
  fn: async () => {
    const fixture = await espiFixture();
    const server = createHttpApp({
      hostname: "127.0.0.1",
      port: 0,
      services: { ...fixture.services(), publicBaseUrl: "", nowMs: () => END_MS },
      espi: true,
    });
    try {
      const app = registerApp(fixture.db, {
        name: "Test app",
        redirectUris: ["https://app.example/cb"],
        scopes: [
          "FB=1_3_4_5_12_13_14_39;IntervalDuration=3600;BlockDuration=daily;HistoryLength=86400",
        ],
        nowMs: END_MS - HOUR_MS,
      });
      const clientId = app.app.clientId;
      const authorization = createAuthorization(fixture.db, {
        clientId,
        scope: app.app.scopes[0],
        usagePointIds: [fixture.plainUsagePointId],
        householdId: 1,
        nowMs: END_MS - HOUR_MS,
      });
      const mint = (kind: "access" | "client" | "refresh") =>
        mintToken(fixture.db, {
          kind,
          clientId,
          authorizationId: kind === "client" ? undefined : authorization.authorizationId,
          expiresInS: 3600,
          nowMs: END_MS - 60_000,
        }).token;
      const accessToken = mint("access");
      const clientToken = mint("client");
      const refreshToken = mint("refresh");
      const base = `${server.url}/espi/1_1/resource`;
      const fetchWith = async (path: string, token?: string) => {
        const response = await fetch(`${base}/${path}`, {
          headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
        });
        return { response, body: await response.text() };
      };
      const feed = `Batch/Subscription/${authorization.subscriptionId}`;

      const ok = await fetchWith(feed, accessToken);
      assert.equal(ok.response.status, 200, ok.body);
      assert.match(ok.response.headers.get("content-type") ?? "", /^application\/atom\+xml/);
      // The grant says hourly and one day back: 24 hourly intervals at most, none finer.
      assert.match(ok.body, /<espi:intervalLength>3600</);
      assert.doesNotMatch(ok.body, /<espi:intervalLength>300</);
      const costs = ok.body.match(/<espi:cost>/g)?.length ?? 0;
      assert.ok(costs > 0 && costs <= 24, `${costs} costs`);
      assert.ok(ok.body.includes(`${server.url}/espi/1_1/resource/Subscription/`));

      const cases: [string, string | undefined, number, RegExp?][] = [
        [feed, undefined, 401, /^Bearer/],
        [feed, "not-a-token", 401, /invalid_token/],
        [feed, refreshToken, 401, /invalid_token/],
        [feed, clientToken, 403, /insufficient_scope/],
        ["Batch/Subscription/someone-else", accessToken, 403, /insufficient_scope/],
        [`${feed}?max-results=many`, accessToken, 400],
        ["ReadServiceStatus", clientToken, 200],
        ["ReadServiceStatus", accessToken, 403, /insufficient_scope/],
        ["Authorization", clientToken, 200],
        [`ApplicationInformation/${clientId}`, app.registrationAccessToken, 200],
        [`ApplicationInformation/${clientId}`, clientToken, 403],
      ];
      for (const [path, token, status, challenge] of cases) {
        const { response, body } = await fetchWith(path, token);
        assert.equal(response.status, status, `${path}: ${body}`);
        if (challenge) {
          assert.match(response.headers.get("www-authenticate") ?? "", challenge, path);
        }
      }
    } finally {
      await server.shutdown();
      await fixture.cleanup();
    }
  },
});
