/**
 * Host allow-list, the first guard: a request must name this gateway in its `Host` header — the
 * address it listens on, the host of `--public-url`, or `localhost` / `127.0.0.1` / `[::1]` on the
 * listen port. Anything else gets `421 Misdirected Request`. A DNS-rebinding page reaches us under
 * its own domain name, so this is what stops it reading the gateway from a browser.
 *
 * The same configured set gives the origins the CSRF check accepts (`origin.ts`): neither check
 * ever trusts the request to say where it was sent.
 *
 * @module
 */

import { jsonError } from "../errors.ts";

export interface AllowedHostsOptions {
  /** The address actually bound (the real port, also when 0 was asked for). */
  listen: { hostname: string; port: number };
  tls: boolean;
  /** `--public-url`, or `""` when unset. */
  publicBaseUrl: string;
}

/** The configured names of this gateway. */
export interface GatewayNames {
  /** `host:port` forms, lower case, IPv6 in brackets; also bare `host` on a scheme's default port. */
  hosts: ReadonlySet<string>;
  /** Serialized origins (`http://127.0.0.1:8080`), as browsers send them in `Origin`. */
  origins: readonly string[];
}

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

/** The hosts and origins under which this gateway answers. */
export function gatewayNames(options: AllowedHostsOptions): GatewayNames {
  const scheme = options.tls ? "https" : "http";
  const port = options.listen.port;
  const listenHost = options.listen.hostname.includes(":")
    ? `[${options.listen.hostname}]`
    : options.listen.hostname;
  const names = [listenHost, ...LOOPBACK_NAMES].map((host) => `${host.toLowerCase()}:${port}`);
  const urls = names.map((hostPort) => new URL(`${scheme}://${hostPort}`));
  if (options.publicBaseUrl !== "") urls.push(new URL(options.publicBaseUrl));
  const hosts = new Set(names);
  for (const url of urls) {
    // `URL` drops a default port; a client then sends the bare name (or, rarely, with the port).
    hosts.add(url.host);
    if (url.port === "") hosts.add(`${url.hostname}:${url.protocol === "https:" ? 443 : 80}`);
  }
  return { hosts, origins: [...new Set(urls.map((url) => url.origin))] };
}

/** `421` JSON when the `Host` header is missing or names another host, else null. */
export function checkHost(request: Request, names: GatewayNames): Response | null {
  const host = request.headers.get("host");
  if (host !== null && names.hosts.has(host.trim().toLowerCase())) return null;
  return jsonError(421, "misdirected_request", "this gateway does not answer for that host name");
}
