/**
 * Helpers shared by the OAuth flow tests and the hostile auth tests: a gateway per test, and an
 * app the owner has approved, with its code.
 *
 * @module
 */

import {
  addApp,
  authorize,
  basic,
  ownerSession,
  REDIRECT_URI,
  startTestGateway,
  type TestGateway,
} from "./fixtures.ts";

/** A PKCE verifier (43+ characters of the unreserved set). */
export const VERIFIER = "dBjftJeZ4CVP-mJ92K9lWbhYiq5r0AaWcLqK7e0n_Jk4xYz";

/** Runs `test` against a fresh gateway and always closes it. */
export async function withGateway(test: (gateway: TestGateway) => Promise<void>) {
  const gateway = await startTestGateway();
  try {
    await test(gateway);
  } finally {
    await gateway.close();
  }
}

/** Registers a confidential app, has the owner approve it and returns its code redirect. */
export async function approvedCode(gateway: TestGateway, extra: Record<string, string> = {}) {
  const registered = addApp(gateway);
  const cookie = await ownerSession(gateway);
  const redirect = await authorize(gateway, cookie, {
    response_type: "code",
    client_id: registered.app.clientId,
    redirect_uri: REDIRECT_URI,
    state: "xyz 123",
    ...extra,
  });
  const auth = basic(registered.app.clientId, registered.clientSecret!);
  return { registered, cookie, redirect, code: redirect.searchParams.get("code")!, auth };
}
