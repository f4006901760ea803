/**
 * Test fixtures for the store tests: event builders and a temporary database directory.
 *
 * @module
 */

import type {
  ConnectionEvent,
  DemandEvent,
  DeviceInfoEvent,
  EventBase,
  MessageEvent,
  MeterInfoEvent,
  MeterListEvent,
  PriceEvent,
  SummationEvent,
  TimeEvent,
} from "../../src/radio/events.ts";
import { openDatabase } from "../../src/store/db.ts";
import type { DatabaseSync } from "node:sqlite";

export const METER_A = "0x00135003007fa1b2";
export const METER_B = "0x00135003007fc3d4";
export const DEVICE = "0xd8d5b9000000abcd";
export const PORT = "/dev/ttyACM0";
/** 2024-06-01T00:00:00Z: a round epoch for readable bucket math. */
export const T0 = Date.UTC(2024, 5, 1);
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

function base(fragment: string, meter: string | null, timeMs: number | null): EventBase {
  return { fragment, device: DEVICE, meter, timeMs };
}

export function demand(meter: string | null, timeMs: number | null, demandW: number | null) {
  return {
    ...base("InstantaneousDemand", meter, timeMs),
    kind: "demand",
    demandW,
    digitsRight: 3,
  } satisfies DemandEvent;
}

export function summation(
  meter: string | null,
  timeMs: number | null,
  deliveredWh: number,
  receivedWh: number | null = 0,
) {
  return {
    ...base("CurrentSummationDelivered", meter, timeMs),
    kind: "summation",
    summationDeliveredWh: deliveredWh,
    summationReceivedWh: receivedWh,
    digitsRight: 3,
  } satisfies SummationEvent;
}

export function price(meter: string | null, timeMs: number | null, pricePerKWh: number | null) {
  return {
    ...base("PriceCluster", meter, timeMs),
    kind: "price",
    pricePerKWh,
    currencyCode: 840,
    currency: "USD",
    tier: 1,
    label: "Off-peak",
    startTimeMs: timeMs,
    durationS: 3600,
  } satisfies PriceEvent;
}

export function message(
  meter: string | null,
  timeMs: number | null,
  messageId: string | null,
  options: { text?: string; confirmed?: boolean; confirmationRequired?: boolean } = {},
) {
  return {
    ...base("MessageCluster", meter, timeMs),
    kind: "message",
    messageId,
    text: options.text ?? "Peak pricing starts at 4 pm",
    confirmationRequired: options.confirmationRequired ?? true,
    confirmed: options.confirmed ?? false,
    queue: "Active",
    priority: "Medium",
    startTimeMs: timeMs,
    durationS: 3600,
  } satisfies MessageEvent;
}

export function connection(meter: string | null, status = "Connected", connected = true) {
  return {
    ...base("ConnectionStatus", meter, null),
    kind: "connection",
    status,
    connected,
    description: "Successfully Joined",
    statusCode: 0,
    extPanId: "0x000781000081fd0b",
    channel: 20,
    shortAddr: "0xe1aa",
    linkStrengthPercent: 100,
  } satisfies ConnectionEvent;
}

export function deviceInfo() {
  return {
    ...base("DeviceInfo", null, null),
    kind: "deviceInfo",
    installCode: "0x8ba7f1dee6c4f5cc",
    linkKey: "0x2b6ae5e4b4c5ba2d0d7a6e79bdd0c4da",
    firmwareVersion: "2.0.0 (7400)",
    hardwareVersion: "2.7.3",
    imageType: "0x1301",
    manufacturer: "Rainforest Automation, Inc.",
    modelId: "Z105-2-EMU2-LEDD_JM",
    dateCodeDate: "2019-06-25",
    dateCodeLot: "38000002",
  } satisfies DeviceInfoEvent;
}

export function meterList(meters: string[]) {
  return { ...base("MeterList", null, null), kind: "meterList", meters } satisfies MeterListEvent;
}

export function meterInfo(meter: string, nickName: string) {
  return {
    ...base("MeterInfo", meter, null),
    kind: "meterInfo",
    meterType: "electric",
    nickName,
    account: null,
    auth: null,
    host: null,
    enabled: true,
  } satisfies MeterInfoEvent;
}

export function time(meter: string | null, timeMs: number) {
  return {
    ...base("TimeCluster", meter, timeMs),
    kind: "time",
    utcTimeMs: timeMs,
    localTimeMs: timeMs - 7 * HOUR_MS,
  } satisfies TimeEvent;
}

/** A fresh database file in a temporary directory, removed by `cleanup`. */
export async function tempDatabase(): Promise<
  { db: DatabaseSync; path: string; dir: string; cleanup: () => Promise<void> }
> {
  const dir = await Deno.makeTempDir({ prefix: "openseg-store-" });
  const path = `${dir}/cache.db`;
  const db = openDatabase(path);
  return {
    db,
    path,
    dir,
    cleanup: async () => {
      if (db.isOpen) db.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Row count of a table (tests only; production code reads through queries.ts). */
export function rowCount(db: DatabaseSync, table: string): number {
  return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}
