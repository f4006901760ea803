/**
 * Hostile: the gateway trusted the `Host` header (issue 10 item 6). A DNS-rebinding page reaches
 * it as `evil.example`; that now gets 421, while the names the gateway is configured under pass.
 * The CSRF check compares `Origin` with the configured origins, not with the request's own Host.
 */

import assert from "node:assert/strict";
import { openDatabase } from "../../src/store/db.ts";
import { fromOwnOrigin } from "../../src/http/origin.ts";
import { startHttpServer } from "../../src/http/server.ts";

/** Sends one raw request (fetch cannot forge Host) and returns the status code. */
async function statusFor(port: number, host: string | null): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const hostLine = host === null ? "" : `Host: ${host}\r\n`;
  await conn.write(
    new TextEncoder().encode(`GET /ping HTTP/1.1\r\n${hostLine}Connection: close\r\n\r\n`),
  );
  let text = "";
  const buffer = new Uint8Array(4096);
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  conn.close();
  return Number(text.split(" ")[1]);
}

Deno.test("Host allow-list: other names get 421, configured names pass", async () => {
  const dir = await Deno.makeTempDir();
  const db = openDatabase(`${dir}/openseg.db`);
  const server = startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    services: {
      db,
      nowMs: Date.now,
      publicBaseUrl: "https://gateway.example",
      timeZone: "UTC",
      secure: false,
    },
    routes: [{ method: "GET", path: "/ping", handler: () => new Response("pong") }],
  });
  const port = Number(new URL(server.url).port);
  try {
    for (const evil of ["evil.example", `evil.example:${port}`, "gateway.example:8443"]) {
      assert.equal(await statusFor(port, evil), 421, String(evil));
    }
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400.
    assert.equal(await statusFor(port, null), 400);
    const good = [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `LOCALHOST:${port}`,
      `[::1]:${port}`,
      "gateway.example",
      "gateway.example:443",
    ];
    for (const host of good) assert.equal(await statusFor(port, host), 200, host);
    const real = await fetch(`${server.url}/ping`);
    assert.equal(await real.text(), "pong");
    assert.deepEqual(server.services.origins, [
      `http://127.0.0.1:${port}`,
      `http://localhost:${port}`,
      `http://[::1]:${port}`,
      "https://gateway.example",
    ]);
  } finally {
    await server.shutdown();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CSRF: an Origin equal to the request's own Host is not enough", () => {
  const services = {
    publicBaseUrl: "http://127.0.0.1:8080",
    origins: ["http://127.0.0.1:8080", "http://localhost:8080"],
  };
  const check = (url: string, origin: string) =>
    fromOwnOrigin(new Request(url, { method: "POST", headers: { origin } }), services);
  assert.equal(check("http://evil.example/owner/login", "http://evil.example"), false);
  assert.equal(check("http://localhost:8080/owner/login", "http://localhost:8080"), true);
  assert.equal(check("http://127.0.0.1:8080/owner/login", "http://127.0.0.1:8080"), true);
});
