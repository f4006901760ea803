/**
 * Hostile: the gateway's own HTTP/1.1 server (src/http/http1/) against what request smugglers and
 * broken clients send, over raw TCP to a real server on 127.0.0.1. Every refusal is the status
 * RFC 9112 gives, the connection closes after it, and nothing behind it is served; well-formed
 * but unusual requests (chunked bodies, pipelining, `Expect: 100-continue`, bare LF, HTTP/1.0)
 * are answered correctly.
 */

import assert from "node:assert/strict";
import type { Route } from "../../src/http/routes.ts";
import { readUntilClosed, withTestServer } from "./raw_server.ts";

const encoder = new TextEncoder();

/** Sends `text` on a fresh connection and returns everything until the server closes it. */
async function exchange(port: number, text: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode(text));
  return (await readUntilClosed(conn)).text;
}

/** The status of every answer in `text` (pipelined answers follow each other's bodies). */
const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => +m[1]);

let echoed: string[] = [];
let streamCancelled: Promise<void> = Promise.resolve();

const ROUTES: Route[] = [
  { method: "GET", path: "/ping", handler: () => new Response("pong") },
  {
    method: "POST",
    path: "/echo",
    handler: async (request) => {
      const text = await request.text();
      echoed.push(text);
      return new Response(`echo:${text}`);
    },
  },
  {
    method: "GET",
    path: "/events",
    admission: "bypass",
    handler: () => {
      let cancelled!: () => void;
      streamCancelled = new Promise((resolve) => cancelled = resolve);
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(encoder.encode("data: first\n\n"));
        },
        cancel() {
          cancelled();
        },
      });
      return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
    },
  },
];

function withServer(run: (port: number) => Promise<void>): Promise<void> {
  echoed = [];
  return withTestServer({ routes: ROUTES, maxBodyBytes: 1024 }, (_server, port) => run(port));
}

Deno.test("request smuggling and malformed heads get RFC 9112's status, and nothing behind them runs", async () => {
  await withServer(async (port) => {
    const host = `Host: 127.0.0.1:${port}\r\n`;
    const smuggled = `POST /echo HTTP/1.1\r\n${host}Content-Length: 5\r\n\r\nafter`;
    const cases: [string, number][] = [
      // CL.TE / TE.CL: both framings at once.
      [
        `POST /echo HTTP/1.1\r\n${host}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
        400,
      ],
      [
        `POST /echo HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n${smuggled}`,
        400,
      ],
      // Content-Length values that disagree, or are not a number.
      [
        `POST /echo HTTP/1.1\r\n${host}Content-Length: 3\r\nContent-Length: 30\r\n\r\nabc${smuggled}`,
        400,
      ],
      [`POST /echo HTTP/1.1\r\n${host}Content-Length: 3, 30\r\n\r\nabc${smuggled}`, 400],
      [`POST /echo HTTP/1.1\r\n${host}Content-Length: -1\r\n\r\n${smuggled}`, 400],
      [`POST /echo HTTP/1.1\r\n${host}Content-Length: 0x10\r\n\r\n${smuggled}`, 400],
      // Transfer codings other than chunked, and chunked hidden behind another.
      [`POST /echo HTTP/1.1\r\n${host}Transfer-Encoding: gzip\r\n\r\n${smuggled}`, 501],
      [
        `POST /echo HTTP/1.1\r\n${host}Transfer-Encoding: chunked, identity\r\n\r\n${smuggled}`,
        501,
      ],
      [`POST /echo HTTP/1.1\r\n${host}Transfer-Encoding : chunked\r\n\r\n${smuggled}`, 400],
      [`POST /echo HTTP/1.0\r\n${host}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`, 400],
      // obs-fold, a bare CR, control characters, a malformed field name.
      [`GET /ping HTTP/1.1\r\n${host}X-A: 1\r\n folded\r\n\r\n${smuggled}`, 400],
      [`GET /ping HTTP/1.1\r\n${host}X-A: 1\rX-B: 2\r\n\r\n${smuggled}`, 400],
      [`GET /ping HTTP/1.1\r\n${host}X-A: a\x01b\r\n\r\n${smuggled}`, 400],
      [`GET /ping HTTP/1.1\r\n${host}X(A): 1\r\n\r\n${smuggled}`, 400],
      [`GET /ping HTTP/1.1\r\n${host}: nameless\r\n\r\n${smuggled}`, 400],
      // Host: none, two, or one that would change the URL's path.
      [`GET /ping HTTP/1.1\r\n\r\n${smuggled}`, 400],
      [`GET /ping HTTP/1.1\r\n${host}${host}\r\n${smuggled}`, 400],
      [`GET /ping HTTP/1.1\r\nHost: 127.0.0.1:${port}/x?\r\n\r\n${smuggled}`, 400],
      [`GET /ping HTTP/1.1\r\nHost: a@127.0.0.1:${port}\r\n\r\n${smuggled}`, 400],
      // The request line.
      [`GET /ping HTTP/2.0\r\n${host}\r\n${smuggled}`, 505],
      [`GET /ping HTTP/1.1x\r\n${host}\r\n${smuggled}`, 400],
      [`GET  /ping HTTP/1.1\r\n${host}\r\n${smuggled}`, 400],
      [`GET /pi ng HTTP/1.1\r\n${host}\r\n${smuggled}`, 400],
      [`G@T /ping HTTP/1.1\r\n${host}\r\n${smuggled}`, 400],
      [`GET ping HTTP/1.1\r\n${host}\r\n${smuggled}`, 400],
      [`GET /ping#frag HTTP/1.1\r\n${host}\r\n${smuggled}`, 400],
      [`CONNECT 127.0.0.1:${port} HTTP/1.1\r\n${host}\r\n${smuggled}`, 400],
      [`TRACE /ping HTTP/1.1\r\n${host}\r\n${smuggled}`, 501],
      // Expectations other than 100-continue.
      [
        `POST /echo HTTP/1.1\r\n${host}Expect: 200-ok\r\nContent-Length: 1\r\n\r\nx${smuggled}`,
        417,
      ],
      // A malformed chunked body, after the head was fine.
      [
        `POST /echo HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n${smuggled}`,
        400,
      ],
      [
        `POST /echo HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n${smuggled}`,
        400,
      ],
    ];
    for (const [request, status] of cases) {
      const answer = await exchange(port, request);
      assert.deepEqual(statuses(answer), [status], JSON.stringify(request));
      assert.match(answer, /\r\nconnection: close\r\n/i, JSON.stringify(request));
      assert.match(answer, /\r\nx-content-type-options: nosniff\r\n/, JSON.stringify(request));
    }
    assert.deepEqual(echoed, [], "no smuggled request reached a handler");
    const ping = await fetch(`http://127.0.0.1:${port}/ping`);
    assert.equal(await ping.text(), "pong");
  });
});

Deno.test("oversized heads and too many fields get 431; a body over the limit gets 413", async () => {
  await withServer(async (port) => {
    const host = `Host: 127.0.0.1:${port}\r\n`;
    const huge = `GET /ping HTTP/1.1\r\n${host}X-Big: ${"a".repeat(64 * 1024)}\r\n\r\n`;
    assert.deepEqual(statuses(await exchange(port, huge)), [431]);
    const many = `GET /ping HTTP/1.1\r\n${host}${"X-A: 1\r\n".repeat(101)}\r\n`;
    assert.deepEqual(statuses(await exchange(port, many)), [431]);
    const chunks = `${"100\r\n" + "b".repeat(256) + "\r\n"}`.repeat(5);
    const bigChunked =
      `POST /echo HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`;
    assert.deepEqual(statuses(await exchange(port, bigChunked)), [413]);
    assert.deepEqual(echoed, []);
  });
});

Deno.test("chunked bodies, pipelining, 100-continue, bare LF, HEAD and HTTP/1.0 are served", async () => {
  await withServer(async (port) => {
    const host = `Host: 127.0.0.1:${port}\r\n`;
    // Three pipelined requests in one write: answered in order on one connection.
    const pipelined = await exchange(
      port,
      `POST /echo HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n` +
        `3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n` +
        `POST /echo HTTP/1.1\r\n${host}Content-Length: 3\r\n\r\nxyz` +
        `GET /ping HTTP/1.1\r\n${host}Connection: close\r\n\r\n`,
    );
    assert.deepEqual(statuses(pipelined), [200, 200, 200]);
    assert.match(pipelined, /echo:abcde[\s\S]*echo:xyz[\s\S]*pong$/);
    assert.deepEqual(echoed, ["abcde", "xyz"]);

    // Expect: 100-continue: the client waits for 100 before sending the body.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(encoder.encode(
      `POST /echo HTTP/1.1\r\n${host}Content-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
    ));
    const buffer = new Uint8Array(4096);
    const first = new TextDecoder().decode(buffer.subarray(0, (await conn.read(buffer))!));
    assert.equal(first, "HTTP/1.1 100 Continue\r\n\r\n");
    await conn.write(encoder.encode("body"));
    let rest = "";
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      rest += new TextDecoder().decode(buffer.subarray(0, n));
    }
    conn.close();
    assert.match(rest, /^HTTP\/1\.1 200 [\s\S]*echo:body$/);

    const bareLf = await exchange(
      port,
      `GET /ping HTTP/1.1\nHost: 127.0.0.1:${port}\nConnection: close\n\n`,
    );
    assert.match(bareLf, /^HTTP\/1\.1 200 [\s\S]*pong$/);

    const head = await exchange(port, `HEAD /ping HTTP/1.1\r\n${host}Connection: close\r\n\r\n`);
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.ok(head.endsWith("\r\n\r\n"), "no body after a HEAD answer");

    // HTTP/1.0 without keep-alive: answered, then closed without waiting.
    const old = await exchange(port, `GET /ping HTTP/1.0\r\n${host}\r\n`);
    assert.match(old, /^HTTP\/1\.1 200 [\s\S]*connection: close[\s\S]*pong$/i);
  });
});

Deno.test("a client leaving a server-sent event stream cancels its source, and its end is counted", async () => {
  echoed = [];
  await withTestServer({ routes: ROUTES, maxBodyBytes: 1024 }, async (server, port) => {
    const endedBefore = server.stats().connectionsEnded;
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(encoder.encode(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
    const buffer = new Uint8Array(4096);
    let text = "";
    while (!text.includes("data: first")) {
      text += new TextDecoder().decode(buffer.subarray(0, (await conn.read(buffer))!));
    }
    assert.match(text, /transfer-encoding: chunked/);
    const cancelled = streamCancelled;
    assert.equal(server.stats().connectionsEnded, endedBefore, "the stream is still open");
    conn.close();
    await cancelled;
    // The idle collection (src/app/native_memory.ts) counts a stream's end as activity.
    for (let i = 0; i < 100 && server.stats().connectionsEnded === endedBefore; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(server.stats().connectionsEnded, endedBefore + 1);
  });
});

Deno.test("heads built to make a parser backtrack are answered", async () => {
  await withServer(async (port) => {
    const host = `Host: 127.0.0.1:${port}\r\n`;
    // Spaces inside a value, a run of bare CRs, a long comma list: each once took the parser
    // quadratic time (30 KB of spaces blocked the event loop ~0.5 s per request).
    const heads = [
      `GET /ping HTTP/1.1\r\n${host}X-A: a${" ".repeat(12_000)}b\r\nConnection: close\r\n\r\n`,
      `GET /ping HTTP/1.1\r\n${host}X-A: a${"\r".repeat(12_000)}b\r\n\r\n`,
      `GET /ping HTTP/1.1\r\n${host}Connection: ${",".repeat(12_000)}close\r\n\r\n`,
    ];
    const answers = await Promise.all(heads.map((head) => exchange(port, head)));
    assert.deepEqual(answers.map(statuses), [[200], [400], [200]]);
  });
});
