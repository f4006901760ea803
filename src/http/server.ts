/**
 * The gateway's one HTTP server and its one guard chain, assembled here in this order:
 *
 * 0. connections (`http1/server.ts`, the gateway's own HTTP/1.1 server): caps, header and idle
 *    deadlines per TCP connection, strict request-head parsing
 * 1. Host allow-list (`guards/host.ts`): 421 for a host name that is not this gateway's
 * 2. size limits (`guards/size_limits.ts`): URL, headers, body
 * 3. routing (`router.ts`): 404 / 405; then, for the gateway's own forms, the CSRF check
 *    (`guards/own_origin.ts`): 403 for a request from another origin
 * 4. admission (`guards/admission.ts`): in-flight work, open streams and event-loop lag,
 *    503 + Retry-After, before the body is read
 * 5. rate limit (`guards/rate_limit.ts`), for routes that declare one: an attempt reserved from
 *    the failure budget (`rateLimiter`), else the route's own 429
 * 6. the route's handler; a thrown `HttpError` becomes its JSON error, anything else a bare 500
 * 7. security headers and header validation (`guards/security_headers.ts`) on every response,
 *    refusals from 1–5 included
 *
 * Feature modules contribute `Route[]` and repeat none of these checks.
 *
 * @module
 */

import { HttpError, httpErrorResponse, jsonError } from "./errors.ts";
import {
  type AdmissionLimits,
  createAdmission,
  DEFAULT_ADMISSION_LIMITS,
} from "./guards/admission.ts";
import type { ConnectionInfo } from "./http1/connection.ts";
import { type ConnectionLimits, DEFAULT_CONNECTION_LIMITS } from "./http1/limits.ts";
import { startHttp1Server } from "./http1/server.ts";
import { checkHost, gatewayNames } from "./guards/host.ts";
import { checkOwnOrigin } from "./guards/own_origin.ts";
import { checkRateLimiter, reserveRouteAttempt } from "./guards/rate_limit.ts";
import { securityHeaders } from "./guards/security_headers.ts";
import {
  checkRequestHead,
  DEFAULT_SIZE_LIMITS,
  readBoundedBody,
  type SizeLimits,
} from "./guards/size_limits.ts";
import { createRouter } from "./router.ts";
import type { HttpServices, RateLimiter, Route, RouteContext } from "./routes.ts";
import { createLogger, type Logger } from "../log.ts";

export const DEFAULT_MAX_BODY_BYTES = DEFAULT_SIZE_LIMITS.maxBodyBytes;

export interface HttpServerOptions {
  hostname: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** PEM certificate chain and key; both or neither. */
  cert?: string;
  key?: string;
  /** `publicBaseUrl` may be `""`: the server then fills in the address it listens on. */
  services: HttpServices;
  routes: Route[];
  /** Shorthand for `limits.maxBodyBytes`. */
  maxBodyBytes?: number;
  limits?: Partial<SizeLimits>;
  admission?: Partial<AdmissionLimits>;
  connections?: Partial<ConnectionLimits>;
  /** Keeps the failure budgets of routes that declare `rateLimit` (required when one does). */
  rateLimiter?: RateLimiter;
  /** Where the server reports (default: warnings and errors as text on stderr). */
  log?: Logger;
  /** Where unexpected handler errors are reported (default: `log.error`). */
  onError?: (error: unknown, request: Request) => void;
}

/** What the guard chain holds right now. */
export interface HttpServerStats {
  /** TCP connections open (including those still sending their first request). */
  connections: number;
  /** Requests answered since the start. */
  requestsServed: number;
  /** Connections ended since the start. */
  connectionsEnded: number;
  /** Requests whose handler is running, under admission control. */
  inFlight: number;
  /** Streaming responses open. */
  streams: number;
}

export interface HttpServer {
  /** The URL the server listens on, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** The services handlers see (with `publicBaseUrl` and `origins` resolved). */
  services: HttpServices;
  stats(): HttpServerStats;
  shutdown(): Promise<void>;
}

/** Starts listening; resolves routes in order, first match wins. */
export function startHttpServer(options: HttpServerOptions): HttpServer {
  const tls = options.cert !== undefined && options.key !== undefined;
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new TypeError("TLS needs both cert and key");
  }
  checkRateLimiter(options.routes, options.rateLimiter);
  const limits: SizeLimits = {
    ...DEFAULT_SIZE_LIMITS,
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    ...options.limits,
  };
  const admission = createAdmission({ ...DEFAULT_ADMISSION_LIMITS, ...options.admission });
  const router = createRouter(options.routes);
  const log = options.log ?? createLogger({ format: "text", level: "warn" });
  const onError = options.onError ??
    ((error: unknown, request: Request) =>
      log.error(`http: ${request.method} ${new URL(request.url).pathname} failed: ${error}`));
  const onInvalidHeader = (name: string) =>
    log.error(`http: a handler built an invalid '${name}' header; answered 500 instead`);

  const listening = startHttp1Server({
    hostname: options.hostname,
    port: options.port,
    tls: tls ? { cert: options.cert!, key: options.key! } : undefined,
    limits: {
      ...DEFAULT_CONNECTION_LIMITS,
      maxHeadBytes: limits.maxUrlChars + limits.maxHeaderBytes + 1024,
      ...options.connections,
    },
    handler: (request, info) => handle(request, info),
    policy: { defaults: securityHeaders(tls), onInvalidHeader },
  });
  const addr = listening.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = `${tls ? "https" : "http"}://${host}:${addr.port}`;
  const services: HttpServices = { ...options.services, secure: options.services.secure || tls };
  if (services.publicBaseUrl === "") services.publicBaseUrl = url;
  const names = gatewayNames({ listen: addr, tls, publicBaseUrl: services.publicBaseUrl });
  services.origins = names.origins;

  async function handle(request: Request, info: ConnectionInfo): Promise<Response> {
    let response: Response;
    try {
      response = await guarded(request, info.remoteAddr);
    } catch (error) {
      if (error instanceof HttpError) {
        response = httpErrorResponse(error);
      } else {
        onError(error, request);
        response = jsonError(500, "server_error", "internal error");
      }
    }
    return response;
  }

  async function guarded(request: Request, remoteAddr: string): Promise<Response> {
    const refused = checkHost(request, names) ?? checkRequestHead(request, limits);
    if (refused !== null) return refused;
    const url = new URL(request.url);
    const match = router(request.method, url.pathname);
    if (match instanceof Response) return match;
    const foreign = checkOwnOrigin(request, match.route, services);
    if (foreign !== null) return foreign;
    const context: RouteContext = { url, params: match.params, services, remoteAddr };
    // The body is read inside the admission slot: a refusal reads nothing, and the requests
    // admitted at once are bounded before any of them costs memory or parsing.
    const run = async () => {
      const bounded = await readBoundedBody(request, limits.maxBodyBytes);
      if (bounded instanceof Response) return bounded;
      const limit = match.route.rateLimit;
      if (limit !== undefined) {
        const attempt = await reserveRouteAttempt(bounded, limit, context, options.rateLimiter);
        if (attempt instanceof Response) return attempt;
        context.attempt = attempt;
      }
      return await match.route.handler(bounded, context);
    };
    const response = match.route.admission === "bypass"
      ? await run()
      : await admission.run(remoteAddr, request, run);
    if (request.method !== "HEAD") return response;
    await response.body?.cancel();
    return new Response(null, { status: response.status, headers: response.headers });
  }

  return {
    url,
    services,
    stats: () => ({
      connections: listening.openConnections(),
      requestsServed: listening.requestsServed(),
      connectionsEnded: listening.connectionsEnded(),
      ...admission.counts(),
    }),
    shutdown: async () => {
      admission.stop();
      await listening.close();
    },
  };
}
