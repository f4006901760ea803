/**
 * A real notification receiver for the ESPI notify tests: a `Deno.serve` on 127.0.0.1 port 0 that
 * records each POST (time, content type, body) and answers with the status the test chooses.
 *
 * @module
 */

import assert from "node:assert/strict";

export interface Received {
  atMs: number;
  contentType: string | null;
  body: string;
}

/** A receiver that answers the n-th POST (from 0) with `statusFor(n)` and records each one. */
export function receiver(statusFor: (n: number) => number = () => 200) {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const n = received.length;
    received.push({
      atMs: Date.now(),
      contentType: req.headers.get("content-type"),
      body: await req.text(),
    });
    waiters.splice(0).forEach((wake) => wake());
    return new Response(null, { status: statusFor(n) });
  });
  return {
    received,
    uri: `http://127.0.0.1:${server.addr.port}/notify`,
    /** Resolves once `count` POSTs arrived; fails after `timeoutMs`. */
    async waitFor(count: number, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        assert.ok(Date.now() < deadline, `only ${received.length} of ${count} POSTs arrived`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 50);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    close: () => server.shutdown(),
  };
}

/** The resource URIs a notification's BatchList names. */
export const batchUris = (body: string) =>
  [...body.matchAll(/<espi:resources>([^<]*)<\/espi:resources>/g)].map((m) => m[1]);
