/**
 * The InfluxDB v2 write API in front of a real InfluxDB 1.6, for the v2 export test.
 *
 * Debian 12 ships InfluxDB 1.6, which has no `/api/v2/write` (that came with 1.8), and no
 * InfluxDB 2 is installable here. So this small real HTTP server answers the v2 write API as
 * InfluxDB 2 documents it — `Authorization: Token …`, `org` and `bucket` in the query, 204 on
 * success, `{"code","message"}` errors (401 unauthorized, 404 bucket not found) — and stores the
 * points in the real server's database named like the bucket. What arrives is also recorded in
 * order, so the test can check that each meter's intervals came oldest first.
 *
 * @module
 */

import { INFLUX_ADMIN, type InfluxServer } from "./influx_server.ts";

export interface V2Front {
  /** `127.0.0.1:<port>`, for an `influxdb2://TOKEN@HOST/ORG/BUCKET` URL. */
  host: string;
  /** Every line written, in arrival order (re-sent ones again). */
  lines: string[];
  /** The token accepted from now on. */
  setToken(token: string): void;
  /** Stops listening right after accepting `writes` more writes (an outage mid-backlog). */
  stopAfter(writes: number): void;
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): void;
}

export function startV2Front(
  influx: InfluxServer,
  options: { org: string; token: string },
): V2Front {
  let token = options.token;
  let writesLeft = Infinity;
  const lines: string[] = [];
  const answer = (status: number, code: string, message: string) =>
    Response.json({ code, message }, { status });

  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    if (request.method !== "POST" || url.pathname !== "/api/v2/write") {
      return answer(404, "not found", "path not found");
    }
    if (request.headers.get("authorization") !== `Token ${token}`) {
      return answer(401, "unauthorized", "unauthorized access");
    }
    const org = url.searchParams.get("org");
    const bucket = url.searchParams.get("bucket") ?? "";
    if (org !== options.org) {
      return answer(404, "not found", `organization name "${org}" not found`);
    }
    const body = await request.text();
    const stored = await fetch(
      `${influx.baseUrl}/write?${new URLSearchParams({
        db: bucket,
        precision: url.searchParams.get("precision") ?? "ns",
      })}`,
      {
        method: "POST",
        headers: {
          authorization: `Basic ${btoa(`${INFLUX_ADMIN.user}:${INFLUX_ADMIN.password}`)}`,
        },
        body,
      },
    );
    const reply = await stored.text();
    if (stored.status === 204) {
      lines.push(...body.split("\n"));
      if (--writesLeft === 0) setTimeout(() => front.stop(), 0);
      return new Response(null, { status: 204 });
    }
    if (stored.status === 404) return answer(404, "not found", `bucket "${bucket}" not found`);
    return answer(stored.status, "invalid", JSON.parse(reply).error ?? reply);
  };

  let server: Deno.HttpServer<Deno.NetAddr> | null = null;
  let port = 0;
  const front: V2Front = {
    host: "",
    lines,
    setToken: (next) => (token = next),
    stopAfter: (writes) => (writesLeft = writes),
    start() {
      server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handler);
      port = server.addr.port;
      front.host = `127.0.0.1:${port}`;
    },
    async stop() {
      writesLeft = Infinity;
      const running = server;
      server = null;
      await running?.shutdown();
    },
  };
  front.start();
  return front;
}
