/**
 * Hostile OAuth clients (issue 10, item 7), against a real gateway: someone else's code presented
 * by the wrong client, with the wrong redirect_uri or the wrong PKCE verifier must leave it usable
 * for its app; client_credentials must not echo a scope it does not grant; replaying a rotated
 * refresh token must end the authorization; loopback redirect URIs match on any port and nothing
 * else does.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DEFAULT_APP_SCOPE, registerApp } from "../../src/auth/apps.ts";
import { s256Challenge } from "../../src/auth/pkce.ts";
import {
  addApp,
  authorize,
  basic,
  ownerSession,
  probe,
  REDIRECT_URI,
  type TestGateway,
  tokenRequest,
} from "../auth/fixtures.ts";
import { approvedCode, VERIFIER, withGateway } from "../auth/flow_helpers.ts";

/** Exchanges `code` as its own confidential app would; asserts 200. */
async function redeem(gateway: TestGateway, code: string, auth: string) {
  const response = await tokenRequest(gateway, {
    grant_type: "authorization_code",
    code,
    redirect_uri: REDIRECT_URI,
  }, auth);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  assert.equal((await probe(gateway, response.body.access_token as string)).status, 200);
  return response.body;
}

Deno.test("another client presenting a code gets invalid_grant and does not burn it", async () => {
  await withGateway(async (gateway) => {
    const { code, auth } = await approvedCode(gateway);
    const thief = addApp(gateway);
    const stolen = await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
    }, basic(thief.app.clientId, thief.clientSecret!));
    assert.equal(stolen.status, 400);
    assert.equal(stolen.body.error, "invalid_grant");
    assert.equal(stolen.body.access_token, undefined);
    // The real app still gets its tokens, and they keep working.
    await redeem(gateway, code, auth);
  });
});

Deno.test("the right client with a wrong redirect_uri leaves the code usable", async () => {
  await withGateway(async (gateway) => {
    const { code, auth } = await approvedCode(gateway);
    const wrong = await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code,
      redirect_uri: "https://app.example/other",
    }, auth);
    assert.equal(wrong.body.error, "invalid_grant");
    await redeem(gateway, code, auth);
  });
});

Deno.test("a wrong PKCE verifier leaves the code usable for the right one", async () => {
  await withGateway(async (gateway) => {
    const { code, auth } = await approvedCode(gateway, {
      code_challenge: s256Challenge(VERIFIER),
      code_challenge_method: "S256",
    });
    for (const verifier of ["x".repeat(43), `${VERIFIER}0`]) {
      const wrong = await tokenRequest(gateway, {
        grant_type: "authorization_code",
        code,
        redirect_uri: REDIRECT_URI,
        code_verifier: verifier,
      }, auth);
      assert.equal(wrong.body.error, "invalid_grant", verifier);
    }
    const ok = await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: VERIFIER,
    }, auth);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal((await probe(gateway, ok.body.access_token as string)).status, 200);
  });
});

Deno.test("a genuine replay of a used code still revokes what it granted", async () => {
  await withGateway(async (gateway) => {
    const { code, auth } = await approvedCode(gateway);
    const tokens = await redeem(gateway, code, auth);
    const replay = await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
    }, auth);
    assert.equal(replay.body.error, "invalid_grant");
    assert.equal((await probe(gateway, tokens.access_token as string)).status, 401);
  });
});

Deno.test("client_credentials answers the scope it grants, never the requested one", async () => {
  await withGateway(async (gateway) => {
    const app = addApp(gateway);
    const auth = basic(app.app.clientId, app.clientSecret!);
    // Narrower than registered: granted, but the token carries the registered scope and says so.
    const narrower = "FB=1_3_4;IntervalDuration=3600;BlockDuration=daily;HistoryLength=3600";
    const asked = await tokenRequest(gateway, {
      grant_type: "client_credentials",
      scope: narrower,
    }, auth);
    assert.equal(asked.status, 200, JSON.stringify(asked.body));
    assert.equal(asked.body.scope, DEFAULT_APP_SCOPE);
    // Wider than anything registered (FB 6 and 7, a finer interval): refused.
    for (
      const scope of [
        "FB=1_3_4_5_6_7;IntervalDuration=900;BlockDuration=daily;HistoryLength=172800",
        "FB=1_3_4;IntervalDuration=60;BlockDuration=daily;HistoryLength=3600",
      ]
    ) {
      const wider = await tokenRequest(gateway, { grant_type: "client_credentials", scope }, auth);
      assert.equal(wider.status, 400, scope);
      assert.equal(wider.body.error, "invalid_scope", scope);
      assert.equal(wider.body.access_token, undefined);
    }
  });
});

Deno.test("replaying a rotated refresh token ends the whole authorization", async () => {
  await withGateway(async (gateway) => {
    const { code, auth } = await approvedCode(gateway);
    const first = await redeem(gateway, code, auth);
    const second = await tokenRequest(gateway, {
      grant_type: "refresh_token",
      refresh_token: first.refresh_token as string,
    }, auth);
    assert.equal(second.status, 200);
    assert.equal((await probe(gateway, second.body.access_token as string)).status, 200);

    const replay = await tokenRequest(gateway, {
      grant_type: "refresh_token",
      refresh_token: first.refresh_token as string,
    }, auth);
    assert.equal(replay.body.error, "invalid_grant");
    // Whoever holds the newer tokens loses them too.
    assert.equal((await probe(gateway, second.body.access_token as string)).status, 401);
    const third = await tokenRequest(gateway, {
      grant_type: "refresh_token",
      refresh_token: second.body.refresh_token as string,
    }, auth);
    assert.equal(third.body.error, "invalid_grant");
    const status = gateway.db.prepare("SELECT status FROM oauth_authorizations").get() as {
      status: string;
    };
    assert.equal(status.status, "revoked");
  });
});

Deno.test("another client replaying someone's rotated refresh token changes nothing", async () => {
  await withGateway(async (gateway) => {
    const { code, auth } = await approvedCode(gateway);
    const first = await redeem(gateway, code, auth);
    const second = (await tokenRequest(gateway, {
      grant_type: "refresh_token",
      refresh_token: first.refresh_token as string,
    }, auth)).body;
    const other = addApp(gateway);
    const foreign = await tokenRequest(gateway, {
      grant_type: "refresh_token",
      refresh_token: first.refresh_token as string,
    }, basic(other.app.clientId, other.clientSecret!));
    assert.equal(foreign.body.error, "invalid_grant");
    assert.equal((await probe(gateway, second.access_token as string)).status, 200);
  });
});

/** GETs the consent page for `redirectUri`; returns its status (200: accepted, 400: refused). */
async function consentStatus(
  gateway: TestGateway,
  cookie: string,
  clientId: string,
  redirectUri: string,
): Promise<number> {
  const params = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: s256Challenge(VERIFIER),
    code_challenge_method: "S256",
  });
  const page = await fetch(`${gateway.url}/oauth/authorize?${params}`, {
    headers: { Cookie: cookie },
    redirect: "manual",
  });
  await page.body?.cancel();
  return page.status;
}

Deno.test("loopback redirect URIs match on any port (RFC 8252 §7.3), nothing else does", async () => {
  await withGateway(async (gateway) => {
    const native = registerApp(gateway.db, {
      name: "Desktop Energy",
      redirectUris: ["http://127.0.0.1/cb", "http://[::1]/cb", "http://localhost:8080/cb"],
      isPublic: true,
      nowMs: Date.now(),
    });
    const web = addApp(gateway);
    const cookie = await ownerSession(gateway);
    const clientId = native.app.clientId;

    for (
      const uri of [
        "http://127.0.0.1:51234/cb",
        "http://127.0.0.1/cb",
        "http://[::1]:60001/cb",
        "http://localhost:9/cb",
      ]
    ) {
      assert.equal(await consentStatus(gateway, cookie, clientId, uri), 200, uri);
    }
    for (
      const uri of [
        "http://127.0.0.1:51234/cb/other",
        "http://127.0.0.1:51234/cb?x=1",
        "http://user@127.0.0.1:51234/cb",
        "https://127.0.0.1:51234/cb",
        "http://127.0.0.2:51234/cb",
      ]
    ) {
      assert.equal(await consentStatus(gateway, cookie, clientId, uri), 400, uri);
    }
    // A non-loopback registration never gets port flexibility.
    assert.equal(
      await consentStatus(gateway, cookie, web.app.clientId, "https://app.example:8443/callback"),
      400,
    );

    // The whole flow on an ephemeral port: the code goes to that port and is exchanged there.
    const ephemeral = "http://127.0.0.1:49152/cb";
    const redirect = await authorize(gateway, cookie, {
      response_type: "code",
      client_id: clientId,
      redirect_uri: ephemeral,
      code_challenge: s256Challenge(VERIFIER),
      code_challenge_method: "S256",
    });
    assert.equal(`${redirect.origin}${redirect.pathname}`, ephemeral);
    const tokens = await tokenRequest(gateway, {
      grant_type: "authorization_code",
      code: redirect.searchParams.get("code")!,
      client_id: clientId,
      redirect_uri: ephemeral,
      code_verifier: VERIFIER,
    });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  });
});
