/**
 * What the store knows about the radios themselves: the identity a device reported
 * (`DeviceInfo`) and the warning counters of a port, for the gateway's radio list.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { all, get } from "./statements.ts";

export interface RadioDeviceInfo {
  deviceMac: string;
  manufacturer: string | null;
  modelId: string | null;
  firmwareVersion: string | null;
  hardwareVersion: string | null;
  dateCodeDate: string | null;
}

/** The stored identity of one radio, or null before it reported one. */
export function radioDeviceInfo(db: DatabaseSync, deviceMac: string): RadioDeviceInfo | null {
  const row = get<RadioDeviceInfo>(
    db,
    `SELECT device_mac AS deviceMac, manufacturer, model_id AS modelId,
       firmware_version AS firmwareVersion, hardware_version AS hardwareVersion,
       date_code_date AS dateCodeDate
     FROM devices WHERE device_mac = ?`,
    deviceMac,
  );
  return row === undefined ? null : { ...row };
}

/** Warning counters of a port and all its meters, summed by kind. */
export function portWarnings(db: DatabaseSync, port: string): Record<string, number> {
  const rows = all<{ kind: string; n: number }>(
    db,
    "SELECT kind, sum(count) AS n FROM warnings WHERE port = ? GROUP BY kind ORDER BY kind",
    port,
  );
  return Object.fromEntries(rows.map((row) => [row.kind, row.n]));
}
