/**
 * `openseg status --db FILE [--json]`: what the cache holds per meter — rows per kind, oldest and
 * newest meter time, last link state and warning counters, and the last four digits of the
 * radio's install code (the store keeps no more of it). Reads without writing.
 *
 * @module
 */

import { openDatabase } from "../store/db.ts";
import { type MeterStatus, storeStatus } from "../store/queries.ts";
import { formatHelp, parseCommand } from "../config/options.ts";

const statusOptions = {
  db: {
    flag: "db",
    type: "string",
    default: "openseg.db",
    env: "OPENSEG_DB",
    description: "SQLite database file",
  },
  json: { flag: "json", type: "boolean", description: "print JSON" },
} as const;

export async function runStatus(args: string[]): Promise<number> {
  const { values, help } = parseCommand(statusOptions, args, { env: Deno.env.toObject() });
  if (help) {
    console.log(
      formatHelp("openseg status [--db FILE] [--json]", "Show the cache.", statusOptions),
    );
    return 0;
  }
  try {
    await Deno.stat(values.db);
  } catch (error) {
    // Not "no database": main.ts names the permission to grant.
    if (error instanceof Deno.errors.NotCapable) throw error;
    console.error(`openseg status: no database at '${values.db}'`);
    return 1;
  }
  const db = openDatabase(values.db);
  try {
    const meters = storeStatus(db);
    console.log(values.json ? JSON.stringify(meters, null, 2) : formatStatus(meters));
  } finally {
    db.close();
  }
  return 0;
}

const iso = (ms: number | null) => ms === null ? "-" : new Date(ms).toISOString();

export function formatStatus(meters: MeterStatus[]): string {
  if (meters.length === 0) return "no meters stored yet";
  return meters.map((m) => {
    const rows = Object.entries(m.rows).map(([kind, n]) => `${kind} ${n}`).join(", ");
    const warnings = Object.entries(m.warnings).map(([kind, n]) => `${kind} ${n}`).join(", ");
    return [
      `meter ${m.meterKey} on ${m.port}${m.deviceMac ? ` (radio ${m.deviceMac})` : ""}`,
      ...(m.installCodeLast4 === null
        ? []
        : [`  install:  code ends ${m.installCodeLast4} (the whole code is on the radio's label)`]),
      `  rows:     ${rows}`,
      `  span:     ${iso(m.oldestMs)} .. ${iso(m.newestMs)}`,
      `  link:     ${m.link ? `${m.link.state} since ${iso(m.link.atMs)}` : "-"}` +
      (m.join ? `; meter ${m.join.status}` : ""),
      `  warnings: ${warnings || "none"}`,
    ].join("\n");
  }).join("\n");
}
