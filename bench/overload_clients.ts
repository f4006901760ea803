/**
 * The load side of the overload benchmark, run as its own process (as attackers and phones are
 * separate from the gateway) with only `--allow-net=127.0.0.1`: `count` clients of one kind
 * against the gateway at `url` for `seconds`, then one JSON line with the status-code mix.
 *
 * - `graphql`: each client loops a small query with the app's bearer token; `fetch` keeps one
 *   keep-alive connection per client busy.
 * - `login`: each client loops a wrong-password POST of the owner's login form.
 * - `half-sent`: each client opens a TCP connection and sends a request line and one header, never
 *   the blank line that ends the head; reports how many the gateway still holds open over time.
 * - `sse`: each client holds a GraphQL subscription over SSE (`Accept: text/event-stream`).
 *
 * Run by `bench/overload.ts`: `deno run --allow-net=127.0.0.1 --allow-env=OPENSEG_BENCH_TOKEN
 * bench/overload_clients.ts <graphql|login|half-sent|sse> <url> <count> <seconds>`.
 *
 * @module
 */

import { loadLoginForm } from "../tests/auth/login_form.ts";

const [mode, url, countText, secondsText] = Deno.args;
const count = Number(countText);
const durationMs = Number(secondsText) * 1000;
const token = Deno.env.get("OPENSEG_BENCH_TOKEN") ?? "";
const startMs = performance.now();
const endMs = startMs + durationMs;
/** Aborts whatever is still in flight when the load window closes. */
const window = AbortSignal.timeout(durationMs);

const SMALL_QUERY = "{ meters { id demand { signedDemandW at } } }";
const SUBSCRIPTION = "subscription { demand { demand { signedDemandW } } }";

/** Status code (or `error` / `unanswered`) → number of answers. */
const statuses: Record<string, number> = {};
const count1 = (key: string) => void (statuses[key] = (statuses[key] ?? 0) + 1);

/** Sends requests in a loop until the window closes; counts each answer's status. */
async function loop(request: () => Promise<Response>): Promise<void> {
  while (performance.now() < endMs) {
    try {
      const response = await request();
      count1(String(response.status));
      await response.body?.cancel();
    } catch {
      if (window.aborted) return;
      count1("error");
      // A refused connection fails at once; do not spin.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function graphqlLoad(): Promise<Record<string, unknown>> {
  const body = JSON.stringify({ query: SMALL_QUERY });
  const headers = { "Content-Type": "application/json", Authorization: `Bearer ${token}` };
  await Promise.all(
    Array.from(
      { length: count },
      () => loop(() => fetch(`${url}/graphql`, { method: "POST", headers, body, signal: window })),
    ),
  );
  return {};
}

async function loginLoad(): Promise<Record<string, unknown>> {
  const form = await loadLoginForm(url, window);
  let sent = 0;
  await Promise.all(Array.from({ length: count }, () =>
    loop(() =>
      fetch(`${url}/owner/login`, {
        method: "POST",
        redirect: "manual",
        headers: form.headers,
        body: form.withPassword(`wrong guess ${sent++}`),
        signal: window,
      })
    )));
  return { sent };
}

async function halfSentLoad(): Promise<Record<string, unknown>> {
  const { hostname, port, host } = new URL(url);
  const head = new TextEncoder().encode(`GET /health HTTP/1.1\r\nHost: ${host}\r\n`);
  const closedAtMs: number[] = [];
  const connections: Deno.TcpConn[] = [];
  const held: Promise<void>[] = [];
  /** Reads until the gateway closes the connection; counts what it answered first, if anything. */
  const hold = async (conn: Deno.TcpConn) => {
    const buffer = new Uint8Array(4096);
    let answered = false;
    try {
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
        if (!answered) {
          answered = true;
          const line = new TextDecoder().decode(buffer.subarray(0, n)).split("\r\n")[0];
          count1(line.split(" ")[1] ?? "garbled");
        }
      }
    } catch {
      // Reset by the gateway, or closed by us when the window ends.
    }
    if (performance.now() >= endMs) return;
    if (!answered) count1("closed unanswered");
    closedAtMs.push(performance.now() - startMs);
  };
  // In batches, so the listen backlog does not drop the opening handshakes.
  for (let i = 0; i < count && performance.now() < endMs; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, count - i) }, async () => {
      try {
        const conn = await Deno.connect({ hostname, port: Number(port) });
        await conn.write(head);
        connections.push(conn);
        held.push(hold(conn));
      } catch {
        count1("connect error");
      }
    }));
  }
  const opened = connections.length;
  const checkpointsS = [5, 10, 20, durationMs / 1000].filter((s) => s * 1000 <= durationMs);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, endMs - performance.now())));
  const openAfter = Object.fromEntries(
    checkpointsS.map((s) => [`${s}s`, opened - closedAtMs.filter((t) => t <= s * 1000).length]),
  );
  const stillOpen = opened - closedAtMs.length;
  for (const conn of connections) {
    try {
      conn.close();
    } catch {
      // Already closed by the gateway.
    }
  }
  await Promise.all(held);
  return { opened, openAfter, stillOpen };
}

async function sseLoad(): Promise<Record<string, unknown>> {
  let events = 0;
  let open = 0;
  const headers = {
    "Content-Type": "application/json",
    Accept: "text/event-stream",
    Authorization: `Bearer ${token}`,
  };
  const body = JSON.stringify({ query: SUBSCRIPTION });
  await Promise.all(Array.from({ length: count }, async () => {
    let response: Response;
    try {
      response = await fetch(`${url}/graphql`, { method: "POST", headers, body, signal: window });
    } catch {
      if (!window.aborted) count1("error");
      else count1("unanswered");
      return;
    }
    count1(String(response.status));
    if (response.body === null) return;
    open++;
    // Cancelled explicitly: the fetch's abort signal does not end a body that is being read.
    const reader = response.body.getReader();
    const stop = setTimeout(
      () => reader.cancel().catch(() => {}),
      Math.max(0, endMs - performance.now()),
    );
    try {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        events += new TextDecoder().decode(chunk.value).split("event: next").length - 1;
      }
    } catch {
      // Reset by the gateway.
    }
    clearTimeout(stop);
    if (performance.now() < endMs) open--;
  }));
  return { events, openAtEnd: open };
}

const loads: Record<string, () => Promise<Record<string, unknown>>> = {
  graphql: graphqlLoad,
  login: loginLoad,
  "half-sent": halfSentLoad,
  sse: sseLoad,
};
if (!(mode in loads)) throw new Error(`unknown load '${mode}'`);
// Whatever the gateway does, the summary comes a few seconds after the window closes.
const details = await Promise.race([
  loads[mode](),
  new Promise<Record<string, unknown>>((resolve) =>
    setTimeout(() => resolve({ unfinishedAfterWindow: true }), durationMs + 5000)
  ),
]);
console.log(JSON.stringify({ statuses, ...details }));
Deno.exit(0);
