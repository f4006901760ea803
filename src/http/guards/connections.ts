/**
 * The connection guard, a small TCP front for the HTTP server: `Deno.serve` (Deno 2.9) never
 * closes a connection that sends half a request and stalls, nor an idle keep-alive one, so 1 000
 * such sockets stay open forever (slowloris). The front accepts the connections itself, refuses beyond a total and a
 * per-address cap, gives each request head a deadline (the first one's, and each later one's on a
 * keep-alive connection: `headDeadline`) and each connection an idle timeout (no byte either way),
 * and copies bytes to the real server on a private loopback port.
 *
 * The real server learns the client's address through `remoteAddressOf`, keyed by the loopback
 * port of the copy; a connection that did not come through the front has no entry and is refused,
 * so nothing on the box can spoof an address by connecting to the private port directly.
 *
 * @module
 */

import { isLoopback } from "./loopback.ts";

export interface ConnectionLimits {
  /** A new connection must send its first request head (and finish TLS) within this time. */
  headerTimeoutMs: number;
  /**
   * A connection on which no byte moved either way for this long is closed. Longer than the
   * 12 s keep-alive ping of GraphQL SSE streams, so quiet streams stay open.
   */
  idleTimeoutMs: number;
  /** Largest first request head accepted before the front answers 431. */
  maxHeadBytes: number;
  maxConnections: number;
  /**
   * Per non-loopback address (behind a reverse proxy every client is loopback, so the proxy
   * must cap per client).
   */
  maxConnectionsPerAddress: number;
}

/**
 * Half-sent requests are dropped after 10 s; 2 048 connections in all (each costs a few KB while
 * it waits for its head) and 256 per address, well above one household's browsers.
 */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  maxHeadBytes: 32 * 1024,
  maxConnections: 2048,
  maxConnectionsPerAddress: 256,
};

export interface TcpFrontOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** PEM chain and key: the front terminates TLS, the private hop stays on loopback. */
  tls?: { cert: string; key: string };
  /** The real HTTP server, listening on loopback. */
  upstreamPort: number;
  limits: ConnectionLimits;
}

export interface TcpFront {
  addr: Deno.NetAddr;
  /** The client address behind a connection the real server sees from `127.0.0.1:port`. */
  remoteAddressOf(upstreamPeerPort: number): string | undefined;
  /** Connections open now (for metrics and tests). */
  openConnections(): number;
  close(): Promise<void>;
}

const HEAD_END = new Uint8Array([13, 10, 13, 10]);
/**
 * Relay buffers, one per direction and connection, start at 4 KB (a GraphQL answer, an SSE
 * event, a request) and grow to 16 KB for responses that fill them (a 1 MB Green Button
 * download): 1 000 keep-alive clients then hold 8 MB of buffers instead of 20 MB.
 */
const FIRST_CHUNK_BYTES = 4 * 1024;
const RESPONSE_CHUNK_BYTES = 16 * 1024;
const REQUEST_CHUNK_BYTES = 4 * 1024;
/** Small: a connection waiting for its head holds this buffer, and there may be thousands. */
const HEAD_CHUNK_BYTES = 2 * 1024;

/** Starts accepting; `close()` stops accepting and ends every open connection. */
export function startTcpFront(options: TcpFrontOptions): TcpFront {
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
  const open = new Set<Deno.Conn>();
  const perAddress = new Map<string, number>();
  const remotes = new Map<number, string>();
  const tasks = new Set<Promise<void>>();

  async function acceptLoop(): Promise<void> {
    for await (const conn of listener) {
      const address = (conn.remoteAddr as Deno.NetAddr).hostname;
      const count = isLoopback(address) ? 0 : perAddress.get(address) ?? 0;
      if (open.size >= limits.maxConnections || count >= limits.maxConnectionsPerAddress) {
        refuse(conn);
        continue;
      }
      open.add(conn);
      if (!isLoopback(address)) perAddress.set(address, count + 1);
      const task = relay(conn, address).finally(() => {
        open.delete(conn);
        if (isLoopback(address)) return;
        const left = (perAddress.get(address) ?? 1) - 1;
        if (left === 0) perAddress.delete(address);
        else perAddress.set(address, left);
        tasks.delete(task);
      });
      tasks.add(task);
    }
  }

  async function relay(client: Deno.Conn, address: string): Promise<void> {
    let upstream: Deno.TcpConn | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closeBoth = () => {
      clearTimeout(timer);
      safeClose(client);
      if (upstream !== null) safeClose(upstream);
    };
    const arm = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(closeBoth, ms);
    };
    try {
      arm(limits.headerTimeoutMs);
      const head = await readHead(client, limits.maxHeadBytes);
      if (head === null) return;
      if (head === "too_large") {
        await writeStatus(client, "431 Request Header Fields Too Large");
        return;
      }
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: options.upstreamPort });
      // Both hops write what they have at once: with Nagle on, a response the relay writes in
      // two segments waits for the client's delayed ACK (~40 ms per request).
      upstream.setNoDelay(true);
      if ("setNoDelay" in client) (client as Deno.TcpConn).setNoDelay(true);
      const upstreamPort = (upstream.localAddr as Deno.NetAddr).port;
      remotes.set(upstreamPort, address);
      try {
        arm(limits.idleTimeoutMs);
        await upstream.write(head);
        const nextHead = headDeadline(limits.headerTimeoutMs, closeBoth);
        const toClient = pump(upstream, client, RESPONSE_CHUNK_BYTES, () => {
          arm(limits.idleTimeoutMs);
          nextHead.serverSpoke();
        });
        // A client that half-closes after its request still gets the answer.
        const toUpstream = pump(client, upstream, REQUEST_CHUNK_BYTES, (bytes) => {
          arm(limits.idleTimeoutMs);
          nextHead.clientSent(bytes);
        }).then(() => upstream!.closeWrite());
        toClient.finally(nextHead.stop).catch(() => {});
        await Promise.race([toClient, toUpstream.then(() => toClient)]);
      } finally {
        remotes.delete(upstreamPort);
      }
    } catch {
      // A reset or a timed-out connection: nothing to report, the client is gone.
    } finally {
      closeBoth();
    }
  }

  const accepting = acceptLoop().catch(() => {});
  return {
    addr: listener.addr as Deno.NetAddr,
    remoteAddressOf: (port) => remotes.get(port),
    openConnections: () => open.size,
    close: async () => {
      safeClose(listener);
      for (const conn of open) safeClose(conn);
      await accepting;
      await Promise.all([...tasks]);
    },
  };
}

/**
 * The head deadline of the later requests on a keep-alive connection. The front does not parse
 * HTTP, so it goes by turns: client bytes arriving after the server has answered start a new
 * request, whose head (up to its blank line) must arrive within `timeoutMs`, as the first one's
 * must. Anything the server sends ends the wait (it answered, so the request was whole): a slow
 * handler or a long body never trips it, a half-sent head on a reused connection does.
 */
function headDeadline(timeoutMs: number, onTimeout: () => void) {
  let serverSpoke = false;
  let waiting = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** The last 3 bytes seen while waiting: a blank line may straddle two reads. */
  let tail = new Uint8Array(0);
  const stop = () => {
    clearTimeout(timer);
    waiting = false;
  };
  return {
    serverSpoke() {
      serverSpoke = true;
      stop();
    },
    clientSent(bytes: Uint8Array) {
      if (serverSpoke) {
        serverSpoke = false;
        waiting = true;
        tail = new Uint8Array(0);
        timer = setTimeout(onTimeout, timeoutMs);
      }
      if (!waiting) return;
      const seen = new Uint8Array(tail.length + bytes.length);
      seen.set(tail);
      seen.set(bytes, tail.length);
      if (indexOf(seen, HEAD_END, 0) !== -1) stop();
      else tail = seen.slice(-3);
    },
    stop,
  };
}

/** Reads until the end of the first request head; null when the client went away first. */
async function readHead(
  conn: Deno.Conn,
  maxBytes: number,
): Promise<Uint8Array | "too_large" | null> {
  let buffer = new Uint8Array(0);
  const chunk = new Uint8Array(HEAD_CHUNK_BYTES);
  while (true) {
    const n = await conn.read(chunk);
    if (n === null) return null;
    const next = new Uint8Array(buffer.length + n);
    next.set(buffer);
    next.set(chunk.subarray(0, n), buffer.length);
    buffer = next;
    if (indexOf(buffer, HEAD_END, Math.max(0, buffer.length - n - 3)) !== -1) return buffer;
    if (buffer.length > maxBytes) return "too_large";
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * Copies `from` to `to` until `from` ends, calling `onBytes` with each chunk (valid only during the
 * call); the buffer grows to `maxChunkBytes` once a read fills it.
 */
async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  maxChunkBytes: number,
  onBytes: (bytes: Uint8Array) => void,
): Promise<void> {
  let chunk = new Uint8Array(Math.min(FIRST_CHUNK_BYTES, maxChunkBytes));
  while (true) {
    const n = await from.read(chunk);
    if (n === null) return;
    onBytes(chunk.subarray(0, n));
    let written = 0;
    while (written < n) written += await to.write(chunk.subarray(written, n));
    if (n === chunk.length && chunk.length < maxChunkBytes) {
      chunk = new Uint8Array(Math.min(chunk.length * 4, maxChunkBytes));
    }
  }
}

/** A one-line refusal for connections over a cap, then close. */
function refuse(conn: Deno.Conn): void {
  writeStatus(conn, "503 Service Unavailable", "Retry-After: 1\r\n").finally(() => safeClose(conn));
}

async function writeStatus(conn: Deno.Conn, status: string, extra = ""): Promise<void> {
  const text = `HTTP/1.1 ${status}\r\n${extra}Content-Length: 0\r\nConnection: close\r\n\r\n`;
  try {
    await conn.write(new TextEncoder().encode(text));
  } catch {
    // The client is gone.
  }
}

function safeClose(closable: { close(): void }): void {
  try {
    closable.close();
  } catch {
    // Already closed.
  }
}
