/**
 * Serves the dashboard built by `src/web/build.ts`: the page at `/` and its files under
 * `/assets/`. The files are read once, from `dist/web/` next to the sources (inside a `deno
 * compile` binary, from the embedded copy `--include dist/web` put there), with their gzip form
 * and an ETag. Responses say `Cache-Control: no-cache`: the browser keeps a copy but revalidates
 * it, so a rebuilt dashboard is picked up at once and an unchanged one costs a 304.
 *
 * `/` is the dashboard for the signed-in owner and the sign-in page (a form posting to
 * `/owner/login`, and the link to the first-run setup) for anyone else, so neither page starts
 * with a refused request.
 *
 * @module
 */

import { findSession } from "../auth/sessions.ts";
import { EMBEDDED_WEB_FILES } from "../web_assets.ts";
import { htmlPage } from "../http/html.ts";
import { jsonError } from "../http/errors.ts";
import type { Route, RouteHandler } from "../http/routes.ts";

/** Where the built dashboard lives (`build.ts` writes there). */
export const WEB_ASSETS_URL = new URL("../../dist/web/", import.meta.url);

const DASHBOARD_PAGE = "index.html";
const SIGN_IN_PAGE = "signin.html";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
};

interface Asset {
  body: Uint8Array<ArrayBuffer>;
  /** Null when gzip would not make it smaller. */
  gzipBody: Uint8Array<ArrayBuffer> | null;
  contentType: string;
  etag: string;
}

/** `/` and `/assets/:name`, serving the files in `dir` (default the built dashboard). */
export function staticRoutes(dir: URL = WEB_ASSETS_URL): Route[] {
  // Read on first use, so starting the server never waits on it (and never fails on it).
  let assets: Promise<Map<string, Asset>> | null = null;
  const serve = (name: string): RouteHandler => async (request) => {
    assets ??= loadAssets(dir);
    const asset = (await assets).get(name);
    if (asset !== undefined) return assetResponse(asset, request);
    if (name.endsWith(".html")) return notBuiltPage();
    return jsonError(404, "not_found", "no such asset");
  };
  const dashboard = serve(DASHBOARD_PAGE);
  const signIn = serve(SIGN_IN_PAGE);
  return [
    {
      method: "GET",
      path: "/",
      handler: (request, context) => {
        const { db, nowMs } = context.services;
        const signedIn = findSession(db, request, nowMs()) !== null;
        return (signedIn ? dashboard : signIn)(request, context);
      },
    },
    {
      method: "GET",
      path: "/assets/:name",
      handler: (request, context) => serve(context.params.name ?? "")(request, context),
    },
  ];
}

/** Every servable file directly in `dir` (none when it does not exist). */
async function loadAssets(dir: URL): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  let entries: Deno.DirEntry[];
  // A release build carries the built dashboard in the program (see `web_assets.ts`).
  const embedded = dir === WEB_ASSETS_URL ? EMBEDDED_WEB_FILES : null;
  try {
    entries = embedded !== null
      ? Object.keys(embedded).map((name) => ({
        name,
        isFile: true,
        isDirectory: false,
        isSymlink: false,
      }))
      : await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    // Not built, or not readable (a bundle run with read access to its data directory only).
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotCapable) {
      return assets;
    }
    throw error;
  }
  for (const entry of entries) {
    const contentType = CONTENT_TYPES[entry.name.split(".").pop() ?? ""];
    if (!entry.isFile || contentType === undefined) continue;
    const body = embedded !== null
      ? new TextEncoder().encode(embedded[entry.name])
      : await Deno.readFile(new URL(entry.name, dir));
    const gzipBody = await gzip(body);
    assets.set(entry.name, {
      body,
      gzipBody: gzipBody.byteLength < body.byteLength ? gzipBody : null,
      contentType,
      etag: `"${await digestHex(body)}"`,
    });
  }
  return assets;
}

function assetResponse(asset: Asset, request: Request): Response {
  const headers: Record<string, string> = {
    "Content-Type": asset.contentType,
    "Cache-Control": "no-cache",
    ETag: asset.etag,
    // `/` answers with either page, by cookie.
    Vary: "Accept-Encoding, Cookie",
  };
  if (request.headers.get("if-none-match") === asset.etag) {
    return new Response(null, { status: 304, headers });
  }
  const acceptsGzip = /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "");
  if (asset.gzipBody !== null && acceptsGzip) {
    return new Response(asset.gzipBody, {
      headers: { ...headers, "Content-Encoding": "gzip" },
    });
  }
  return new Response(asset.body, { headers });
}

function notBuiltPage(): Response {
  return htmlPage(
    "Dashboard not built",
    `<p>The dashboard's files are missing. Build them with <code>deno task build:web</code> (the
<code>start</code>, <code>demo</code> and <code>compile</code> tasks do it first).</p>`,
    { status: 503 },
  );
}

async function gzip(body: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([body]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function digestHex(body: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  return Array.from(digest.slice(0, 12), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
