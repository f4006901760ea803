/**
 * The contract between the HTTP server and the modules that serve resources: a route is a method,
 * a URLPattern pathname and a Web-standard handler. Feature modules export `Route[]`; the server
 * (`server.ts`) matches them and wraps every response with limits and security headers.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

/** What every handler may use; built once by the server. */
export interface HttpServices {
  db: DatabaseSync;
  nowMs: () => number;
  /** Absolute base URL clients see, e.g. `http://127.0.0.1:8080` (no trailing slash). */
  publicBaseUrl: string;
  /** IANA time zone of the premises, for ESPI LocalTimeParameters. */
  timeZone: string;
  /** True when served over TLS: cookies get `Secure`. */
  secure: boolean;
  /**
   * Origins this gateway is served under (public URL, listen address, loopback names), filled in
   * by the server; the CSRF check (`origin.ts`) accepts only these.
   */
  origins?: readonly string[];
}

export interface RouteContext {
  url: URL;
  /** Named groups of the matched pattern, e.g. `{ id: "3" }`. */
  params: Record<string, string | undefined>;
  services: HttpServices;
  /** Remote address for rate limiting (`127.0.0.1` in tests). */
  remoteAddr: string;
}

export type RouteHandler = (
  request: Request,
  context: RouteContext,
) => Response | Promise<Response>;

export interface Route {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** URLPattern pathname syntax, e.g. `/espi/1_1/resource/UsagePoint/:id`. */
  path: string;
  handler: RouteHandler;
  /** `bypass`: cheap and always answered, even under overload (e.g. `/health`). */
  admission?: "bypass";
  /** `own`: a form of this gateway's pages; requests from anywhere else get 403 (CSRF). */
  origin?: "own";
}
