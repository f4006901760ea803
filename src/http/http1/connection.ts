/**
 * One HTTP/1.1 connection, served to its end: read a head, frame its body, run the handler,
 * write the answer, and go again while both sides keep the connection alive. Requests on a
 * connection are answered in order, one at a time (pipelined requests wait in the buffer).
 *
 * The connection's deadline (`deadlineMs`) is kept here and enforced by the server's sweeper: a
 * head must arrive whole within `headerTimeoutMs` of its first byte (of the connection's start for
 * the first one), and a connection on which no byte moves either way for `idleTimeoutMs` is
 * closed, between requests and during one alike.
 *
 * @module
 */

import { markBodyInMemory } from "../body_in_memory.ts";
import { ByteReader } from "./byte_reader.ts";
import type { ConnectionLimits } from "./limits.ts";
import { chunkedBody, lengthBody, noBody, type RequestBody } from "./request_body.ts";
import { type HeadError, isHeadError, parseRequestHead } from "./request_head.ts";
import { type HeadPolicy, isStreamed, writeContinue, writeResponse } from "./response_writer.ts";

/** What a handler learns about the connection besides the request. */
export interface ConnectionInfo {
  /** The client's IP address. */
  remoteAddr: string;
}

export type Http1Handler = (request: Request, info: ConnectionInfo) => Promise<Response>;

export interface ConnectionOptions {
  limits: ConnectionLimits;
  tls: boolean;
  /** The authority for requests without one (an HTTP/1.0 request without `Host`). */
  defaultHost: string;
  handler: Http1Handler;
  policy: HeadPolicy;
  /** The `Date` value now. */
  date: () => string;
}

/** The part of a connection the server's sweeper sees. */
export interface ConnectionState {
  /** `performance.now()` after which the connection is closed. */
  deadlineMs: number;
}

const utf8 = new TextDecoder();

/** Serves `conn` until it ends; never throws. */
export async function serveConnection(
  conn: Deno.Conn,
  remoteAddr: string,
  state: ConnectionState,
  options: ConnectionOptions,
): Promise<void> {
  const limits = options.limits;
  let busy = false;
  let waitingForFirstByte = false;
  const reader = new ByteReader(conn, limits.maxHeadBytes, () => {
    const nowMs = performance.now();
    if (busy) state.deadlineMs = nowMs + limits.idleTimeoutMs;
    else if (waitingForFirstByte) {
      waitingForFirstByte = false;
      state.deadlineMs = nowMs + limits.headerTimeoutMs;
    }
  });
  const touch = () => {
    state.deadlineMs = performance.now() + limits.idleTimeoutMs;
  };
  state.deadlineMs = performance.now() + limits.headerTimeoutMs;
  try {
    while (true) {
      const headEnd = await readHead(reader, limits.maxHeadBytes);
      if (headEnd === null) return;
      if (headEnd === "too_large") {
        await writeError(conn, { status: 431, message: "request head too large" }, options);
        return;
      }
      busy = true;
      touch();
      const parsed = parseRequestHead(decodeHead(reader.view().subarray(0, headEnd)), {
        maxHeaderCount: limits.maxHeaderCount,
      });
      reader.consume(headEnd);
      if (isHeadError(parsed)) {
        await writeError(conn, parsed, options);
        return;
      }
      let continued = false;
      const bodyOptions = {
        beforeFirstRead: async () => {
          if (!parsed.expectContinue || continued) return;
          continued = true;
          await writeContinue(conn, touch);
        },
      };
      // A GET or HEAD with a body: the body means nothing (RFC 9110 §9.3.1); it is not read,
      // and the connection closes after the answer.
      const bodyAllowed = parsed.method !== "GET" && parsed.method !== "HEAD";
      const body: RequestBody = !bodyAllowed || parsed.body.kind === "none"
        ? noBody()
        : parsed.body.kind === "length"
        ? lengthBody(reader, parsed.body.bytes, bodyOptions)
        : chunkedBody(reader, bodyOptions);
      const bodyUnread = !bodyAllowed && parsed.body.kind !== "none";
      let request: Request;
      try {
        const scheme = options.tls ? "https" : "http";
        request = new Request(`${scheme}://${parsed.host || options.defaultHost}${parsed.target}`, {
          method: parsed.method,
          headers: parsed.headers,
          body: body.body,
        });
      } catch {
        // What `Request` refuses: CONNECT, TRACE, TRACK, or a target no URL parser accepts.
        await writeError(
          conn,
          { status: 501, message: "this method or request target is not served" },
          options,
        );
        return;
      }
      if (body.body instanceof Uint8Array) markBodyInMemory(request, body.body.length);
      let response: Response;
      try {
        response = await options.handler(request, { remoteAddr });
      } catch {
        response = Response.json({ error: "server_error", error_description: "internal error" }, {
          status: 500,
        });
      }
      const streamed = isStreamed(response);
      // A body the handler did not read whole is not skipped: the connection closes instead.
      const keepAlive = parsed.keepAlive && !streamed && !bodyUnread && body.finished();
      const sent = await writeResponse(conn, response, {
        policy: options.policy,
        head: parsed.method === "HEAD",
        minorVersion: parsed.minorVersion,
        keepAlive,
        date: options.date(),
        clientGone: streamed ? untilClosed(reader) : NEVER,
        onBytes: touch,
      });
      if (!sent || !keepAlive) return;
      busy = false;
      waitingForFirstByte = reader.available === 0;
      state.deadlineMs = performance.now() +
        (waitingForFirstByte ? limits.idleTimeoutMs : limits.headerTimeoutMs);
    }
  } catch {
    // A reset, a closed socket (the sweeper's deadline) or a failed TLS handshake: the client
    // is gone, and nothing is left to tell it.
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

const NEVER = new Promise<void>(() => {});

/**
 * The offset just past the next request head's blank line (leading empty lines skipped, as
 * RFC 9112 §2.2 asks), null when the client ends the connection first, "too_large" beyond the cap.
 */
async function readHead(
  reader: ByteReader,
  maxHeadBytes: number,
): Promise<number | "too_large" | null> {
  let scanned = 0;
  while (true) {
    const view = reader.view();
    let skip = 0;
    while (skip < view.length && (view[skip] === 13 || view[skip] === 10)) skip++;
    if (skip > 0) {
      reader.consume(skip);
      scanned = 0;
    }
    if (reader.available > 0) {
      const end = reader.findBlankLine(Math.max(0, scanned - 3));
      if (end !== -1) return end;
    }
    if (reader.available >= maxHeadBytes) return "too_large";
    scanned = reader.available;
    if (!await reader.fill()) return null;
  }
}

/** The head as one character per byte (obs-text kept as Latin-1, as `Headers` expects). */
function decodeHead(bytes: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] > 0x7f) {
      ascii = false;
      break;
    }
  }
  let text = "";
  if (ascii) text = utf8.decode(bytes);
  else for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
  // By index: a regex like /[\r\n]+$/ is quadratic on a long run of bare CRs inside the head.
  let end = text.length;
  while (end > 0 && (text.charCodeAt(end - 1) === 13 || text.charCodeAt(end - 1) === 10)) end--;
  return text.slice(0, end);
}

/** Resolves when the client ends or resets the connection while a stream is being sent. */
async function untilClosed(reader: ByteReader): Promise<void> {
  try {
    while (await reader.fill());
  } catch {
    // Reset, closed, or it sent more than a head's worth while listening to a stream.
  }
}

const ERROR_CODES: Record<HeadError["status"], string> = {
  400: "invalid_request",
  417: "expectation_failed",
  431: "headers_too_large",
  501: "not_implemented",
  505: "http_version_not_supported",
};

/** A refusal of a request head, as JSON, and the connection closes. */
async function writeError(
  conn: Deno.Conn,
  error: HeadError,
  options: ConnectionOptions,
): Promise<void> {
  const response = Response.json(
    { error: ERROR_CODES[error.status], error_description: error.message },
    { status: error.status },
  );
  try {
    await writeResponse(conn, response, {
      policy: options.policy,
      head: false,
      minorVersion: 1,
      keepAlive: false,
      date: options.date(),
      clientGone: NEVER,
      onBytes: () => {},
    });
  } catch {
    // The client is gone.
  }
}
