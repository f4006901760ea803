/**
 * The device adapter interface: the one face of a radio that the rest of the gateway sees.
 *
 * An adapter owns a `ByteTransport` and hides its wire protocol: reads come out as typed
 * `MeterEvent`s, commands go in as `RadioCommand`s. A second radio type is one new folder next to
 * `raven/` exporting a factory of this shape.
 *
 * @module
 */

import type { RadioCommand } from "./commands.ts";
import type { MeterEvent } from "./events.ts";
import type { ByteTransport } from "./transport.ts";

/** What one read of the radio produced. */
export interface RadioReadResult {
  events: MeterEvent[];
  /** Fragments that could not be decoded at all, one message each. */
  errors: string[];
  /** Fields that did not parse inside otherwise good fragments, one message each. */
  warnings: string[];
}

/** Running counters of one adapter, for status and diagnostics. */
export interface RadioStats {
  bytesRead: number;
  fragments: number;
  decodeErrors: number;
  fieldWarnings: number;
  unknownFragments: number;
  droppedBytes: number;
  overflows: number;
}

export interface RadioAdapter {
  /** Radio family, e.g. `raven`. */
  readonly kind: string;
  readonly name: string;
  readonly stats: Readonly<RadioStats>;
  /** Waits at most `waitMs`; `null` once the device hung up. */
  read(waitMs: number): Promise<RadioReadResult | null>;
  send(command: RadioCommand): Promise<void>;
  close(): Promise<void>;
}

/** Builds an adapter around an open transport. */
export type RadioAdapterFactory = (transport: ByteTransport) => RadioAdapter;
