/**
 * The gateway's opaque id: names it in MQTT topics and client ids without exposing a radio or
 * meter MAC address. Random on first use, then durable, so topics stay the same across restarts.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { get, statement } from "./statements.ts";
import type { DatabaseSync } from "node:sqlite";

/** The gateway id, created on first use (lower-case hex, topic- and client-id-safe). */
export function gatewayIdFor(db: DatabaseSync): string {
  const read = () =>
    get<{ id: string }>(db, "SELECT gateway_id AS id FROM gateway_identity WHERE id = 1");
  const existing = read();
  if (existing !== undefined) return existing.id;
  // OR IGNORE + re-read: a concurrent first use by another connection wins and both agree.
  statement(db, "INSERT OR IGNORE INTO gateway_identity (id, gateway_id) VALUES (1, ?)")
    .run(randomBytes(6).toString("hex"));
  return read()!.id;
}
