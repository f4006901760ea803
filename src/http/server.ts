/**
 * The gateway's one HTTP server: `Deno.serve` plus URLPattern routing, request limits, security
 * headers and JSON errors. Feature modules contribute `Route[]`; nothing they throw reaches the
 * client beyond a generic 500, and the server keeps serving.
 *
 * @module
 */

import { HttpError, httpErrorResponse, jsonError } from "./errors.ts";
import { withSecurityHeaders } from "./headers.ts";
import type { HttpServices, Route, RouteContext } from "./routes.ts";

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
const MAX_URL_CHARS = 8 * 1024;
const MAX_HEADER_BYTES = 16 * 1024;

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
  maxBodyBytes?: number;
  /** Where unexpected handler errors are reported (default `console.error`). */
  onError?: (error: unknown, request: Request) => void;
}

export interface HttpServer {
  /** The URL the server listens on, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** The services handlers see (with `publicBaseUrl` resolved). */
  services: HttpServices;
  shutdown(): Promise<void>;
}

interface CompiledRoute {
  route: Route;
  pattern: URLPattern;
}

/** Starts listening; resolves routes in order, first match wins. */
export function startHttpServer(options: HttpServerOptions): HttpServer {
  const tls = options.cert !== undefined && options.key !== undefined;
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new TypeError("TLS needs both cert and key");
  }
  const compiled = options.routes.map((route) => ({
    route,
    pattern: new URLPattern({ pathname: route.path }),
  }));
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const onError = options.onError ??
    ((error: unknown, request: Request) =>
      console.error(`http: ${request.method} ${new URL(request.url).pathname} failed:`, error));
  const services: HttpServices = { ...options.services, secure: options.services.secure || tls };

  const serveOptions = {
    hostname: options.hostname,
    port: options.port,
    onListen: () => {},
    onError: (error: unknown) => {
      console.error("http: unhandled error:", error);
      return jsonError(500, "server_error", "internal error");
    },
  };
  const server = tls
    ? Deno.serve(
      { ...serveOptions, cert: options.cert!, key: options.key! },
      (request, info) => handle(request, info),
    )
    : Deno.serve(serveOptions, (request, info) => handle(request, info));

  const addr = server.addr as Deno.NetAddr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = `${tls ? "https" : "http"}://${host}:${addr.port}`;
  if (services.publicBaseUrl === "") services.publicBaseUrl = url;

  async function handle(request: Request, info: Deno.ServeHandlerInfo): Promise<Response> {
    let response: Response;
    try {
      response = await route(request, info);
    } catch (error) {
      if (error instanceof HttpError) {
        response = httpErrorResponse(error);
      } else {
        onError(error, request);
        response = jsonError(500, "server_error", "internal error");
      }
    }
    return withSecurityHeaders(response, tls);
  }

  async function route(request: Request, info: Deno.ServeHandlerInfo): Promise<Response> {
    const refused = checkHeaders(request, maxBodyBytes);
    if (refused !== null) return refused;
    const url = new URL(request.url);
    const method = request.method === "HEAD" ? "GET" : request.method;
    const matches = compiled
      .map(({ route, pattern }) => ({ route, match: pattern.exec({ pathname: url.pathname }) }))
      .filter((m) => m.match !== null);
    if (matches.length === 0) return jsonError(404, "not_found", "no such resource");
    const chosen = matches.find((m) => m.route.method === method);
    if (chosen === undefined) {
      const allowed: string[] = [...new Set(matches.map((m) => m.route.method))];
      if (allowed.includes("GET")) allowed.push("HEAD");
      return jsonError(405, "method_not_allowed", `use ${allowed.join(", ")}`, {
        Allow: allowed.join(", "),
      });
    }
    const bounded = await boundBody(request, maxBodyBytes);
    if (bounded instanceof Response) return bounded;
    const context: RouteContext = {
      url,
      params: chosen.match!.pathname.groups,
      services,
      remoteAddr: (info.remoteAddr as Deno.NetAddr).hostname ?? "unknown",
    };
    const response = await chosen.route.handler(bounded, context);
    if (request.method !== "HEAD") return response;
    await response.body?.cancel();
    return new Response(null, { status: response.status, headers: response.headers });
  }

  return {
    url,
    services,
    shutdown: async () => {
      await server.shutdown();
    },
  };
}

/** Refuses oversized URLs and headers and a malformed or oversized Content-Length early. */
function checkHeaders(request: Request, maxBodyBytes: number): Response | null {
  if (request.url.length > MAX_URL_CHARS) return jsonError(414, "uri_too_long", "URL too long");
  let headerBytes = 0;
  for (const [name, value] of request.headers) headerBytes += name.length + value.length + 4;
  if (headerBytes > MAX_HEADER_BYTES) {
    return jsonError(431, "headers_too_large", "request headers too large");
  }
  const length = request.headers.get("content-length");
  if (length !== null) {
    if (!/^\d{1,15}$/.test(length)) {
      return jsonError(400, "invalid_request", "malformed Content-Length");
    }
    if (Number(length) > maxBodyBytes) {
      return jsonError(413, "payload_too_large", `the body exceeds ${maxBodyBytes} bytes`);
    }
  }
  return null;
}

/**
 * Reads the body up to the limit (a chunked body has no Content-Length to check up front) and
 * hands the handler a request whose body is already in memory.
 */
async function boundBody(request: Request, maxBodyBytes: number): Promise<Request | Response> {
  if (request.body === null) return request;
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBodyBytes) {
      await reader.cancel();
      return jsonError(413, "payload_too_large", `the body exceeds ${maxBodyBytes} bytes`);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new Request(request.url, { method: request.method, headers: request.headers, body });
}
