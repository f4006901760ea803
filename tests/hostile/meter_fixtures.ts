/**
 * Shared pieces of the hostile meter-data tests: fragment text as a stick lays it out, and a
 * gateway reading a scripted device on a real pseudo-terminal into a temporary SQLite file.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { type Gateway, startGateway } from "../../src/gateway.ts";
import { openDatabase } from "../../src/store/db.ts";
import { ScriptedPort } from "../e2e/helpers.ts";

export const DEVICE = "0xd8d5b9000000e2e1";
export const METER = "0x0013500100deae01";
const ZIGBEE_EPOCH_S = 946_684_800;

/** `0x…` ZigBee time (seconds since 2000-01-01) of Unix ms `timeMs`. */
export function zigbeeTime(timeMs: number): string {
  return "0x" + (Math.floor(timeMs / 1000) - ZIGBEE_EPOCH_S).toString(16).padStart(8, "0");
}

/** One fragment, one child per line, CR LF like a RAVEn. */
export function fragment(root: string, children: [string, string][]): string {
  const lines = children.map(([name, text]) => `  <${name}>${text}</${name}>`);
  return [`<${root}>`, ...lines, `</${root}>`, ""].join("\r\n");
}

/** InstantaneousDemand with raw hex `demand` and `multiplier`, Divisor 1000. */
export function demand(meter: string, timeMs: number, demand: string, multiplier = "0x1") {
  return fragment("InstantaneousDemand", [
    ["DeviceMacId", DEVICE],
    ["MeterMacId", meter],
    ["TimeStamp", zigbeeTime(timeMs)],
    ["Demand", demand],
    ["Multiplier", multiplier],
    ["Divisor", "0x3e8"],
    ["DigitsRight", "0x03"],
    ["DigitsLeft", "0x06"],
    ["SuppressLeadingZero", "Y"],
  ]);
}

/** CurrentSummationDelivered with raw hex `delivered`, Divisor 1000 (raw counts are Wh). */
export function summation(meter: string, timeMs: number, delivered: string): string {
  return fragment("CurrentSummationDelivered", [
    ["DeviceMacId", DEVICE],
    ["MeterMacId", meter],
    ["TimeStamp", zigbeeTime(timeMs)],
    ["SummationDelivered", delivered],
    ["SummationReceived", "0x0"],
    ["Multiplier", "0x1"],
    ["Divisor", "0x3e8"],
    ["DigitsRight", "0x03"],
    ["DigitsLeft", "0x06"],
    ["SuppressLeadingZero", "Y"],
  ]);
}

/** The radio's answer to `get_connection_status`: it names the meter it joined. */
export function connectionStatus(meter: string): string {
  return fragment("ConnectionStatus", [
    ["DeviceMacId", DEVICE],
    ["MeterMacId", meter],
    ["Status", "Connected"],
    ["Description", "Successfully Joined"],
    ["ExtPanId", meter],
    ["Channel", "20"],
    ["ShortAddr", "0x0000"],
    ["LinkStrength", "0x64"],
  ]);
}

/** A gateway on a scripted pty device and a fresh database file. */
export interface ScriptedGateway {
  db: DatabaseSync;
  dir: string;
  path: string;
  device: ScriptedPort;
  gateway: Gateway;
}

/** Runs `body` against a started gateway; stops it and removes the files afterwards. */
export async function withScriptedGateway(
  body: (g: ScriptedGateway) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "openseg-hostile-meter-" });
  const path = `${dir}/gateway.db`;
  const db = openDatabase(path);
  const device = new ScriptedPort();
  const gateway = startGateway({
    db,
    ports: [device.source],
    retentionHours: 48,
    intervalMinutes: 5,
    pollSeconds: 3600,
  });
  try {
    await body({ db, dir, path, device, gateway });
  } finally {
    await gateway.stop();
    await device.close();
    if (db.isOpen) db.close();
    await Deno.remove(dir, { recursive: true });
  }
}
