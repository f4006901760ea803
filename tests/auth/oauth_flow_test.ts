import assert from "node:assert/strict";
import { s256Challenge } from "../../src/auth/pkce.ts";
import { CODE_EXPIRES_IN_S } from "../../src/auth/codes.ts";
import { ACCESS_TOKEN_EXPIRES_IN_S } from "../../src/auth/tokens.ts";
import { meterKeyForUsagePoint } from "../../src/store/usage_points.ts";
import {
  addApp,
  authorize,
  basic,
  ownerSession,
  probe,
  REDIRECT_URI,
  startTestGateway,
  tokenRequest,
} from "./fixtures.ts";
import { approvedCode, VERIFIER, withGateway } from "./flow_helpers.ts";

Deno.test("the full flow: register → authorize → token → refresh → revoke", async () => {
  await withGateway(async (gateway) => {
    const metadata = await (await fetch(`${gateway.url}/.well-known/oauth-authorization-server`))
      .json();
    assert.equal(metadata.issuer, gateway.url);
    assert.equal(metadata.token_endpoint, `${gateway.url}/oauth/token`);
    assert.deepEqual(metadata.code_challenge_methods_supported, ["S256"]);

    const registered = addApp(gateway);
    const clientId = registered.app.clientId;

    // The app sends the owner's browser to /oauth/authorize; not signed in yet → login page.
    const params = new URLSearchParams({
      response_type: "code",
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
      scope: "FB=1_3_4_5_13_14_39;IntervalDuration=900;BlockDuration=daily;HistoryLength=86400",
      state: "af0ifjsldkj",
    });
    const first = await fetch(`${gateway.url}/oauth/authorize?${params}`, { redirect: "manual" });
    await first.body?.cancel();
    assert.equal(first.status, 303);
    const login = first.headers.get("location")!;
    assert.match(login, /^\/owner\/login\?next=/);
    const cookie = await ownerSession(gateway);

    // The consent page says it in plain words.
    const page = await fetch(`${gateway.url}/oauth/authorize?${params}`, {
      headers: { Cookie: cookie },
    });
    const html = await page.text();
    assert.match(html, /Energy Coach/);
    assert.match(html, /How far back: up to 1 day\./);
    assert.match(html, /readings no finer than every 15 minutes/);
    assert.match(html, /Which meters/);
    assert.match(html, /app\.example/);

    const redirect = await authorize(gateway, cookie, Object.fromEntries(params));
    assert.equal(`${redirect.origin}${redirect.pathname}`, REDIRECT_URI);
    assert.equal(redirect.searchParams.get("state"), "af0ifjsldkj");
    const code = redirect.searchParams.get("code")!;
    assert.match(code, /^[A-Za-z0-9_-]{43}$/);

    const auth = basic(clientId, registered.clientSecret!);
    const token = await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
    }, auth);
    assert.equal(token.status, 200, JSON.stringify(token.body));
    assert.equal(token.headers.get("cache-control"), "no-store");
    assert.equal(token.body.token_type, "Bearer");
    assert.equal(token.body.expires_in, ACCESS_TOKEN_EXPIRES_IN_S);
    assert.equal(token.body.scope, params.get("scope"));
    assert.match(
      token.body.resourceURI as string,
      new RegExp(`^${gateway.url}/espi/1_1/resource/Batch/Subscription/[A-Za-z0-9_-]+$`),
    );
    assert.match(
      token.body.authorizationURI as string,
      new RegExp(`^${gateway.url}/espi/1_1/resource/Authorization/[A-Za-z0-9_-]+$`),
    );
    assert.ok(!(token.body.resourceURI as string).includes("0x00135003"), "no meter MAC");

    // The access token reads the grant: opaque ids, the chosen meter, the scope.
    const seen = await probe(gateway, token.body.access_token as string);
    assert.equal(seen.status, 200);
    assert.equal(seen.body.kind, "access");
    const grant = seen.body.grant as {
      subscriptionId: string;
      usagePointIds: string[];
      applicationId: string;
      scope: { historyLengthS: number };
    };
    assert.equal(grant.applicationId, clientId);
    assert.equal(grant.scope.historyLengthS, 86400);
    assert.equal(grant.usagePointIds.length, 1);
    assert.equal(meterKeyForUsagePoint(gateway.db, grant.usagePointIds[0]), "0x00135003000a1b2c");
    assert.ok((token.body.resourceURI as string).endsWith(grant.subscriptionId));

    // Refresh rotates: new pair works, the old access and refresh tokens are dead.
    const refreshed = await tokenRequest(gateway, {
      grant_type: "refresh_token",
      refresh_token: token.body.refresh_token as string,
    }, auth);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.notEqual(refreshed.body.access_token, token.body.access_token);
    assert.equal(refreshed.body.resourceURI, token.body.resourceURI);
    assert.equal((await probe(gateway, token.body.access_token as string)).status, 401);
    assert.equal((await probe(gateway, refreshed.body.access_token as string)).status, 200);
    const again = await tokenRequest(gateway, {
      grant_type: "refresh_token",
      refresh_token: token.body.refresh_token as string,
    }, auth);
    assert.equal(again.status, 400);
    assert.equal(again.body.error, "invalid_grant");

    // The app revokes its refresh token (RFC 7009): the whole grant ends.
    const revoked = await tokenRequest(
      gateway,
      {
        token: refreshed.body.refresh_token as string,
        token_type_hint: "refresh_token",
      },
      auth,
      "/oauth/revoke",
    );
    assert.equal(revoked.status, 200);
    const dead = await probe(gateway, refreshed.body.access_token as string);
    assert.equal(dead.status, 401);
    assert.match(dead.challenge ?? "", /^Bearer realm="openseg", error="invalid_token"/);

    // The owner sees it revoked.
    const list = await (await fetch(`${gateway.url}/owner/authorizations`, {
      headers: { Cookie: cookie },
    })).text();
    assert.match(list, /Energy Coach/);
    assert.match(list, /Revoked /);
  });
});

Deno.test("a public client must use PKCE S256 and authenticates with client_id alone", async () => {
  await withGateway(async (gateway) => {
    const registered = addApp(gateway, { isPublic: true });
    assert.equal(registered.clientSecret, null);
    const clientId = registered.app.clientId;
    const cookie = await ownerSession(gateway);
    const base = { response_type: "code", client_id: clientId, state: "s" };

    const missing = await fetch(
      `${gateway.url}/oauth/authorize?${new URLSearchParams(base)}`,
      { headers: { Cookie: cookie }, redirect: "manual" },
    );
    await missing.body?.cancel();
    const missingUrl = new URL(missing.headers.get("location")!);
    assert.equal(missingUrl.searchParams.get("error"), "invalid_request");
    assert.equal(missingUrl.searchParams.get("state"), "s");

    const plain = await fetch(
      `${gateway.url}/oauth/authorize?${new URLSearchParams({
        ...base,
        code_challenge: VERIFIER,
        code_challenge_method: "plain",
      })}`,
      { headers: { Cookie: cookie }, redirect: "manual" },
    );
    await plain.body?.cancel();
    assert.equal(
      new URL(plain.headers.get("location")!).searchParams.get("error"),
      "invalid_request",
    );

    const redirect = await authorize(gateway, cookie, {
      ...base,
      code_challenge: s256Challenge(VERIFIER),
      code_challenge_method: "S256",
    });
    const code = redirect.searchParams.get("code")!;
    const wrong = await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code,
      client_id: clientId,
      code_verifier: VERIFIER.replace("d", "e"),
    });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error, "invalid_grant", "PKCE mismatch");

    const redirect2 = await authorize(gateway, cookie, {
      ...base,
      code_challenge: s256Challenge(VERIFIER),
      code_challenge_method: "S256",
    });
    const noVerifier = await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code: redirect2.searchParams.get("code")!,
      client_id: clientId,
    });
    assert.equal(noVerifier.body.error, "invalid_grant", "PKCE verifier missing");

    const redirect3 = await authorize(gateway, cookie, {
      ...base,
      code_challenge: s256Challenge(VERIFIER),
      code_challenge_method: "S256",
    });
    const ok = await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code: redirect3.searchParams.get("code")!,
      client_id: clientId,
      code_verifier: VERIFIER,
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal((await probe(gateway, ok.body.access_token as string)).body.kind, "access");

    const credentials = await tokenRequest(gateway, {
      grant_type: "client_credentials",
      client_id: clientId,
    });
    assert.equal(credentials.body.error, "unauthorized_client");
  });
});

Deno.test("PKCE is accepted from confidential clients too", async () => {
  await withGateway(async (gateway) => {
    const { code, auth } = await approvedCode(gateway, {
      code_challenge: s256Challenge(VERIFIER),
      code_challenge_method: "S256",
    });
    const ok = await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: VERIFIER,
    }, auth);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });
});

Deno.test("a confidential client may name itself in the body as well as in HTTP Basic", async () => {
  await withGateway(async (gateway) => {
    const { registered, code, auth } = await approvedCode(gateway);
    const ok = await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
      client_id: registered.app.clientId,
    }, auth);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(typeof ok.body.access_token, "string");
  });
});

Deno.test("deny redirects access_denied with state; nothing is granted", async () => {
  await withGateway(async (gateway) => {
    const registered = addApp(gateway);
    const cookie = await ownerSession(gateway);
    const redirect = await authorize(gateway, cookie, {
      response_type: "code",
      client_id: registered.app.clientId,
      state: "keep me",
    }, "deny");
    assert.equal(redirect.searchParams.get("error"), "access_denied");
    assert.equal(redirect.searchParams.get("state"), "keep me");
    assert.equal(redirect.searchParams.get("code"), null);
    const count = gateway.db.prepare("SELECT count(*) AS n FROM oauth_authorizations").get() as {
      n: number;
    };
    assert.equal(count.n, 0);
  });
});

Deno.test("unknown client or bad redirect_uri: an error page, never a redirect", async () => {
  await withGateway(async (gateway) => {
    const registered = addApp(gateway);
    const cookie = await ownerSession(gateway);
    const cases: Record<string, string>[] = [
      { response_type: "code", client_id: "nobody" },
      { response_type: "code" },
      {
        response_type: "code",
        client_id: registered.app.clientId,
        redirect_uri: "https://evil.example/cb",
      },
      {
        response_type: "code",
        client_id: registered.app.clientId,
        redirect_uri: `${REDIRECT_URI}/`,
      },
      {
        response_type: "code",
        client_id: registered.app.clientId,
        redirect_uri: `${REDIRECT_URI}?a=1`,
      },
    ];
    for (const params of cases) {
      const response = await fetch(
        `${gateway.url}/oauth/authorize?${new URLSearchParams(params)}`,
        {
          headers: { Cookie: cookie },
          redirect: "manual",
        },
      );
      const html = await response.text();
      assert.equal(response.status, 400, JSON.stringify(params));
      assert.equal(response.headers.get("location"), null);
      assert.match(html, /cannot be authorized/);
    }
  });
});

Deno.test("authorization request errors redirect as RFC 6749 §4.1.2.1", async () => {
  await withGateway(async (gateway) => {
    const registered = addApp(gateway);
    const cookie = await ownerSession(gateway);
    const base = { client_id: registered.app.clientId, state: "st" };
    const cases: [Record<string, string>, string][] = [
      [{ ...base }, "invalid_request"],
      [{ ...base, response_type: "token" }, "unsupported_response_type"],
      [{ ...base, response_type: "code", scope: "FB=1;Colour=blue" }, "invalid_scope"],
      [
        { ...base, response_type: "code", scope: "FB=1_6;IntervalDuration=900;HistoryLength=60" },
        "invalid_scope",
      ],
      [
        { ...base, response_type: "code", scope: "FB=1;IntervalDuration=60;HistoryLength=60" },
        "invalid_scope",
      ],
      [{ ...base, response_type: "code", code_challenge_method: "S256" }, "invalid_request"],
      [
        { ...base, response_type: "code", code_challenge: "short", code_challenge_method: "S256" },
        "invalid_request",
      ],
    ];
    for (const [params, error] of cases) {
      const response = await fetch(
        `${gateway.url}/oauth/authorize?${new URLSearchParams(params)}`,
        {
          headers: { Cookie: cookie },
          redirect: "manual",
        },
      );
      await response.body?.cancel();
      assert.equal(response.status, 303, JSON.stringify(params));
      const location = new URL(response.headers.get("location")!);
      assert.equal(`${location.origin}${location.pathname}`, REDIRECT_URI);
      assert.equal(location.searchParams.get("error"), error, JSON.stringify(params));
      assert.equal(location.searchParams.get("state"), "st");
    }
  });
});

Deno.test("the consent POST needs the owner's session and the gateway's own origin", async () => {
  await withGateway(async (gateway) => {
    const registered = addApp(gateway);
    const cookie = await ownerSession(gateway);
    const fields = {
      response_type: "code",
      client_id: registered.app.clientId,
      decision: "approve",
    };
    const post = (headers: Record<string, string>) =>
      fetch(`${gateway.url}/oauth/authorize`, {
        method: "POST",
        redirect: "manual",
        headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
        body: new URLSearchParams(fields),
      });
    for (
      const [headers, status] of [
        [{ Cookie: cookie, Origin: "https://evil.example" }, 403],
        [{ Cookie: cookie }, 403],
        [{ Origin: gateway.url }, 401],
      ] as const
    ) {
      const response = await post(headers);
      await response.body?.cancel();
      assert.equal(response.status, status, JSON.stringify(headers));
    }
  });
});

Deno.test("token endpoint negative cases, each with the RFC 6749 §5.2 error", async () => {
  await withGateway(async (gateway) => {
    const { registered, code, auth } = await approvedCode(gateway);
    const clientId = registered.app.clientId;
    const other = addApp(gateway);
    const otherAuth = basic(other.app.clientId, other.clientSecret!);

    const expect = async (
      label: string,
      fields: Record<string, string>,
      authorization: string | undefined,
      status: number,
      error: string,
    ) => {
      // Each case on its own: the brute-force limit is tested separately.
      gateway.db.exec("DELETE FROM auth_failures");
      const response = await tokenRequest(gateway, fields, authorization);
      assert.equal(response.status, status, `${label}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error, error, label);
      assert.equal(response.body.access_token, undefined, label);
      if (status === 401) {
        assert.match(response.headers.get("www-authenticate") ?? "", /^Basic /, label);
      }
    };
    const grant = { grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI };
    await expect("no client auth", grant, undefined, 401, "invalid_client");
    await expect("wrong secret", grant, basic(clientId, "nope"), 401, "invalid_client");
    await expect("unknown client", grant, basic("who", "nope"), 401, "invalid_client");
    await expect("malformed Basic", grant, "Basic !!!", 401, "invalid_client");
    await expect(
      "confidential client without Basic",
      { ...grant, client_id: clientId },
      undefined,
      401,
      "invalid_client",
    );
    await expect(
      "Basic and another client's client_id",
      { ...grant, client_id: other.app.clientId },
      auth,
      400,
      "invalid_request",
    );
    await expect(
      "client_secret in the body",
      { ...grant, client_secret: registered.clientSecret! },
      auth,
      400,
      "invalid_request",
    );
    await expect(
      "unsupported grant_type",
      { grant_type: "password" },
      auth,
      400,
      "unsupported_grant_type",
    );
    await expect("no grant_type", { code }, auth, 400, "invalid_request");
    await expect("no code", { grant_type: "authorization_code" }, auth, 400, "invalid_request");
    await expect("code of another client", grant, otherAuth, 400, "invalid_grant");
  });
});

Deno.test("mismatched redirect_uri, reused and expired codes are invalid_grant", async () => {
  await withGateway(async (gateway) => {
    const first = await approvedCode(gateway);
    const mismatched = await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code: first.code,
      redirect_uri: "https://app.example/other",
    }, first.auth);
    assert.equal(mismatched.body.error, "invalid_grant", "mismatched redirect_uri");
    const omitted = await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code: first.code,
    }, first.auth);
    assert.equal(omitted.body.error, "invalid_grant", "the code was burnt by the bad attempt");

    const second = await authorize(gateway, first.cookie, {
      response_type: "code",
      client_id: first.registered.app.clientId,
      redirect_uri: REDIRECT_URI,
    });
    const code = second.searchParams.get("code")!;
    const grant = { grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI };
    const ok = await tokenRequest(gateway, grant, first.auth);
    assert.equal(ok.status, 200);
    const reused = await tokenRequest(gateway, grant, first.auth);
    assert.equal(reused.status, 400);
    assert.equal(reused.body.error, "invalid_grant", "reused code");
    assert.equal(
      (await probe(gateway, ok.body.access_token as string)).status,
      401,
      "a replayed code ends what it granted",
    );

    const third = await authorize(gateway, first.cookie, {
      response_type: "code",
      client_id: first.registered.app.clientId,
      redirect_uri: REDIRECT_URI,
    });
    gateway.clock.offsetMs = CODE_EXPIRES_IN_S * 1000 + 1;
    const expired = await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code: third.searchParams.get("code")!,
      redirect_uri: REDIRECT_URI,
    }, first.auth);
    assert.equal(expired.body.error, "invalid_grant", "expired code");
  });
});

Deno.test("resource callers: no token, wrong type, expired, revoked, refreshed-away", async () => {
  await withGateway(async (gateway) => {
    const { registered, code, auth, cookie } = await approvedCode(gateway);
    const tokens = (await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
    }, auth)).body;
    const client = (await tokenRequest(gateway, { grant_type: "client_credentials" }, auth)).body;
    assert.equal(client.resourceURI, `${gateway.url}/espi/1_1/resource/Authorization`);

    const none = await probe(gateway, null);
    assert.equal(none.status, 401);
    assert.equal(none.challenge, 'Bearer realm="openseg"');
    assert.equal((await probe(gateway, "not-a-token")).body.error, "invalid_token");
    assert.equal(
      (await probe(gateway, tokens.refresh_token as string)).body.error,
      "invalid_token",
      "a refresh token reads nothing",
    );
    assert.equal((await probe(gateway, client.access_token as string)).body.kind, "client");
    assert.equal(
      (await probe(gateway, registered.registrationAccessToken)).body.kind,
      "registration",
    );
    assert.equal(
      (await probe(gateway, tokens.access_token as string)).body.kind,
      "access",
      "each token type resolves to its own caller kind",
    );

    // A session cookie is the owner; a bearer header wins over it.
    const owner = await fetch(`${gateway.url}/test/whoami`, { headers: { Cookie: cookie } });
    assert.equal((await owner.json()).kind, "owner");

    gateway.clock.offsetMs = 3601_000;
    assert.equal((await probe(gateway, tokens.access_token as string)).status, 401, "expired");
    gateway.clock.offsetMs = 0;

    // The owner revokes on the authorizations page.
    const list = await (await fetch(`${gateway.url}/owner/authorizations`, {
      headers: { Cookie: cookie },
    })).text();
    const action = list.match(/action="(\/owner\/authorizations\/[^"]+\/revoke)"/)![1];
    const revoke = await fetch(`${gateway.url}${action}`, {
      method: "POST",
      redirect: "manual",
      headers: {
        Cookie: cookie,
        Origin: gateway.url,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: "",
    });
    await revoke.body?.cancel();
    assert.equal(revoke.status, 303);
    assert.equal((await probe(gateway, tokens.access_token as string)).status, 401, "revoked");
    const refresh = await tokenRequest(gateway, {
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token as string,
    }, auth);
    assert.equal(refresh.body.error, "invalid_grant", "refresh after owner revocation");
  });
});

Deno.test("revoking an access token (RFC 7009) ends only that token; others' tokens are untouched", async () => {
  await withGateway(async (gateway) => {
    const { code, auth } = await approvedCode(gateway);
    const tokens = (await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
    }, auth)).body;
    const other = addApp(gateway);
    const byOther = await tokenRequest(
      gateway,
      {
        token: tokens.access_token as string,
      },
      basic(other.app.clientId, other.clientSecret!),
      "/oauth/revoke",
    );
    assert.equal(byOther.status, 200, "no information about other clients' tokens");
    assert.equal((await probe(gateway, tokens.access_token as string)).status, 200);
    const unknown = await tokenRequest(gateway, { token: "nonsense" }, auth, "/oauth/revoke");
    assert.equal(unknown.status, 200);
    const missing = await tokenRequest(gateway, {}, auth, "/oauth/revoke");
    assert.equal(missing.body.error, "invalid_request");
    const noAuth = await tokenRequest(gateway, { token: "x" }, undefined, "/oauth/revoke");
    assert.equal(noAuth.status, 401);
    const revoked = await tokenRequest(
      gateway,
      {
        token: tokens.access_token as string,
      },
      auth,
      "/oauth/revoke",
    );
    assert.equal(revoked.status, 200);
    assert.equal((await probe(gateway, tokens.access_token as string)).status, 401);
    const refreshed = await tokenRequest(gateway, {
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token as string,
    }, auth);
    assert.equal(refreshed.status, 200, "the refresh token still works");
  });
});

Deno.test("refresh with a malformed or wider scope is invalid_scope", async () => {
  await withGateway(async (gateway) => {
    const { code, auth } = await approvedCode(gateway);
    const tokens = (await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
    }, auth)).body;
    for (const scope of ["FB=1;;", "FB=1_2_3_4_5_6_7;IntervalDuration=1;HistoryLength=9"]) {
      const response = await tokenRequest(gateway, {
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token as string,
        scope,
      }, auth);
      assert.equal(response.body.error, "invalid_scope", scope);
    }
    const malformed = await tokenRequest(gateway, {
      grant_type: "client_credentials",
      scope: "FB=banana",
    }, auth);
    assert.equal(malformed.body.error, "invalid_scope");
  });
});

Deno.test("token endpoint brute force: 429 with Retry-After after 5 failures", async () => {
  await withGateway(async (gateway) => {
    const registered = addApp(gateway);
    const clientId = registered.app.clientId;
    for (let i = 0; i < 5; i++) {
      const response = await tokenRequest(gateway, {
        grant_type: "client_credentials",
      }, basic(clientId, `guess-${i}`));
      assert.equal(response.status, 401);
    }
    const limited = await tokenRequest(gateway, {
      grant_type: "client_credentials",
    }, basic(clientId, registered.clientSecret!));
    assert.equal(limited.status, 429, "even the right secret waits");
    assert.ok(Number(limited.headers.get("retry-after")) > 0);
    const revokeLimited = await tokenRequest(
      gateway,
      { token: "x" },
      basic(
        clientId,
        registered.clientSecret!,
      ),
      "/oauth/revoke",
    );
    assert.equal(revokeLimited.status, 429);
    gateway.clock.offsetMs = 61_000;
    const later = await tokenRequest(gateway, {
      grant_type: "client_credentials",
    }, basic(clientId, registered.clientSecret!));
    assert.equal(later.status, 200);
  });
});

Deno.test("apps, authorizations and tokens survive a restart", async () => {
  const gateway = await startTestGateway();
  const { code, auth } = await approvedCode(gateway);
  const tokens = (await tokenRequest(gateway, {
    grant_type: "authorization_code",
    code,
    redirect_uri: REDIRECT_URI,
  }, auth)).body;
  const path = gateway.dbPath;
  // Keep the file: copy it before the fixture removes its directory.
  const copy = await Deno.makeTempFile({ suffix: ".db" });
  gateway.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  await Deno.copyFile(path, copy);
  await gateway.close();
  const { openDatabase } = await import("../../src/store/db.ts");
  const { resolveCaller } = await import("../../src/auth/resolve.ts");
  const db = openDatabase(copy);
  try {
    const caller = resolveCaller(
      new Request("http://x/", { headers: { Authorization: `Bearer ${tokens.access_token}` } }),
      { db, nowMs: Date.now, publicBaseUrl: "http://x", timeZone: "UTC", secure: false },
    );
    assert.equal(caller.kind, "access");
  } finally {
    db.close();
    await Deno.remove(copy);
  }
});
