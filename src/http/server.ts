/**
 * The gateway's one HTTP server and its one guard chain, assembled here in this order:
 *
 * 0. connections (`guards/connections.ts`): caps and header/idle deadlines per TCP connection
 * 1. Host allow-list (`guards/host.ts`): 421 for a host name that is not this gateway's
 * 2. size limits (`guards/size_limits.ts`): URL, headers, body
 * 3. routing (`router.ts`): 404 / 405
 * 4. admission (`guards/admission.ts`): in-flight work and open streams, 503 + Retry-After
 * 5. the route's handler; a thrown `HttpError` becomes its JSON error, anything else a bare 500
 * 6. security headers and header validation (`guards/security_headers.ts`) on every response,
 *    refusals from 1–4 included
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
import {
  type ConnectionLimits,
  DEFAULT_CONNECTION_LIMITS,
  startTcpFront,
} from "./guards/connections.ts";
import { checkHost, gatewayNames } from "./guards/host.ts";
import { secureResponse } from "./guards/security_headers.ts";
import {
  checkRequestHead,
  DEFAULT_SIZE_LIMITS,
  readBoundedBody,
  type SizeLimits,
} from "./guards/size_limits.ts";
import { createRouter } from "./router.ts";
import type { HttpServices, Route, RouteContext } from "./routes.ts";
import { createLogger } from "../log.ts";

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
  /** Where unexpected handler errors are reported (default: the error log). */
  onError?: (error: unknown, request: Request) => void;
}

/** What the guard chain holds right now. */
export interface HttpServerStats {
  /** TCP connections open (including those still sending their first request). */
  connections: number;
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
  const limits: SizeLimits = {
    ...DEFAULT_SIZE_LIMITS,
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    ...options.limits,
  };
  const admission = createAdmission({ ...DEFAULT_ADMISSION_LIMITS, ...options.admission });
  const router = createRouter(options.routes);
  const log = createLogger({ format: "text", level: "warn" });
  const onError = options.onError ??
    ((error: unknown, request: Request) =>
      log.error(`http: ${request.method} ${new URL(request.url).pathname} failed: ${error}`));
  const onInvalidHeader = (name: string) =>
    log.error(`http: a handler built an invalid '${name}' header; answered 500 instead`);

  // The real server listens on a private loopback port; clients reach it through the front.
  const inner = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
    onError: (error: unknown) => {
      log.error(`http: unhandled error: ${error}`);
      return jsonError(500, "server_error", "internal error");
    },
  }, (request, info) => handle(request, info));
  const front = startTcpFront({
    hostname: options.hostname,
    port: options.port,
    tls: tls ? { cert: options.cert!, key: options.key! } : undefined,
    upstreamPort: (inner.addr as Deno.NetAddr).port,
    limits: {
      ...DEFAULT_CONNECTION_LIMITS,
      maxHeadBytes: limits.maxUrlChars + limits.maxHeaderBytes + 1024,
      ...options.connections,
    },
  });

  const addr = front.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = `${tls ? "https" : "http"}://${host}:${addr.port}`;
  const services: HttpServices = { ...options.services, secure: options.services.secure || tls };
  if (services.publicBaseUrl === "") services.publicBaseUrl = url;
  const names = gatewayNames({ listen: addr, tls, publicBaseUrl: services.publicBaseUrl });
  services.origins = names.origins;

  async function handle(request: Request, info: Deno.ServeHandlerInfo): Promise<Response> {
    const remoteAddr = front.remoteAddressOf((info.remoteAddr as Deno.NetAddr).port);
    // Not through the front: someone on this box found the private port.
    if (remoteAddr === undefined) return jsonError(403, "forbidden", "connect to the public port");
    let response: Response;
    try {
      response = await guarded(request, remoteAddr);
    } catch (error) {
      if (error instanceof HttpError) {
        response = httpErrorResponse(error);
      } else {
        onError(error, request);
        response = jsonError(500, "server_error", "internal error");
      }
    }
    return secureResponse(response, { tls, onInvalidHeader });
  }

  async function guarded(request: Request, remoteAddr: string): Promise<Response> {
    const refused = checkHost(request, names) ?? checkRequestHead(request, limits);
    if (refused !== null) return refused;
    const url = new URL(request.url);
    // The private hop is plain HTTP; handlers see the scheme the client used.
    if (tls) url.protocol = "https:";
    const match = router(request.method, url.pathname);
    if (match instanceof Response) return match;
    const bounded = await readBoundedBody(request, limits.maxBodyBytes);
    if (bounded instanceof Response) return bounded;
    const context: RouteContext = { url, params: match.params, services, remoteAddr };
    const run = () => Promise.resolve(match.route.handler(bounded, context));
    const response = match.route.admission === "bypass"
      ? await run()
      : await admission.run(remoteAddr, bounded, run);
    if (request.method !== "HEAD") return response;
    await response.body?.cancel();
    return new Response(null, { status: response.status, headers: response.headers });
  }

  return {
    url,
    services,
    stats: () => ({ connections: front.openConnections(), ...admission.counts() }),
    shutdown: async () => {
      await front.close();
      await inner.shutdown();
    },
  };
}
