/**
 * ESPI test fixtures: a database filled with 48 hours of a simulated household (demand, summation
 * and time-of-use prices through the real `IngestWriter`, with a 40-minute outage so some intervals
 * are estimated), optionally a third meter (a small shop), HTTP services over it, constructed
 * callers (granted every kind of data unless narrowed) and `xmllint` with the ESPI 4.0 schema or
 * the legacy schema set of the GBA CMD test harness.
 *
 * @module
 */

import { referenceFolder } from "../reference.ts";
import type { DatabaseSync } from "node:sqlite";
import type { Caller, EspiScope } from "../../src/auth/caller.ts";
import type { HttpServices } from "../../src/http/routes.ts";
import type { DemandEvent, PriceEvent, SummationEvent } from "../../src/radio/events.ts";
import { createHousehold } from "../../src/sim/household.ts";
import { openDatabase } from "../../src/store/db.ts";
import { IngestWriter } from "../../src/store/ingest.ts";
import { usagePointIdFor } from "../../src/store/usage_points.ts";

export const SOLAR_METER = "0x00135003007fa1b2";
export const PLAIN_METER = "0x00135003007fc3d4";
/** The third meter, present when `espiFixture({ thirdMeter: true })`. */
export const SHOP_METER = "0x00135003007fe5f6";
export const HOUR_MS = 3_600_000;
/** Data ends here (2024-06-03T00:00:00Z) and the gateway clock reads this. */
export const END_MS = Date.UTC(2024, 5, 3);
export const START_MS = END_MS - 48 * HOUR_MS;
/** No readings in [OUTAGE_MS, OUTAGE_MS + 40 min): intervals across the gap are estimated. */
export const OUTAGE_MS = START_MS + 30 * HOUR_MS + 7 * 60_000;
export const BASE_URL = "http://127.0.0.1:8080";
export const RESOURCE_URL = `${BASE_URL}/espi/1_1/resource`;

export interface EspiFixture {
  db: DatabaseSync;
  dir: string;
  solarUsagePointId: string;
  plainUsagePointId: string;
  /** The third meter's usage point; null without one. */
  shopUsagePointId: string | null;
  services: (timeZone?: string) => HttpServices;
  cleanup: () => Promise<void>;
}

function base(fragment: string, meter: string, timeMs: number) {
  return { fragment, device: "0xd8d5b9000000abcd", meter, timeMs };
}

/** Feeds `hours` of one household into the writer, a reading every `stepS` seconds. */
function simulate(
  writer: IngestWriter,
  meter: string,
  options: { seed: number; solar: boolean; stepS: number },
) {
  const household = createHousehold({ seed: options.seed, solar: options.solar });
  for (let timeMs = START_MS; timeMs <= END_MS; timeMs += options.stepS * 1000) {
    if (timeMs >= OUTAGE_MS && timeMs < OUTAGE_MS + 40 * 60_000) continue;
    const registers = household.advanceTo(timeMs);
    writer.add(
      "/dev/ttyACM0",
      {
        ...base("InstantaneousDemand", meter, timeMs),
        kind: "demand",
        demandW: household.demandW(timeMs),
        digitsRight: 3,
      } satisfies DemandEvent,
      timeMs,
    );
    writer.add(
      "/dev/ttyACM0",
      {
        ...base("CurrentSummationDelivered", meter, timeMs),
        kind: "summation",
        summationDeliveredWh: registers.summationDeliveredWh,
        summationReceivedWh: registers.summationReceivedWh,
        digitsRight: 3,
      } satisfies SummationEvent,
      timeMs,
    );
    if (timeMs % (10 * 60_000) === 0) {
      const tier = household.priceAt(timeMs);
      writer.add(
        "/dev/ttyACM0",
        {
          ...base("PriceCluster", meter, timeMs),
          kind: "price",
          pricePerKWh: tier.pricePerKWh,
          currencyCode: tier.currencyCode,
          currency: "USD",
          tier: tier.tier,
          label: tier.label,
          startTimeMs: tier.startTimeMs,
          durationS: Math.round((tier.endTimeMs - tier.startTimeMs) / 1000),
        } satisfies PriceEvent,
        timeMs,
      );
    }
  }
  writer.flush();
}

/** A fresh database with a solar and a plain household (and a shop), 48 hours each. */
export async function espiFixture(options: { thirdMeter?: boolean } = {}): Promise<EspiFixture> {
  const dir = await Deno.makeTempDir({ prefix: "openseg-espi-" });
  const db = openDatabase(`${dir}/cache.db`);
  const writer = new IngestWriter(db, { maxBatch: 100_000 });
  simulate(writer, SOLAR_METER, { seed: 7, solar: true, stepS: 30 });
  simulate(writer, PLAIN_METER, { seed: 11, solar: false, stepS: 60 });
  if (options.thirdMeter) simulate(writer, SHOP_METER, { seed: 13, solar: false, stepS: 60 });
  writer.close();
  return {
    db,
    dir,
    solarUsagePointId: usagePointIdFor(db, SOLAR_METER),
    plainUsagePointId: usagePointIdFor(db, PLAIN_METER),
    shopUsagePointId: options.thirdMeter ? usagePointIdFor(db, SHOP_METER) : null,
    services: (timeZone = "America/New_York") => ({
      db,
      nowMs: () => END_MS,
      publicBaseUrl: BASE_URL,
      timeZone,
      secure: false,
    }),
    cleanup: async () => {
      if (db.isOpen) db.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Function blocks granting every kind of data the feed has (`src/auth/granted_data.ts`). */
export const ALL_DATA_BLOCKS = [1, 3, 4, 5, 6, 8, 9, 12, 13, 14, 15, 16, 39];

/** A grant of every kind of data at 5 minutes for 48 hours; `options` narrow it. */
export function scope(options: Partial<EspiScope> = {}): EspiScope {
  const functionBlocks = options.functionBlocks ?? ALL_DATA_BLOCKS;
  const fb = functionBlocks.join("_");
  return {
    text: `FB=${fb};IntervalDuration=300;BlockDuration=daily;HistoryLength=172800`,
    functionBlocks,
    intervalDurationS: 300,
    blockDuration: "daily",
    historyLengthS: 172_800,
    ...options,
  };
}

/** An access-token caller for subscription `subscriptionId` over `usagePointIds`. */
export function accessCaller(
  subscriptionId: string,
  usagePointIds: string[],
  grantScope: EspiScope = scope(),
): Caller {
  return {
    kind: "access",
    tokenId: `token-${subscriptionId}`,
    grant: {
      authorizationId: `auth-${subscriptionId}`,
      subscriptionId,
      applicationId: "app-1",
      scope: grantScope,
      usagePointIds,
      householdId: 1,
    },
  };
}

export function get(path: string): Request {
  return new Request(`${RESOURCE_URL}/${path}`);
}

const REFERENCE = referenceFolder("espi/");

/**
 * The schemas a document is checked against: the NAESB ESPI 4.0 one, and the legacy "derived"
 * set the GBA CMD certification harness validates with (see the reference README).
 */
export const SCHEMAS = {
  "espi-4.0": "schema/espi-4.0/espi.xsd",
  cmdtest: "schema/cmdtest-espiDerived/espiDerived.xsd",
} as const;

export type SchemaName = keyof typeof SCHEMAS;

/** Runs xmllint with one schema (ESPI 4.0 unless named) on the files; its exit code and output. */
export async function xmllint(
  files: string[],
  schemaName: SchemaName = "espi-4.0",
): Promise<{ code: number; output: string }> {
  const schema = new URL(SCHEMAS[schemaName], REFERENCE).pathname;
  const catalog = new URL("catalog.xml", new URL(SCHEMAS[schemaName], REFERENCE)).pathname;
  const result = await new Deno.Command("xmllint", {
    args: ["--nonet", "--noout", "--schema", schema, ...files],
    env: { XML_CATALOG_FILES: catalog },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}
