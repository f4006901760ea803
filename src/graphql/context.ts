/**
 * What every resolver gets: the caller's access, the HTTP services (database, clock, time zone)
 * and the running gateway's parts the API reads or commands.
 *
 * @module
 */

import type { HttpServices } from "../http/routes.ts";
import type { LiveBus } from "../live/bus.ts";
import type { LinkSupervisor } from "../radio/supervisor.ts";
import type { Access } from "./access.ts";

export interface GatewayParts {
  /** Committed events and link changes: what subscriptions follow. */
  bus: LiveBus;
  /** One per radio port: its link state, and the way to send it commands. */
  supervisors: readonly LinkSupervisor[];
  version: string;
  /** Gateway start, Unix ms (wall clock). */
  startedMs: number;
}

export interface GraphqlContext {
  access: Access;
  services: HttpServices;
  gateway: GatewayParts;
}
