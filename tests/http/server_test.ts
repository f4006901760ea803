import assert from "node:assert/strict";
import { failureLimiter } from "../../src/auth/failure_limiter.ts";
import { setOwnerPassword } from "../../src/auth/owner.ts";
import { ownerSignInRoutes } from "../../src/auth/owner_pages.ts";
import { readForm, readJson } from "../../src/http/body.ts";
import { healthRoute } from "../../src/app/health.ts";
import type { Route } from "../../src/http/routes.ts";
import { startHttpServer } from "../../src/http/server.ts";
import { openDatabase } from "../../src/store/db.ts";
import { makeTestCertificate } from "./tls_fixture.ts";

const routes: Route[] = [
  healthRoute({ version: "9.9.9", startedMs: Date.now() - 5000 }),
  { method: "GET", path: "/items/:id", handler: (_r, c) => Response.json({ id: c.params.id }) },
  {
    method: "POST",
    path: "/echo/json",
    handler: async (request) => Response.json({ got: await readJson(request) }),
  },
  {
    method: "POST",
    path: "/echo/form",
    handler: async (request) => Response.json(Object.fromEntries(await readForm(request))),
  },
  {
    method: "GET",
    path: "/boom",
    handler: () => {
      throw new Error("secret internal detail /etc/passwd");
    },
  },
];

async function withServer(test: (url: string, errors: unknown[]) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  const db = openDatabase(`${dir}/t.db`);
  const errors: unknown[] = [];
  const server = startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    services: { db, nowMs: Date.now, publicBaseUrl: "", timeZone: "UTC", secure: false },
    routes,
    maxBodyBytes: 1024,
    onError: (error) => errors.push(error),
  });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(server.url, "http://127.0.0.1:0");
    await test(server.url, errors);
  } finally {
    await server.shutdown();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function json(response: Response): Promise<Record<string, unknown>> {
  return await response.json();
}

Deno.test("health answers ok, version and uptime", async () => {
  await withServer(async (url) => {
    const response = await fetch(`${url}/health`);
    assert.equal(response.status, 200);
    const body = await json(response);
    assert.equal(body.ok, true);
    assert.equal(body.version, "9.9.9");
    assert.ok((body.uptimeS as number) >= 4);
  });
});

Deno.test("routes match patterns; unknown paths 404 and wrong methods 405 with Allow", async () => {
  await withServer(async (url) => {
    assert.deepEqual(await json(await fetch(`${url}/items/42`)), { id: "42" });
    const missing = await fetch(`${url}/nope`);
    assert.equal(missing.status, 404);
    assert.equal((await json(missing)).error, "not_found");
    const wrong = await fetch(`${url}/items/42`, { method: "DELETE" });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get("allow"), "GET, HEAD");
    assert.equal((await json(wrong)).error, "method_not_allowed");
    const head = await fetch(`${url}/health`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
  });
});

Deno.test("every response carries the security headers", async () => {
  await withServer(async (url) => {
    for (const path of ["/health", "/nope", "/boom"]) {
      const response = await fetch(`${url}${path}`);
      await response.body?.cancel();
      const h = response.headers;
      assert.match(h.get("content-security-policy") ?? "", /default-src 'self'/, path);
      assert.equal(h.get("x-content-type-options"), "nosniff");
      assert.equal(h.get("referrer-policy"), "same-origin");
      assert.equal(h.get("x-frame-options"), "DENY");
      assert.equal(h.get("cache-control"), "no-store");
      assert.equal(h.get("strict-transport-security"), null, "no HSTS without TLS");
    }
  });
});

Deno.test("bodies over the limit get 413, with or without Content-Length", async () => {
  await withServer(async (url) => {
    const big = "x".repeat(2048);
    const declared = await fetch(`${url}/echo/json`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ big }),
    });
    assert.equal(declared.status, 413);
    assert.equal((await json(declared)).error, "payload_too_large");
    const chunked = await fetch(`${url}/echo/json`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: new Blob([JSON.stringify({ big })]).stream(),
    });
    assert.equal(chunked.status, 413);
    await chunked.body?.cancel();
  });
});

Deno.test("malformed JSON and forms get short 4xx JSON errors", async () => {
  await withServer(async (url) => {
    const cases: [string, string, string, number][] = [
      ["/echo/json", "application/json", "{not json", 400],
      ["/echo/json", "text/plain", "{}", 415],
      ["/echo/form", "application/json", "a=1", 415],
      ["/echo/form", "application/x-www-form-urlencoded", "a=1&a=2", 400],
    ];
    for (const [path, type, body, status] of cases) {
      const response = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { "Content-Type": type },
        body,
      });
      const error = await json(response);
      assert.equal(response.status, status, `${path} ${type} ${body}`);
      assert.equal(error.error, "invalid_request");
      assert.equal(typeof error.error_description, "string");
    }
    const invalidUtf8 = await fetch(`${url}/echo/form`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new Uint8Array([0x61, 0x3d, 0xff, 0xfe]),
    });
    assert.equal(invalidUtf8.status, 400);
    await invalidUtf8.body?.cancel();
    const ok = await fetch(`${url}/echo/form`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded; charset=utf-8" },
      body: "a=1&b=%C3%A9",
    });
    assert.deepEqual(await json(ok), { a: "1", b: "é" });
  });
});

Deno.test("oversized URLs and headers are refused", async () => {
  await withServer(async (url) => {
    const longUrl = await fetch(`${url}/items/${"a".repeat(9000)}`);
    assert.equal(longUrl.status, 414);
    await longUrl.body?.cancel();
    const headers: Record<string, string> = {};
    for (let i = 0; i < 20; i++) headers[`x-filler-${i}`] = "v".repeat(1000);
    const bigHeaders = await fetch(`${url}/health`, { headers });
    assert.equal(bigHeaders.status, 431);
    await bigHeaders.body?.cancel();
  });
});

Deno.test("a throwing handler gives a bare 500 and the server keeps serving", async () => {
  await withServer(async (url, errors) => {
    const response = await fetch(`${url}/boom`);
    const text = await response.text();
    assert.equal(response.status, 500);
    assert.deepEqual(JSON.parse(text), {
      error: "server_error",
      error_description: "internal error",
    });
    assert.ok(!text.includes("passwd"), "no internals leak");
    assert.equal(errors.length, 1, "the error is reported to the operator");
    const after = await fetch(`${url}/health`);
    assert.equal(after.status, 200);
    await after.body?.cancel();
  });
});

Deno.test("under TLS: HSTS on every response and the session cookie is Secure", async () => {
  const certificate = await makeTestCertificate();
  if (certificate === null) {
    console.warn("openssl not installed: TLS test skipped");
    return;
  }
  const dir = await Deno.makeTempDir();
  const db = openDatabase(`${dir}/t.db`);
  await setOwnerPassword(db, "correct horse battery", Date.now());
  const server = startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    cert: certificate.cert,
    key: certificate.key,
    services: { db, nowMs: Date.now, publicBaseUrl: "", timeZone: "UTC", secure: false },
    routes: [...routes, ...ownerSignInRoutes()],
    rateLimiter: failureLimiter({ db, nowMs: Date.now }),
  });
  const client = Deno.createHttpClient({ caCerts: [certificate.ca] });
  try {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(server.services.secure, true);
    const health = await fetch(`${server.url}/health`, { client });
    await health.body?.cancel();
    assert.match(health.headers.get("strict-transport-security") ?? "", /max-age=\d+/);
    const login = await fetch(`${server.url}/owner/login`, {
      client,
      method: "POST",
      redirect: "manual",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: server.url },
      body: "password=correct+horse+battery",
    });
    await login.body?.cancel();
    assert.equal(login.status, 303);
    assert.match(login.headers.get("set-cookie") ?? "", /; Secure$/);
  } finally {
    client.close();
    await server.shutdown();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
