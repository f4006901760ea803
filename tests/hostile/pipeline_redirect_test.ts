/**
 * Hostile: a sign-in link whose `next` holds control characters, TAB or CR/LF used to become a
 * `Location` header Deno cannot write, and the panic ended the whole gateway (issue 10 item 1).
 * Every such target now goes home, and the server keeps serving.
 */

import assert from "node:assert/strict";
import { setOwnerPassword } from "../../src/auth/owner.ts";
import { sameOriginPath } from "../../src/http/redirect_target.ts";
import type { Route } from "../../src/http/routes.ts";
import { OWNER_PASSWORD, postForm, PROBE_PATH, startTestGateway } from "../auth/fixtures.ts";

const HOSTILE_NEXT = [
  "/\x0b/x",
  "/\x01/x",
  "/\x0c/x",
  "/\x1f/x",
  "/\x7f/x",
  "/\t/evil.example",
  "/\r\nSet-Cookie: x=1",
  "//evil",
  "/\\evil",
  "https://evil",
  "/%2f/evil",
];

Deno.test("sign-in with a hostile next goes home; the gateway keeps serving", async () => {
  const gateway = await startTestGateway();
  try {
    await setOwnerPassword(gateway.db, OWNER_PASSWORD, Date.now());
    for (const next of HOSTILE_NEXT) {
      const response = await postForm(gateway, "/owner/login", { password: OWNER_PASSWORD, next });
      await response.body?.cancel();
      assert.equal(response.status, 303, JSON.stringify(next));
      assert.equal(response.headers.get("location"), "/owner/authorizations", JSON.stringify(next));
    }
    const page = await fetch(`${gateway.url}/owner/login?next=/%0B/x`);
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(html, /name="next" value="\/owner\/authorizations"/);
    const alive = await fetch(`${gateway.url}${PROBE_PATH}`);
    await alive.body?.cancel();
    assert.notEqual(alive.status, 500);
  } finally {
    await gateway.close();
  }
});

Deno.test("the redirect grammar keeps same-origin paths and refuses everything else", () => {
  for (const kept of ["/", "/owner/authorizations", "/a/b?c=d&e=%20f", "/x:y@z;w"]) {
    assert.equal(sameOriginPath(kept), kept);
  }
  for (const refused of [...HOSTILE_NEXT, "", "evil", "/a b", "/é", "/a#b", "/%5cevil", null]) {
    assert.equal(sameOriginPath(refused), "/", JSON.stringify(refused));
  }
});

Deno.test("a handler's invalid header value is a 500, not a crashed process", async () => {
  const broken: Route = {
    method: "GET",
    path: "/test/broken",
    handler: () => new Response(null, { status: 303, headers: { Location: "/\x0b/x" } }),
  };
  const gateway = await startTestGateway([broken]);
  try {
    const response = await fetch(`${gateway.url}/test/broken`, { redirect: "manual" });
    assert.equal(response.status, 500);
    assert.equal((await response.json()).error, "server_error");
    const alive = await fetch(`${gateway.url}${PROBE_PATH}`);
    await alive.body?.cancel();
    assert.notEqual(alive.status, 500);
  } finally {
    await gateway.close();
  }
});
