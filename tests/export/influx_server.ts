/**
 * A real InfluxDB 1.x (Debian's `influxdb`) for the database export tests: its own config, data
 * directory and free 127.0.0.1 ports, with authentication on and one admin login, never the
 * system service. `stop()` kills it as an outage would; `start()` brings the same data back.
 *
 * @module
 */

import { freePort } from "./broker.ts";

export const INFLUX_ADMIN = { user: "admin", password: "admin-secret" };

export interface InfluxServer {
  /** `http://127.0.0.1:<port>`. */
  baseUrl: string;
  port: number;
  /** Runs an InfluxQL statement as the admin; returns the parsed JSON answer. */
  query(q: string, db?: string): Promise<InfluxQueryResult>;
  /** Every row of `SELECT * FROM <measurement>` in `db` (time in ms), keyed by column. */
  rows(db: string, measurement: string): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface InfluxQueryResult {
  results: {
    error?: string;
    series?: { name: string; columns: string[]; values: unknown[][] }[];
  }[];
}

const basicAuth = (user: string, password: string) => `Basic ${btoa(`${user}:${password}`)}`;

export async function startInflux(): Promise<InfluxServer> {
  try {
    await new Deno.Command("influxd", { args: ["version"], stdout: "null" }).output();
  } catch {
    throw new Error("influxd is missing: install Debian's InfluxDB (apt-get install influxdb)");
  }
  const dir = await Deno.makeTempDir({ prefix: "openseg-influxdb-" });
  const port = freePort();
  const configFile = `${dir}/influxdb.conf`;
  await Deno.writeTextFile(
    configFile,
    [
      "reporting-disabled = true",
      // The RPC (backup) listener, on its own free port so parallel servers do not collide.
      `bind-address = "127.0.0.1:${freePort()}"`,
      "[meta]",
      `  dir = "${dir}/meta"`,
      "[data]",
      `  dir = "${dir}/data"`,
      `  wal-dir = "${dir}/wal"`,
      "  query-log-enabled = false",
      "[monitor]",
      "  store-enabled = false",
      "[http]",
      `  bind-address = "127.0.0.1:${port}"`,
      "  auth-enabled = true",
      "  log-enabled = false",
      "[logging]",
      '  level = "error"',
      "  suppress-logo = true",
      "",
    ].join("\n"),
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  let process: Deno.ChildProcess | null = null;

  const query = async (q: string, db?: string): Promise<InfluxQueryResult> => {
    const params = new URLSearchParams({ q, epoch: "ms", ...(db === undefined ? {} : { db }) });
    const response = await fetch(`${baseUrl}/query`, {
      method: "POST",
      headers: {
        authorization: basicAuth(INFLUX_ADMIN.user, INFLUX_ADMIN.password),
        "content-type": "application/x-www-form-urlencoded",
      },
      body: params,
    });
    const body = await response.json() as InfluxQueryResult & { error?: string };
    if (!response.ok || body.error) throw new Error(`influx ${q}: ${JSON.stringify(body)}`);
    return body;
  };

  const server: InfluxServer = {
    baseUrl,
    port,
    query,
    async rows(db, measurement) {
      const body = await query(`SELECT * FROM "${measurement}"`, db);
      const series = body.results[0]?.series?.[0];
      if (series === undefined) return [];
      return series.values.map((values) =>
        Object.fromEntries(series.columns.map((column, i) => [column, values[i]]))
      );
    },
    async start() {
      process = new Deno.Command("influxd", {
        args: ["run", "-config", configFile],
        stdout: "null",
        stderr: "null",
      }).spawn();
      await waitForPing(baseUrl, process);
    },
    async stop() {
      if (process === null) return;
      process.kill("SIGKILL");
      await process.status;
      process = null;
    },
    async close() {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
  await server.start();
  // With authentication on, InfluxDB lets the first admin be created without a login.
  await query(
    `CREATE USER "${INFLUX_ADMIN.user}" WITH PASSWORD '${INFLUX_ADMIN.password}' ` +
      "WITH ALL PRIVILEGES",
  );
  return server;
}

async function waitForPing(baseUrl: string, process: Deno.ChildProcess): Promise<void> {
  const deadline = performance.now() + 15_000;
  let exited = false;
  process.status.then(() => (exited = true));
  while (true) {
    try {
      const response = await fetch(`${baseUrl}/ping`);
      await response.body?.cancel();
      if (response.status === 204) return;
    } catch (error) {
      if (exited) throw new Error(`influxd exited at start-up (${baseUrl})`);
      if (performance.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
