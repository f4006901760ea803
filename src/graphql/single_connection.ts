/**
 * graphql-sse's single-connection mode on `/graphql` (see graphql-sse's PROTOCOL.md): a `PUT`
 * reserves an event stream and answers its token; a `GET` with the token (`X-GraphQL-Event-Stream-
 * Token` header or `token` parameter, as `EventSource` cannot send headers) opens it; each `POST`
 * with the token and `extensions.operationId` runs one operation whose results arrive on that
 * stream as `{ id, payload }`; `DELETE ?operationId=` stops one. Browsers allow six HTTP/1.1
 * connections per host, so a page that needs several subscriptions needs this mode.
 *
 * Every operation is run by the regular `/graphql` handler with the POST's own credentials, so
 * admission, limits, function-block checks, shared executions and credential re-checks are the
 * ones of the distinct-connections mode. A stream belongs to the caller who reserved it (one
 * person: the administrator or one household; or one app authorization): anyone else's token is
 * answered as unknown. The stream itself
 * re-checks its credential and ends when it is revoked or expires.
 *
 * Bounded: streams per caller and in all, operations per stream, events queued before the stream
 * connects, and the time a reservation waits for its connection.
 *
 * @module
 */

import type { RouteContext, RouteHandler } from "../http/routes.ts";
import { type Access, accessEndReason, admitRequest, readerKey, refusal } from "./access.ts";

export const TOKEN_HEADER = "x-graphql-event-stream-token";
const TOKEN_PARAM = "token";

export interface SingleConnectionOptions {
  /** Runs one GraphQL-over-HTTP request: the regular `/graphql` handler. */
  execute: RouteHandler;
  /** Reserved or open streams of one caller (default 16: a browser's tabs, and some to spare). */
  maxStreamsPerCaller?: number;
  /** Reserved or open streams in all (default 256). */
  maxStreams?: number;
  /** Operations running on one stream (default 32). */
  maxOperationsPerStream?: number;
  /** Events kept for a stream that is reserved but not connected (default 256). */
  maxPendingEvents?: number;
  /** How long a reservation waits for its connection (default 30 s). */
  reservationTimeoutMs?: number;
  /** How often an open stream re-checks its credential and sends a keep-alive (default 5 s). */
  recheckMs?: number;
}

/** Counts for tests and `/metrics`. */
export interface SingleConnectionStats {
  readonly streams: number;
  readonly operations: number;
}

export interface SingleConnection {
  /** True for a GET or POST that belongs to this mode (it carries a stream token). */
  handles(request: Request): boolean;
  /** `PUT`: reserve. */
  reserve: RouteHandler;
  /** `GET` (open the stream) and `POST` (run an operation) with a token. */
  serve: RouteHandler;
  /** `DELETE`: stop an operation. */
  stop: RouteHandler;
  stats: SingleConnectionStats;
}

interface Stream {
  token: string;
  owner: string;
  access: Access;
  controller: ReadableStreamDefaultController<Uint8Array> | null;
  /** Events for a stream not yet connected. */
  pending: string[];
  operations: Map<string, ReadableStreamDefaultReader<Uint8Array>>;
  timer: ReturnType<typeof setTimeout> | ReturnType<typeof setInterval>;
}

const encoder = new TextEncoder();

export function singleConnection(options: SingleConnectionOptions): SingleConnection {
  const maxPerCaller = options.maxStreamsPerCaller ?? 16;
  const maxStreams = options.maxStreams ?? 256;
  const maxOperations = options.maxOperationsPerStream ?? 32;
  const maxPending = options.maxPendingEvents ?? 256;
  const reservationTimeoutMs = options.reservationTimeoutMs ?? 30_000;
  const recheckMs = Math.max(10, options.recheckMs ?? 5000);
  const streams = new Map<string, Stream>();

  /** The caller's stream for the request's token, or the refusal. */
  const findStream = (request: Request, context: RouteContext): Stream | Response => {
    const access = admitRequest(request, context.services);
    if (access instanceof Response) return access;
    const token = tokenOf(request);
    const stream = token === null ? undefined : streams.get(token);
    if (stream === undefined || stream.owner !== readerKey(access)) {
      return refusal(404, "NOT_FOUND", "no such event stream; reserve one with PUT");
    }
    return stream;
  };

  const end = (stream: Stream) => {
    if (streams.get(stream.token) !== stream) return;
    streams.delete(stream.token);
    clearTimeout(stream.timer);
    clearInterval(stream.timer);
    for (const reader of stream.operations.values()) void reader.cancel().catch(() => {});
    stream.operations.clear();
    try {
      stream.controller?.close();
    } catch {
      // Already closed by the client.
    }
  };

  const send = (stream: Stream, event: string) => {
    if (stream.controller === null) {
      if (stream.pending.length >= maxPending) stream.pending.shift();
      stream.pending.push(event);
      return;
    }
    try {
      stream.controller.enqueue(encoder.encode(event));
    } catch {
      end(stream);
    }
  };

  const open = (stream: Stream, context: RouteContext): Response => {
    if (stream.controller !== null) {
      return refusal(409, "BAD_USER_INPUT", "this event stream is already open");
    }
    clearTimeout(stream.timer);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        stream.controller = controller;
        // Headers go out at once, and the client knows the stream is live.
        controller.enqueue(encoder.encode(":\n\n"));
        for (const event of stream.pending.splice(0)) controller.enqueue(encoder.encode(event));
      },
      cancel: () => end(stream),
    });
    stream.timer = setInterval(() => {
      if (accessEndReason(context.services, stream.access) !== null) return end(stream);
      send(stream, ":\n\n");
    }, recheckMs);
    Deno.unrefTimer(stream.timer);
    return new Response(body, {
      headers: {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-store",
        Connection: "keep-alive",
      },
    });
  };

  const run = async (stream: Stream, request: Request, context: RouteContext) => {
    let params: { extensions?: { operationId?: unknown } };
    try {
      params = await request.clone().json();
    } catch {
      return refusal(400, "BAD_USER_INPUT", "the body must be a JSON GraphQL request");
    }
    const id = params?.extensions?.operationId;
    if (typeof id !== "string" || id === "" || id.length > 128) {
      return refusal(400, "BAD_USER_INPUT", "extensions.operationId must be a short string");
    }
    if (stream.operations.has(id)) {
      return refusal(409, "BAD_USER_INPUT", "an operation with this id is already running");
    }
    if (stream.operations.size >= maxOperations) {
      return refusal(
        429,
        "TOO_MANY_STREAMS",
        `at most ${maxOperations} operations run on one event stream`,
      );
    }
    const headers = new Headers(request.headers);
    headers.delete(TOKEN_HEADER);
    headers.delete("accept-encoding");
    // Results that stream come as events; a single result as JSON, with its own status.
    headers.set("Accept", "application/graphql-response+json, text/event-stream");
    const url = new URL(request.url);
    url.searchParams.delete(TOKEN_PARAM);
    const inner = new Request(url, { method: "POST", headers, body: await request.text() });
    const response = await options.execute(inner, context);
    if (streams.get(stream.token) !== stream) {
      await response.body?.cancel();
      return refusal(404, "NOT_FOUND", "no such event stream; reserve one with PUT");
    }
    const isEvents = response.headers.get("content-type")?.startsWith("text/event-stream");
    if (!isEvents) {
      if (!response.ok) return response;
      send(stream, nextEvent(id, await response.text()));
      send(stream, completeEvent(id));
      return new Response(null, { status: 202 });
    }
    const reader = response.body!.getReader();
    stream.operations.set(id, reader);
    void relay(reader, (data) => send(stream, nextEvent(id, data))).finally(() => {
      if (stream.operations.get(id) !== reader) return;
      stream.operations.delete(id);
      send(stream, completeEvent(id));
    });
    return new Response(null, { status: 202 });
  };

  return {
    handles: (request) => tokenOf(request) !== null,
    reserve(request, context) {
      const access = admitRequest(request, context.services);
      if (access instanceof Response) return access;
      const owner = readerKey(access);
      let mine = 0;
      for (const stream of streams.values()) if (stream.owner === owner) mine++;
      if (mine >= maxPerCaller) {
        return refusal(
          429,
          "TOO_MANY_STREAMS",
          `at most ${maxPerCaller} event streams per caller; close one first`,
        );
      }
      if (streams.size >= maxStreams) {
        return refusal(503, "TOO_MANY_STREAMS", "the gateway serves no more event streams now", {
          "Retry-After": "30",
        });
      }
      const token = newToken();
      const stream: Stream = {
        token,
        owner,
        access,
        controller: null,
        pending: [],
        operations: new Map(),
        timer: setTimeout(() => end(stream), reservationTimeoutMs),
      };
      Deno.unrefTimer(stream.timer);
      streams.set(token, stream);
      return new Response(token, {
        status: 201,
        headers: { "Content-Type": "text/plain; charset=utf-8" },
      });
    },
    serve(request, context) {
      const stream = findStream(request, context);
      if (stream instanceof Response) return stream;
      return request.method === "GET" ? open(stream, context) : run(stream, request, context);
    },
    async stop(request, context) {
      const stream = findStream(request, context);
      if (stream instanceof Response) return stream;
      const id = context.url.searchParams.get("operationId");
      if (id === null) return refusal(400, "BAD_USER_INPUT", "operationId is missing");
      const reader = stream.operations.get(id);
      stream.operations.delete(id);
      await reader?.cancel().catch(() => {});
      return new Response(null, { status: 200 });
    },
    stats: {
      get streams() {
        return streams.size;
      },
      get operations() {
        let operations = 0;
        for (const stream of streams.values()) operations += stream.operations.size;
        return operations;
      },
    },
  };
}

/** Forwards the `data` of every `next` event of a GraphQL-over-SSE body until it ends. */
async function relay(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  onNext: (data: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = "";
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      buffered += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffered.indexOf("\n\n")) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const lines = block.split("\n");
        if (!lines.includes("event: next")) continue;
        const data = lines.filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).trimStart()).join("\n");
        if (data !== "") onNext(data);
      }
    }
  } catch {
    // Cancelled (stopped, or the stream ended): nothing more to forward.
  }
}

function nextEvent(id: string, payload: string): string {
  return `event: next\ndata: {"id":${JSON.stringify(id)},"payload":${payload}}\n\n`;
}

function completeEvent(id: string): string {
  return `event: complete\ndata: {"id":${JSON.stringify(id)}}\n\n`;
}

function tokenOf(request: Request): string | null {
  const token = request.headers.get(TOKEN_HEADER) ??
    new URL(request.url).searchParams.get(TOKEN_PARAM);
  return token === null || token === "" ? null : token;
}

function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}
