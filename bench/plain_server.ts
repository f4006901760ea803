/**
 * The baseline of `bench/http_load.ts`: a plain `Deno.serve` in its own process answering each
 * path with bytes recorded from the gateway (same body, same content headers), so the load
 * generator sees the same responses with none of the gateway's work behind them.
 *
 * Run: `deno run --allow-read --allow-net=127.0.0.1 bench/plain_server.ts <manifest.json>`; the
 * manifest is `[{ "path", "file", "headers" }]`; a request whose `If-None-Match` is the recorded
 * ETag gets a 304. Prints `listening <port>` once it listens on
 * 127.0.0.1 (port 0: the system picks).
 *
 * @module
 */

/** One recorded response. */
export interface PlainResponse {
  /** URL path it answers (any method, any query). */
  path: string;
  /** File holding the body bytes. */
  file: string;
  headers: Record<string, string>;
}

const manifest = JSON.parse(await Deno.readTextFile(Deno.args[0])) as PlainResponse[];
const responses = new Map(
  await Promise.all(
    manifest.map(async (entry) =>
      [entry.path, { body: await Deno.readFile(entry.file), headers: entry.headers }] as const
    ),
  ),
);

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening ${port}`),
}, (request) => {
  const found = responses.get(new URL(request.url).pathname);
  if (found === undefined) return new Response("not recorded", { status: 404 });
  // What a revalidating client gets from a server whose data never changes.
  const etag = found.headers["etag"];
  if (etag !== undefined && request.headers.get("if-none-match") === etag) {
    return new Response(null, { status: 304, headers: { ...found.headers, etag } });
  }
  return new Response(found.body, { headers: found.headers });
});
