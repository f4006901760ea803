/**
 * The last recorded link state of every port, for exporters that republish it after a restart or
 * a broker reconnect.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { all } from "./statements.ts";
import type { LinkState } from "../radio/events.ts";

export interface PortLink {
  port: string;
  state: LinkState;
  detail: string | null;
  atMs: number;
}

/** Ports with a recorded link state, by port name. */
export function portLinks(db: DatabaseSync): PortLink[] {
  const rows = all<PortLink>(
    db,
    `SELECT port, link_state AS state, link_detail AS detail, link_at_ms AS atMs
     FROM ports WHERE link_state IS NOT NULL ORDER BY port`,
  );
  return rows.map((row) => ({ ...row }));
}
