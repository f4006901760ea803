/**
 * The bounds of the HTTP/1.1 server's connections: how many, how long a head may take, how long a
 * connection may sit silent, how large a head may be.
 *
 * @module
 */

export interface ConnectionLimits {
  /** A new connection must send its first request head (and finish TLS) within this time. */
  headerTimeoutMs: number;
  /**
   * A connection on which no byte moved either way for this long is closed. Longer than the
   * 12 s keep-alive ping of GraphQL SSE streams, so quiet streams stay open.
   */
  idleTimeoutMs: number;
  /** Largest request head accepted before the server answers 431. */
  maxHeadBytes: number;
  /** Field lines in one request head beyond this answer 431. */
  maxHeaderCount: number;
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
  maxHeaderCount: 100,
  maxConnections: 2048,
  maxConnectionsPerAddress: 256,
};
