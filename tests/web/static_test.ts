/**
 * `src/app/static.ts` on the real HTTP server: `/` is the sign-in page without a session and the
 * dashboard with one, assets have their content types, gzip and revalidation by ETag, and a
 * missing build is a clear 503 rather than a blank page.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createSession, SESSION_COOKIE } from "../../src/auth/sessions.ts";
import { createHttpApp } from "../../src/app/http_app.ts";
import { openDatabase } from "../../src/store/db.ts";

async function withServer(
  files: Record<string, string> | null,
  run: (url: string, cookie: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "openseg-static-" });
  const assets = new URL(`file://${dir}/assets/`);
  if (files !== null) {
    await Deno.mkdir(assets);
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(new URL(name, assets), text);
    }
  }
  const db = openDatabase(`${dir}/openseg.db`);
  const server = createHttpApp({
    hostname: "127.0.0.1",
    port: 0,
    services: { db, nowMs: Date.now, publicBaseUrl: "", timeZone: "UTC", secure: false },
    web: { assets },
  });
  const session = createSession(db, { nowMs: Date.now(), secure: false });
  try {
    await run(server.url, `${SESSION_COOKIE}=${session.sessionId}`);
  } finally {
    await server.shutdown();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const FILES = {
  "index.html": "<!doctype html><title>dashboard</title>",
  "signin.html": "<!doctype html><title>sign in</title>",
  "app.js": `console.log(${JSON.stringify("x".repeat(2000))});`,
  "app.css": "body { color: red }",
  "notes.txt": "not served",
};

Deno.test("/ is the sign-in page without a session and the dashboard with one", async () => {
  await withServer(FILES, async (url, cookie) => {
    const anonymous = await fetch(`${url}/`);
    assert.equal(anonymous.status, 200);
    assert.match(await anonymous.text(), /sign in/);
    // Its form POSTs must carry the page's Origin for the CSRF check.
    assert.equal(anonymous.headers.get("referrer-policy"), "same-origin");
    const owner = await fetch(`${url}/`, { headers: { Cookie: cookie } });
    assert.match(await owner.text(), /dashboard/);
    assert.equal(owner.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(owner.headers.get("content-security-policy") ?? "", /default-src 'self'/);
  });
});

Deno.test("assets: content types, gzip, ETag revalidation, nothing else", async () => {
  await withServer(FILES, async (url) => {
    const script = await fetch(`${url}/assets/app.js`, {
      headers: { "Accept-Encoding": "gzip" },
    });
    assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.equal(script.headers.get("content-encoding"), "gzip");
    assert.equal(script.headers.get("cache-control"), "no-cache");
    assert.equal((await script.text()).length, FILES["app.js"].length, "fetch inflates it");
    const etag = script.headers.get("etag")!;
    const again = await fetch(`${url}/assets/app.js`, { headers: { "If-None-Match": etag } });
    assert.equal(again.status, 304);
    await again.body?.cancel();
    const style = await fetch(`${url}/assets/app.css`);
    assert.equal(style.headers.get("content-type"), "text/css; charset=utf-8");
    await style.body?.cancel();
    for (const path of ["/assets/notes.txt", "/assets/missing.js", "/assets/..%2Fopenseg.db"]) {
      const response = await fetch(`${url}${path}`);
      assert.equal(response.status, 404, path);
      await response.body?.cancel();
    }
  });
});

Deno.test("without a build, / says how to build the dashboard", async () => {
  await withServer(null, async (url, cookie) => {
    const response = await fetch(`${url}/`, { headers: { Cookie: cookie } });
    assert.equal(response.status, 503);
    assert.match(await response.text(), /deno task build:web/);
  });
});
