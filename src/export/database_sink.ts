/**
 * What the database exporter asks of a database: write a batch of interval readings so that a
 * re-sent one replaces itself, and say what went wrong when it cannot — the kind of failure, so
 * the exporter logs one line per kind (not one per retry), and a sentence an operator can act on.
 *
 * @module
 */

import type { IntervalReading } from "../store/queries.ts";

/** One interval reading and the key parts beside it: (gateway, meter, start, duration). */
export interface IntervalRow {
  gatewayId: string;
  /** The meter's usage point id, as in MQTT topics and the ESPI feed. */
  meterId: string;
  reading: IntervalReading;
}

export interface DatabaseSink {
  /**
   * Writes the rows idempotently (same key: replaced). Resolves once the database stored them
   * all; throws a `SinkFailure` otherwise (the whole batch is then sent again).
   */
  write(rows: IntervalRow[]): Promise<void>;
  /** Drops any open connection. */
  close(): Promise<void>;
}

export type SinkFailureKind =
  /** Host unknown, port closed, connection cut or timed out. */
  | "unreachable"
  /** Wrong user, password or token, or the login may not write there. */
  | "login"
  /** The database or bucket does not exist. */
  | "missing"
  /** The table or measurement exists with other columns or field types. */
  | "schema"
  /** Anything else the server answered. */
  | "rejected";

export class SinkFailure extends Error {
  override name = "SinkFailure";
  constructor(readonly kind: SinkFailureKind, message: string) {
    super(message);
  }
}

/** A Deno permission error's advice, or null: the same for every sink. */
export function permissionAdvice(error: unknown, host: string): string | null {
  const name = (error as { name?: unknown })?.name;
  return name === "NotCapable" || name === "PermissionDenied"
    ? `Deno permission missing: allow ${host} in --allow-net (${(error as Error).message})`
    : null;
}
