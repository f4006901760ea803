/**
 * The gateway's own HTTP/1.1 server on `Deno.listen` / `Deno.listenTls`. `Deno.serve` (Deno 2.9)
 * never closes a connection that sends half a request and stalls, nor an idle keep-alive one, so
 * 1 000 such sockets stay open forever (slowloris); it offers no hook to see a connection before
 * its head is whole. Relaying every connection to it through a front that does cost two socket
 * hops and ~65 µs per request. This server owns its connections instead: it refuses beyond a
 * total and a per-address cap, gives every request head a deadline and every connection an idle
 * timeout (one sweeper for all of them, not a timer per request), and hands Web-standard
 * `Request`s to the handler.
 *
 * @module
 */

import { isLoopback } from "../guards/loopback.ts";
import { type ConnectionState, type Http1Handler, serveConnection } from "./connection.ts";
import type { ConnectionLimits } from "./limits.ts";
import type { HeadPolicy } from "./response_writer.ts";

export interface Http1ServerOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** PEM chain and key: TLS is terminated here. */
  tls?: { cert: string; key: string };
  limits: ConnectionLimits;
  handler: Http1Handler;
  /** Headers every response gets, and what happens to an unsendable one. */
  policy: HeadPolicy;
}

export interface Http1Server {
  addr: Deno.NetAddr;
  /** Connections open now (for metrics and tests). */
  openConnections(): number;
  /** Requests answered since the start (a quiet server's count stands still). */
  requestsServed(): number;
  /** Connections ended since the start (streams included: their end is activity too). */
  connectionsEnded(): number;
  /** Stops accepting and ends every open connection. */
  close(): Promise<void>;
}

/** How often deadlines are checked: a fraction of the shortest, within 50 ms–1 s. */
function sweepEveryMs(limits: ConnectionLimits): number {
  return Math.min(1000, Math.max(50, Math.min(limits.headerTimeoutMs, limits.idleTimeoutMs) / 5));
}

/** Starts listening. */
export function startHttp1Server(options: Http1ServerOptions): Http1Server {
  const limits = options.limits;
  const listener: Deno.Listener = options.tls
    ? Deno.listenTls({
      hostname: options.hostname,
      port: options.port,
      cert: options.tls.cert,
      key: options.tls.key,
      alpnProtocols: ["http/1.1"],
    })
    : Deno.listen({ hostname: options.hostname, port: options.port });
  const addr = listener.addr as Deno.NetAddr;
  const open = new Map<Deno.Conn, ConnectionState>();
  const perAddress = new Map<string, number>();
  const tasks = new Set<Promise<void>>();
  let served = 0;
  let ended = 0;
  const connectionOptions = {
    limits,
    tls: options.tls !== undefined,
    defaultHost: addr.hostname.includes(":")
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`,
    handler: (request: Request, info: { remoteAddr: string }) => {
      served++;
      return options.handler(request, info);
    },
    policy: options.policy,
    date: httpDate,
  };

  const sweeper = setInterval(() => {
    const nowMs = performance.now();
    for (const [conn, state] of open) {
      if (nowMs > state.deadlineMs) safeClose(conn);
    }
  }, sweepEveryMs(limits));

  async function acceptLoop(): Promise<void> {
    for await (const conn of listener) {
      const address = (conn.remoteAddr as Deno.NetAddr).hostname;
      const count = isLoopback(address) ? 0 : perAddress.get(address) ?? 0;
      if (open.size >= limits.maxConnections || count >= limits.maxConnectionsPerAddress) {
        refuse(conn);
        continue;
      }
      // Answers go out as soon as they are written: with Nagle on, a head and a body written
      // apart wait for the client's delayed ACK (~40 ms).
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      const state: ConnectionState = { deadlineMs: Infinity };
      open.set(conn, state);
      if (!isLoopback(address)) perAddress.set(address, count + 1);
      const task = serveConnection(conn, address, state, connectionOptions).finally(() => {
        open.delete(conn);
        tasks.delete(task);
        ended++;
        if (isLoopback(address)) return;
        const left = (perAddress.get(address) ?? 1) - 1;
        if (left === 0) perAddress.delete(address);
        else perAddress.set(address, left);
      });
      tasks.add(task);
    }
  }

  const accepting = acceptLoop().catch(() => {});
  return {
    addr,
    openConnections: () => open.size,
    requestsServed: () => served,
    connectionsEnded: () => ended,
    close: async () => {
      clearInterval(sweeper);
      safeClose(listener);
      for (const conn of open.keys()) safeClose(conn);
      await accepting;
      await Promise.all([...tasks]);
    },
  };
}

let dateSecond = -1;
let dateValue = "";

/** The `Date` field value, made once a second. */
function httpDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(second * 1000).toUTCString();
  }
  return dateValue;
}

/** A one-line refusal for connections over a cap, then close. */
function refuse(conn: Deno.Conn): void {
  const text = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n" +
    "Connection: close\r\n\r\n";
  conn.write(new TextEncoder().encode(text)).catch(() => {}).finally(() => safeClose(conn));
}

function safeClose(closable: { close(): void }): void {
  try {
    closable.close();
  } catch {
    // Already closed.
  }
}
