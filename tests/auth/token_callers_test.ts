/**
 * Bearer callers remembered between requests (`src/auth/token_callers.ts`, through
 * `resolveCaller`), on a real SQLite file: asked again with nothing changed, the same caller comes
 * back without reading; an expiry, a revocation (by this connection or another process's) or a
 * revoked authorization refuses the very next request.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { registerApp } from "../../src/auth/apps.ts";
import { createAuthorization, revokeAuthorization } from "../../src/auth/authorizations.ts";
import { resolveCaller } from "../../src/auth/resolve.ts";
import { mintToken, revokeToken } from "../../src/auth/tokens.ts";
import type { HttpServices } from "../../src/http/routes.ts";
import { openDatabase } from "../../src/store/db.ts";

const SCOPE = "FB=1_3_4_5_13_14_39;IntervalDuration=900;BlockDuration=daily";

async function withStore(run: (services: HttpServices & { clock: { nowMs: number } }) => void) {
  const dir = await Deno.makeTempDir();
  const db = openDatabase(`${dir}/openseg.db`);
  const clock = { nowMs: Date.now() };
  try {
    run({
      db,
      clock,
      nowMs: () => clock.nowMs,
      publicBaseUrl: "",
      timeZone: "UTC",
      secure: false,
    });
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function grantToken(services: HttpServices, expiresInS = 3600) {
  const nowMs = services.nowMs();
  const { app } = registerApp(services.db, {
    name: "Energy Coach",
    redirectUris: ["https://app.example/callback"],
    scopes: [SCOPE],
    nowMs,
  });
  const authorization = createAuthorization(services.db, {
    clientId: app.clientId,
    scope: SCOPE,
    usagePointIds: [],
    householdId: 1,
    nowMs,
  });
  const minted = mintToken(services.db, {
    kind: "access",
    clientId: app.clientId,
    authorizationId: authorization.authorizationId,
    expiresInS,
    nowMs,
  });
  return { ...minted, authorizationId: authorization.authorizationId };
}

const asking = (token: string) =>
  new Request("http://127.0.0.1/graphql", { headers: { Authorization: `Bearer ${token}` } });

Deno.test("a remembered bearer caller is the same until the store changes", async () => {
  await withStore((services) => {
    const { token } = grantToken(services);
    const first = resolveCaller(asking(token), services);
    assert.equal(first.kind, "access");
    assert.equal(resolveCaller(asking(token), services), first, "read again with nothing changed");
    // Any row changed: resolved again from the rows (an equal caller, not the same object).
    grantToken(services);
    const again = resolveCaller(asking(token), services);
    assert.notEqual(again, first);
    assert.deepEqual(again, first);
    // Made-up and malformed tokens stay refused, however often they come.
    for (const bad of ["x".repeat(43), "y".repeat(600)]) {
      for (let i = 0; i < 2; i++) {
        assert.deepEqual(resolveCaller(asking(bad), services), {
          kind: "anonymous",
          reason: "invalid_token",
        });
      }
    }
  });
});

Deno.test("a remembered caller is refused once its token expires or is revoked, from anywhere", async () => {
  await withStore((services) => {
    const refused = { kind: "anonymous", reason: "invalid_token" };

    const expiring = grantToken(services, 60);
    assert.equal(resolveCaller(asking(expiring.token), services).kind, "access");
    assert.equal(resolveCaller(asking(expiring.token), services).kind, "access");
    services.clock.nowMs += 60_000;
    assert.deepEqual(resolveCaller(asking(expiring.token), services), refused);

    const revoked = grantToken(services);
    resolveCaller(asking(revoked.token), services);
    resolveCaller(asking(revoked.token), services);
    revokeToken(services.db, revoked.tokenId, services.nowMs());
    assert.deepEqual(resolveCaller(asking(revoked.token), services), refused);

    const ended = grantToken(services);
    resolveCaller(asking(ended.token), services);
    revokeAuthorization(services.db, ended.authorizationId, services.nowMs());
    assert.deepEqual(resolveCaller(asking(ended.token), services), refused);

    // Another process (the command line) revokes: its commit is seen on the next request.
    const elsewhere = grantToken(services);
    resolveCaller(asking(elsewhere.token), services);
    resolveCaller(asking(elsewhere.token), services);
    const other = new DatabaseSync(services.db.location()!);
    try {
      other.prepare("UPDATE oauth_tokens SET revoked_ms = ? WHERE token_id = ?")
        .run(services.nowMs(), elsewhere.tokenId);
    } finally {
      other.close();
    }
    assert.deepEqual(resolveCaller(asking(elsewhere.token), services), refused);
  });
});
