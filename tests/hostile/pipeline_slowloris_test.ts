/**
 * Hostile: half-sent requests and idle keep-alive connections were never closed, so 1 000 of
 * them stayed open forever (issue 10 item 5; `Deno.serve` has no header timeout). The connection
 * guard now closes them after its deadlines (short ones here) and refuses connections over cap.
 */

import assert from "node:assert/strict";
import type { Route } from "../../src/http/routes.ts";
import type { HttpServer } from "../../src/http/server.ts";
import { readUntilClosed, withTestServer } from "./raw_server.ts";

const HEALTH: Route = {
  method: "GET",
  path: "/health",
  handler: () => Response.json({ ok: true }),
};

/** A real server with short connection deadlines. */
function withServer(
  options: { routes: Route[]; maxConnections: number },
  run: (server: HttpServer, port: number) => Promise<void>,
): Promise<void> {
  return withTestServer({
    routes: options.routes,
    connections: {
      headerTimeoutMs: 150,
      idleTimeoutMs: 300,
      maxConnections: options.maxConnections,
    },
  }, run);
}

Deno.test("half-sent and idle connections are closed; over the cap gets 503", async () => {
  await withServer({ routes: [HEALTH], maxConnections: 3 }, async (server, port) => {
    const connect = () => Deno.connect({ hostname: "127.0.0.1", port });
    const send = (conn: Deno.Conn, text: string) => conn.write(new TextEncoder().encode(text));
    const halfLine = await connect();
    await send(halfLine, "GET /hea");
    const halfHeaders = await connect();
    await send(halfHeaders, `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);
    const silent = await connect();
    const over = await connect();
    const refused = await readUntilClosed(over);
    assert.match(refused.text, /^HTTP\/1\.1 503 /);
    assert.match(refused.text, /Retry-After: 1/);
    for (const conn of [halfLine, halfHeaders, silent]) {
      const closed = await readUntilClosed(conn);
      assert.equal(closed.text, "");
    }

    const keptAlive = await connect();
    await send(keptAlive, `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    const idle = await readUntilClosed(keptAlive);
    assert.match(idle.text, /^HTTP\/1\.1 200 /);
    assert.match(idle.text, /"ok":true/);

    const after = await fetch(`${server.url}/health`);
    assert.deepEqual(await after.json(), { ok: true });
  });
});

Deno.test("a half-sent later request on a keep-alive connection is closed, however it trickles", async () => {
  const routes: Route[] = [
    HEALTH,
    {
      method: "GET",
      path: "/slow",
      // A slow handler must not trip the head deadline: its head was whole.
      handler: () => new Promise((resolve) => setTimeout(() => resolve(new Response("done")), 220)),
    },
  ];
  await withServer({ routes, maxConnections: 8 }, async (_server, port) => {
    const encoder = new TextEncoder();
    const request = (path: string) =>
      encoder.encode(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    /** Reads one response (until its body `marker` arrives). */
    const readResponse = async (conn: Deno.Conn, marker: string) => {
      let text = "";
      const buffer = new Uint8Array(4096);
      while (!text.includes(marker)) {
        const n = await conn.read(buffer);
        if (n === null) throw new Error(`closed before "${marker}": ${text}`);
        text += new TextDecoder().decode(buffer.subarray(0, n));
      }
      return text;
    };
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(request("/health"));
    assert.match(await readResponse(conn, '"ok":true'), /^HTTP\/1\.1 200 /);
    // The same connection serves a slow answer and another quick one: both heads were whole.
    await conn.write(request("/slow"));
    assert.match(await readResponse(conn, "done"), /^HTTP\/1\.1 200 /);
    await conn.write(request("/health"));
    assert.match(await readResponse(conn, '"ok":true'), /^HTTP\/1\.1 200 /);

    // Now half a head, one byte every 100 ms: the idle timeout (300 ms) never fires.
    const started = performance.now();
    let closed = false;
    const reading = (async () => {
      const buffer = new Uint8Array(64);
      try {
        while ((await conn.read(buffer)) !== null) { /* nothing is answered */ }
      } catch {
        // A reset is a close too.
      }
      closed = true;
    })();
    for (const byte of encoder.encode("GET /health HTTP/1.1\r\nHost: x")) {
      if (closed) break;
      try {
        await conn.write(new Uint8Array([byte]));
      } catch {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await reading;
    conn.close();
    // 30 bytes at 100 ms would take 3 s; the head deadline closed it long before.
    assert.ok(closed);
    assert.ok(performance.now() - started < 2500, `closed after ${performance.now() - started} ms`);
  });
});
