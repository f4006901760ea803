/**
 * For the pipeline's hostile tests: a real HTTP server on 127.0.0.1 over a real SQLite file, and
 * reading a raw TCP connection until the server closes it (fetch cannot send what these tests send).
 */

import { type HttpServer, type HttpServerOptions, startHttpServer } from "../../src/http/server.ts";
import type { DatabaseSync } from "node:sqlite";
import { openDatabase } from "../../src/store/db.ts";

/** Reads until the server closes the connection (a reset counts); the text and the time it took. */
export async function readUntilClosed(conn: Deno.Conn): Promise<{ text: string; ms: number }> {
  const started = performance.now();
  let text = "";
  const buffer = new Uint8Array(8192);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
  } catch {
    // A reset is a close too.
  }
  conn.close();
  return { text, ms: performance.now() - started };
}

type TestServerOptions = Omit<HttpServerOptions, "hostname" | "port" | "services">;

/**
 * Runs `run` against a server started with `options` (services filled in; a function gets the
 * database first, for options built on it), then stops it.
 */
export async function withTestServer(
  options: TestServerOptions | ((db: DatabaseSync) => TestServerOptions),
  run: (server: HttpServer, port: number) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const db = openDatabase(`${dir}/openseg.db`);
  const server = startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    services: { db, nowMs: Date.now, publicBaseUrl: "", timeZone: "UTC", secure: false },
    ...(typeof options === "function" ? options(db) : options),
  });
  try {
    await run(server, Number(new URL(server.url).port));
  } finally {
    await server.shutdown();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}
