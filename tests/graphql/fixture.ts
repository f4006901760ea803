/**
 * A running gateway for the GraphQL tests: a real SQLite file, simulated meters on real
 * pseudo-terminals (through `openSources`, or a simulated device the test keeps a handle on), an
 * optional scripted port the test writes fragments to, the live bus, and the HTTP server on
 * 127.0.0.1 port 0 with `/health`, the auth and the GraphQL routes. Helpers act as the owner and as apps.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { PseudoTerminal } from "../../ffi/libc.ts";
import { SerialPort } from "../../ffi/libserialport.ts";
import { registerApp } from "../../src/auth/apps.ts";
import { createAuthorization } from "../../src/auth/authorizations.ts";
import { createSession, SESSION_COOKIE } from "../../src/auth/sessions.ts";
import { ACCESS_TOKEN_EXPIRES_IN_S, mintToken } from "../../src/auth/tokens.ts";
import { type Gateway, startGateway } from "../../src/gateway.ts";
import type { HttpServices } from "../../src/http/routes.ts";
import { createHttpApp } from "../../src/app/http_app.ts";
import { LiveBus } from "../../src/live/bus.ts";
import { type SimulatedMeter, startSimulatedMeter } from "../../src/sim/device.ts";
import { createHousehold } from "../../src/sim/household.ts";
import { openSources, type PortSource, simulatedMacs } from "../../src/sources.ts";
import { openDatabase } from "../../src/store/db.ts";
import { ScriptedPort } from "../e2e/helpers.ts";

export const SCRIPTED_METER = "0x001350030000beef";

export interface GatewayFixtureOptions {
  /** Simulated meters through `openSources` (default 1). */
  simulated?: number;
  /** Simulation speed of those meters (default 30: a demand reading every ~270 ms). */
  speed?: number;
  /** A port the test writes fragments to by hand. */
  scripted?: boolean;
  /** A simulated device whose received commands the test can read (messages every 6 min). */
  device?: boolean;
  dev?: boolean;
  /** Also serve the ESPI feed and the spreadsheet download. */
  espi?: boolean;
}

export interface GatewayFixture {
  url: string;
  db: DatabaseSync;
  bus: LiveBus;
  gateway: Gateway;
  services: HttpServices;
  scripted: ScriptedPort | null;
  device: SimulatedMeter | null;
  /** The owner's session cookie (`name=value`). */
  ownerCookie: string;
  /**
   * Registers an app and grants it `meterIds` with `scope` in a household's name (the owner's,
   * 1, unless given); returns a bearer access token.
   */
  appToken(options: { scope: string; meterIds: string[]; householdId?: number }): AppGrant;
  /** POSTs a GraphQL request with the owner's cookie or a bearer token. */
  graphql(query: string, options?: RequestOptions): Promise<GraphqlReply>;
  close(): Promise<void>;
}

export interface AppGrant {
  token: string;
  authorizationId: string;
  appId: string;
}

export interface RequestOptions {
  variables?: Record<string, unknown>;
  /** "owner" (cookie, default), a bearer token, or null for no credentials. */
  as?: "owner" | string | null;
  headers?: Record<string, string>;
}

export interface GraphqlReply {
  status: number;
  // deno-lint-ignore no-explicit-any
  data: any;
  errors: { message: string; extensions?: { code?: string } }[];
}

/** A simulated device on a pty, built as `openSources` builds one, with its handle kept. */
function devicePort(): { source: PortSource; device: SimulatedMeter } {
  const pty = PseudoTerminal.open();
  const device = startSimulatedMeter({
    transport: pty,
    ...simulatedMacs(7),
    household: createHousehold({ seed: 7, solar: false, messageEveryHours: 0.1 }),
    speed: 30,
    backfillMs: 3_600_000,
  });
  return {
    device,
    source: {
      port: "sim:device",
      open: () => SerialPort.adoptFd(pty.openSlaveFd(), pty.slavePath),
      stop: async () => {
        await pty.close();
        await device.stop();
      },
    },
  };
}

export async function startGatewayFixture(
  options: GatewayFixtureOptions = {},
): Promise<GatewayFixture> {
  const dir = await Deno.makeTempDir({ prefix: "openseg-graphql-" });
  const db = openDatabase(`${dir}/openseg.db`);
  const bus = new LiveBus();
  const ports = await openSources({
    kind: "simulate",
    meters: options.simulated ?? 1,
    speed: options.speed ?? 30,
    solar: true,
    backfillHours: 2,
  });
  const scripted = options.scripted ? new ScriptedPort() : null;
  if (scripted) ports.push(scripted.source);
  const simulatedDevice = options.device ? devicePort() : null;
  if (simulatedDevice) ports.push(simulatedDevice.source);
  const gateway = startGateway({
    db,
    ports,
    retentionHours: 48,
    intervalMinutes: 5,
    pollSeconds: 60,
    bus,
  });
  const server = createHttpApp({
    hostname: "127.0.0.1",
    port: 0,
    services: { db, nowMs: Date.now, publicBaseUrl: "", timeZone: "UTC", secure: false },
    health: { version: "0.0.0-test", startedMs: Date.now() },
    auth: true,
    espi: options.espi,
    graphql: {
      bus,
      supervisors: gateway.supervisors,
      version: "0.0.0-test",
      startedMs: Date.now(),
      dev: options.dev,
      // Credentials re-checked on every event and often when idle: tests need not wait seconds.
      subscriptions: { recheckMs: 0, idleRecheckMs: 100 },
      singleConnection: { recheckMs: 100 },
    },
    onError: (error) => console.error(error),
  });
  const session = createSession(db, { nowMs: Date.now(), secure: false });
  const ownerCookie = `${SESSION_COOKIE}=${session.sessionId}`;
  const fixture: GatewayFixture = {
    url: server.url,
    db,
    bus,
    gateway,
    services: server.services,
    scripted,
    device: simulatedDevice?.device ?? null,
    ownerCookie,
    appToken({ scope, meterIds, householdId = 1 }) {
      const nowMs = Date.now();
      const { app } = registerApp(db, {
        name: "Energy Coach",
        redirectUris: ["https://app.example/callback"],
        scopes: [scope],
        nowMs,
      });
      const authorization = createAuthorization(db, {
        clientId: app.clientId,
        scope,
        usagePointIds: meterIds,
        householdId,
        nowMs,
      });
      const { token } = mintToken(db, {
        kind: "access",
        clientId: app.clientId,
        authorizationId: authorization.authorizationId,
        expiresInS: ACCESS_TOKEN_EXPIRES_IN_S,
        nowMs,
      });
      return { token, authorizationId: authorization.authorizationId, appId: app.clientId };
    },
    async graphql(query, requestOptions = {}) {
      const as = requestOptions.as === undefined ? "owner" : requestOptions.as;
      const credentials: Record<string, string> = as === null
        ? {}
        : as === "owner"
        ? { Cookie: ownerCookie }
        : { Authorization: `Bearer ${as}` };
      const response = await fetch(`${server.url}/graphql`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/graphql-response+json",
          ...credentials,
          ...requestOptions.headers,
        },
        body: JSON.stringify({ query, variables: requestOptions.variables }),
      });
      const body = await response.json();
      return { status: response.status, data: body.data, errors: body.errors ?? [] };
    },
    async close() {
      await server.shutdown();
      await gateway.stop();
      await scripted?.close().catch(() => {});
      db.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
  return fixture;
}

/** Waits until the simulated meters have stored demand (and so are listed). */
export async function waitForMeters(fixture: GatewayFixture, count: number): Promise<string[]> {
  let ids: string[] = [];
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const reply = await fixture.graphql("{ meters { id demand { demandW } } }");
    const meters = (reply.data?.meters ?? []) as { id: string; demand: unknown }[];
    ids = meters.filter((meter) => meter.demand !== null).map((meter) => meter.id);
    if (ids.length >= count) return ids;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${count} meter(s) with demand; have ${ids.length}`);
}
