/**
 * A gateway for the browser test, as `openseg serve` mounts it: a real SQLite file, simulated
 * meters (by default one), each on its own pseudo-terminal and radio port, running fast (with
 * solar, time-of-use prices and frequent utility messages, and a backfilled history), and the HTTP
 * server with the OAuth/owner pages, ESPI, GraphQL and the dashboard's static routes. The owner has
 * a password; the test also gets a session cookie of its own for checking what the page shows
 * against the API.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { PseudoTerminal } from "../../ffi/libc.ts";
import { SerialPort } from "../../ffi/libserialport.ts";
import { setOwnerPassword } from "../../src/auth/owner.ts";
import { createSession, SESSION_COOKIE } from "../../src/auth/sessions.ts";
import { type Gateway, startGateway } from "../../src/gateway.ts";
import { createHttpApp } from "../../src/app/http_app.ts";
import type { SingleConnectionStats } from "../../src/graphql/single_connection.ts";
import { LiveBus } from "../../src/live/bus.ts";
import { type SimulatedMeter, startSimulatedMeter } from "../../src/sim/device.ts";
import { createHousehold } from "../../src/sim/household.ts";
import { simulatedMacs } from "../../src/sources.ts";
import { openDatabase } from "../../src/store/db.ts";

export const OWNER_PASSWORD = "correct horse battery";

/** One simulated meter: its household and how often it pushes demand. */
export interface FixtureMeter {
  /** Household seed: each seed is a different home. */
  seed: number;
  solar?: boolean;
  /** One utility message per this many sim hours on average (default 24). */
  messageEveryHours?: number;
  /** Every message asks for confirmation (else only some, so a test's outcome would depend on the hour). */
  everyMessageAsksConfirmation?: boolean;
  /** Demand push period in sim seconds (default 8, like a real meter). */
  demandEverySimS?: number;
}

/**
 * The default: one solar household with a utility message every quarter of an hour, each asking
 * for confirmation (the dashboard test confirms the newest one).
 */
const DEFAULT_METERS: readonly FixtureMeter[] = [
  { seed: 3, solar: true, messageEveryHours: 0.25, everyMessageAsksConfirmation: true },
];

export interface DashboardFixtureOptions {
  /** Sim time runs this many times faster than the clock. */
  speed: number;
  backfillHours: number;
  /**
   * The simulated meters, on ports `sim:0`, `sim:1`, …, with the MACs of `simulatedMacs(index)`,
   * so the API (which orders meters by MAC) lists them in this order.
   */
  meters?: readonly FixtureMeter[];
  /** The URL the browser uses when it is not the server's own (a proxy in front). */
  publicBaseUrl?: string;
}

export interface DashboardFixture {
  url: string;
  db: DatabaseSync;
  /** The first simulated meter. */
  device: SimulatedMeter;
  /** Every simulated meter, in the order of `options.meters`. */
  devices: SimulatedMeter[];
  /** Stops the first simulated radio and hangs up its line, as pulling the USB stick does. */
  unplug(): Promise<void>;
  /** Event streams and operations of graphql-sse's single-connection mode, right now. */
  liveStreams: SingleConnectionStats;
  /** A session of the test's own (`name=value`), for API checks next to the browser. */
  ownerCookie: string;
  /** POSTs a GraphQL request with the test's cookie, or with a bearer token. */
  // deno-lint-ignore no-explicit-any
  graphql(query: string, variables?: Record<string, unknown>, token?: string): Promise<any>;
  close(): Promise<void>;
}

export async function startDashboardFixture(
  options: DashboardFixtureOptions,
): Promise<DashboardFixture> {
  const dir = await Deno.makeTempDir({ prefix: "openseg-web-" });
  const db = openDatabase(`${dir}/openseg.db`);
  await setOwnerPassword(db, OWNER_PASSWORD, Date.now());
  const meters = (options.meters ?? DEFAULT_METERS).map((meter, index) => {
    const pty = PseudoTerminal.open();
    const device = startSimulatedMeter({
      transport: pty,
      ...simulatedMacs(index),
      household: createHousehold({
        seed: meter.seed,
        solar: meter.solar ?? false,
        messageEveryHours: meter.messageEveryHours,
        everyMessageAsksConfirmation: meter.everyMessageAsksConfirmation,
      }),
      speed: options.speed,
      backfillMs: options.backfillHours * 3_600_000,
      demandEverySimS: meter.demandEverySimS,
    });
    // Unplugging and the gateway's stop both end the device; only the first does anything.
    let stopped: Promise<void> | null = null;
    const stop = () =>
      stopped ??= (async () => {
        await pty.close();
        await device.stop();
      })();
    return { pty, device, stop };
  });
  const bus = new LiveBus();
  let liveStreams: SingleConnectionStats = { streams: 0, operations: 0 };
  const gateway: Gateway = startGateway({
    db,
    ports: meters.map(({ pty, stop }, index) => ({
      port: `sim:${index}`,
      open: () => SerialPort.adoptFd(pty.openSlaveFd(), pty.slavePath),
      stop,
    })),
    retentionHours: 48,
    intervalMinutes: 15,
    pollSeconds: 60,
    bus,
  });
  const server = createHttpApp({
    hostname: "127.0.0.1",
    port: 0,
    services: {
      db,
      nowMs: Date.now,
      publicBaseUrl: options.publicBaseUrl ?? "",
      timeZone: "UTC",
      secure: false,
    },
    auth: true,
    espi: true,
    graphql: {
      bus,
      supervisors: gateway.supervisors,
      version: "0.0.0-test",
      startedMs: Date.now(),
      onSingleConnectionStats: (stats) => liveStreams = stats,
    },
    web: {},
    onError: (error) => console.error(error),
  });
  const session = createSession(db, { nowMs: Date.now(), secure: false });
  const ownerCookie = `${SESSION_COOKIE}=${session.sessionId}`;
  return {
    url: server.url,
    db,
    device: meters[0].device,
    devices: meters.map((meter) => meter.device),
    get liveStreams() {
      return liveStreams;
    },
    ownerCookie,
    unplug: meters[0].stop,
    async graphql(query, variables = {}, token) {
      const response = await fetch(`${server.url}/graphql`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          ...(token === undefined ? { Cookie: ownerCookie } : { Authorization: `Bearer ${token}` }),
        },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, ...(await response.json()) };
    },
    async close() {
      await server.shutdown();
      await gateway.stop();
      db.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
