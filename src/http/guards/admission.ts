/**
 * Admission control, the fourth guard: a bounded number of requests doing work at once (their
 * body reading included), a bounded number of open streams (SSE, multipart), in total and per
 * client address, and no new work while the event loop lags (`event_loop_lag.ts`: requests then
 * queue as completed socket reads, where no count can see them). Over a bound the answer is `503` with
 * `Retry-After` — no work queues, so memory and latency stay flat under overload and cheap routes
 * (`admission: "bypass"`, e.g. `/health`) stay fast. Refusals of work are sent after about a
 * second, so a flood that ignores `Retry-After` cannot keep the loop busy with refusals.
 *
 * Loopback clients are not counted per address: behind a reverse proxy every client is
 * `127.0.0.1`, and a per-address cap would then refuse everyone; the proxy must cap per client.
 *
 * @module
 */

import { jsonError } from "../errors.ts";
import { watchEventLoopLag } from "./event_loop_lag.ts";
import { isLoopback } from "./loopback.ts";

export interface AdmissionLimits {
  /**
   * Requests whose handler is running, over all routes that do not bypass admission (requests
   * asking for a stream count against the stream caps instead).
   */
  maxInFlight: number;
  /** Streaming responses open at once. */
  maxStreams: number;
  /** Streaming responses open at once from one non-loopback address. */
  maxStreamsPerAddress: number;
  /** What `Retry-After` says, in seconds. */
  retryAfterS: number;
  /**
   * Event-loop lag above which requests are refused before their bodies are read
   * (`event_loop_lag.ts`); `Infinity` turns the check off.
   */
  maxEventLoopLagMs: number;
  /**
   * Lag refuses work only while at least this many requests a second arrive: lag from a request
   * flood is what shedding cures, while lag from the gateway's own work (a 48 h backfill, a big
   * export) must not turn the homeowner's few dashboard requests away.
   */
  lagSheddingMinRequestsPerS: number;
  /**
   * About how long a refusal for lag or for the in-flight cap waits before it is sent. Clients
   * that ignore `Retry-After` (a flood) send their next request on that connection only after
   * it, so the refusals themselves cannot keep the loop busy; what waits is a timer and a small
   * response per connection, never the request's work or body.
   */
  refusalDelayMs: number;
}

/**
 * 16 handlers at once: handlers run on one JavaScript thread and mostly on the CPU (SQLite calls
 * are synchronous), so more in flight adds no throughput, only queued work ahead of `/health`
 * (a GraphQL query is ~1 ms of CPU: 16 in flight keep it near 16 ms). 500 streams is ~100
 * dashboard tabs, and 32 per address lets one household's browsers open plenty while one hostile
 * host cannot take them all. A loop late by 20 ms twice in a row (a queue of requests, not one
 * long export) refuses work, but only from 200 requests a second: a dashboard's page load sends
 * ~40 in a second (assets and graphql-sse's PUT/POST/DELETE per operation), a few phones opening
 * it together ~60 (measured in the browser test, whose queries were refused on a slow CI machine
 * when this was 50), while a flood is thousands. With a refusal held ~1 s, 1 000 flooding
 * connections send at most ~1 000 requests a second instead of as many as the loop can refuse.
 */
export const DEFAULT_ADMISSION_LIMITS: AdmissionLimits = {
  maxInFlight: 16,
  maxStreams: 500,
  maxStreamsPerAddress: 32,
  retryAfterS: 1,
  maxEventLoopLagMs: 20,
  lagSheddingMinRequestsPerS: 200,
  refusalDelayMs: 1000,
};

/**
 * The lag timer fires every 10 ms (cheap: 100 callbacks a second) and one late sample keeps
 * refusing for 200 ms, long enough for the queue behind it to drain.
 */
const LAG_SAMPLE_EVERY_MS = 10;
const LAG_HOLD_MS = 200;
const LAG_LATE_SAMPLES = 2;

export interface AdmissionCounts {
  inFlight: number;
  streams: number;
}

export interface Admission {
  /** Runs `handler` if there is room, else answers 503; counts its response if it streams. */
  run(
    remoteAddr: string,
    request: Request,
    handler: () => Promise<Response>,
  ): Promise<Response>;
  counts(): AdmissionCounts;
  stop(): void;
}

const STREAM_TYPES = ["text/event-stream", "multipart/mixed"];

/** A fresh admission controller. */
export function createAdmission(limits: AdmissionLimits): Admission {
  let inFlight = 0;
  let streams = 0;
  const streamsByAddress = new Map<string, number>();
  const arrivals = arrivalRate();
  const lag = Number.isFinite(limits.maxEventLoopLagMs)
    ? watchEventLoopLag({
      maxLagMs: limits.maxEventLoopLagMs,
      sampleEveryMs: LAG_SAMPLE_EVERY_MS,
      lateSamples: LAG_LATE_SAMPLES,
      holdMs: LAG_HOLD_MS,
    })
    : null;

  const openings = turns(STREAM_OPENINGS_AT_ONCE);
  const overloaded = (what: string) =>
    jsonError(503, "overloaded", `too many ${what}; retry shortly`, {
      "Retry-After": String(limits.retryAfterS),
    });

  /**
   * Sends a refusal after `refusalDelayMs` ± 50 % (the jitter keeps refused clients from coming
   * back all at once).
   */
  const paced = (refusal: Response) =>
    new Promise<Response>((resolve) =>
      setTimeout(() => resolve(refusal), limits.refusalDelayMs * (0.5 + Math.random()))
    );

  /** Takes a stream slot for `address`; returns its release (idempotent) or null when full. */
  function reserveStream(address: string): (() => void) | null {
    const perAddress = isLoopback(address) ? 0 : streamsByAddress.get(address) ?? 0;
    if (streams >= limits.maxStreams || perAddress >= limits.maxStreamsPerAddress) return null;
    streams++;
    if (!isLoopback(address)) streamsByAddress.set(address, perAddress + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      streams--;
      if (isLoopback(address)) return;
      const left = (streamsByAddress.get(address) ?? 1) - 1;
      if (left === 0) streamsByAddress.delete(address);
      else streamsByAddress.set(address, left);
    };
  }

  return {
    counts: () => ({ inFlight, streams }),
    stop: () => lag?.stop(),
    async run(remoteAddr, request, handler) {
      // A request asking for a stream is bounded by the stream caps, reserved before the work so
      // a refusal costs nothing (and 100 dashboards reconnecting at once are not refused by the
      // in-flight cap); a response that streams without being asked for is counted when it
      // appears.
      // Streams are exempt from the lag check: they are few and capped, and 100 dashboards
      // reconnecting at once after a restart make the loop lag while they open.
      let release: (() => void) | null = null;
      if (acceptsStream(request)) {
        release = reserveStream(remoteAddr);
        if (release === null) return overloaded("open streams");
      } else if (
        arrivals.note() >= limits.lagSheddingMinRequestsPerS && lag?.overloaded()
      ) {
        return await paced(overloaded("requests waiting (server busy)"));
      } else if (inFlight >= limits.maxInFlight) {
        return await paced(overloaded("requests in progress"));
      }
      const counted = release === null;
      if (counted) inFlight++;
      else await openings.enter();
      let response: Response;
      try {
        response = await handler();
      } catch (error) {
        release?.();
        throw error;
      } finally {
        if (counted) inFlight--;
        else openings.leave();
      }
      if (!isStream(response) || response.body === null) {
        release?.();
        return response;
      }
      release ??= reserveStream(remoteAddr);
      if (release === null) {
        await response.body.cancel();
        return overloaded("open streams");
      }
      return releasedWhenDone(response, release);
    },
  };
}

/**
 * Streams being opened at once (until their handler answered; the stream itself is not held). 500
 * dashboards opening their streams together took ~570 ms of loop time back to back and `/health`
 * waited behind all of them (p99 62–400 ms); opened a few at a time, each turn a new event-loop
 * task, other requests run between the turns. Bounded: only requests holding a stream slot wait.
 */
const STREAM_OPENINGS_AT_ONCE = 4;

/** At most `atOnce` inside; the next one enters on a later event-loop task, not a microtask. */
function turns(atOnce: number): { enter(): Promise<void>; leave(): void } {
  let inside = 0;
  const waiting: (() => void)[] = [];
  return {
    async enter() {
      if (inside < atOnce) {
        inside++;
        return;
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    },
    leave() {
      const next = waiting.shift();
      // The place passes to the next one as it is, so `inside` does not change.
      if (next !== undefined) setTimeout(next, 0);
      else inside--;
    },
  };
}

/**
 * Requests arriving per second, over the last whole second or the current one (whichever is
 * higher): `note()` counts one more and answers the rate, in O(1) with two counters.
 */
function arrivalRate(): { note(): number } {
  let windowStartMs = performance.now();
  let current = 0;
  let previous = 0;
  return {
    note() {
      const nowMs = performance.now();
      if (nowMs - windowStartMs >= 1000) {
        previous = nowMs - windowStartMs < 2000 ? current : 0;
        current = 0;
        windowStartMs = nowMs;
      }
      current++;
      return Math.max(previous, current);
    },
  };
}

function acceptsStream(request: Request): boolean {
  const accept = (request.headers.get("accept") ?? "").toLowerCase();
  return STREAM_TYPES.some((type) => accept.includes(type));
}

function isStream(response: Response): boolean {
  const type = (response.headers.get("content-type") ?? "").toLowerCase();
  return STREAM_TYPES.some((stream) => type.startsWith(stream));
}

/** The same response whose body calls `release` once it ends, fails or is cancelled. */
function releasedWhenDone(response: Response, release: () => void): Response {
  const reader = response.body!.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          release();
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (error) {
        release();
        controller.error(error);
      }
    },
    cancel(reason) {
      release();
      return reader.cancel(reason);
    },
  });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
