/**
 * The gateway's configuration: flags, `OPENSEG_*` environment variables or a JSON file, resolved
 * into one validated `ServeConfig`.
 *
 * @module
 */

import { type OptionSpec, parseCommand, type ParseOptions } from "./cli/options.ts";
import { UsageError } from "./cli/usage_error.ts";

/** The option table for `openseg serve`; also the source of its `--help`. */
export const serveOptions = {
  serial: {
    flag: "serial",
    type: "strings",
    env: "OPENSEG_SERIAL",
    description: "serial device of a RAVEn/EMU-2 stick; repeat for several meters",
  },
  simulate: {
    flag: "simulate",
    type: "boolean",
    env: "OPENSEG_SIMULATE",
    description: "run simulated meters on pseudo-terminals (the default without --serial)",
  },
  meters: {
    flag: "meters",
    type: "number",
    integer: true,
    min: 1,
    max: 64,
    default: 1,
    env: "OPENSEG_METERS",
    description: "number of simulated meters",
  },
  speed: {
    flag: "speed",
    type: "number",
    min: 0.001,
    max: 1_000_000,
    default: 1,
    env: "OPENSEG_SPEED",
    description: "simulated time runs N times faster than the wall clock",
  },
  backfillHours: {
    flag: "backfill-hours",
    type: "number",
    min: 0,
    max: 24 * 31,
    default: 0,
    env: "OPENSEG_BACKFILL_HOURS",
    description: "simulated meters start this many hours in the past and catch up fast",
  },
  solar: {
    flag: "solar",
    type: "boolean",
    env: "OPENSEG_SOLAR",
    description: "give simulated households rooftop solar (export at midday)",
  },
  replay: {
    flag: "replay",
    type: "string",
    env: "OPENSEG_REPLAY",
    description: "replay a capture file through a pseudo-terminal instead of simulating",
  },
  db: {
    flag: "db",
    type: "string",
    default: "openseg.db",
    env: "OPENSEG_DB",
    description: "SQLite database file",
  },
  retentionHours: {
    flag: "retention-hours",
    type: "number",
    min: 1,
    max: 24 * 31,
    default: 48,
    env: "OPENSEG_RETENTION_HOURS",
    description: "hours of data the circular cache keeps",
  },
  intervalMinutes: {
    flag: "interval-minutes",
    type: "number",
    integer: true,
    choices: [1, 5, 15, 60],
    min: 1,
    max: 60,
    default: 5,
    env: "OPENSEG_INTERVAL_MINUTES",
    description: "length of derived interval-energy readings",
  },
  pollSeconds: {
    flag: "poll-seconds",
    type: "number",
    min: 1,
    max: 3600,
    default: 60,
    env: "OPENSEG_POLL_SECONDS",
    description: "how often to ask the radio for what it does not push",
  },
  quiet: {
    flag: "quiet",
    type: "boolean",
    env: "OPENSEG_QUIET",
    description: "print only link state changes and errors",
  },
} as const satisfies Record<string, OptionSpec>;

export type ServeSource =
  | { kind: "serial"; paths: string[] }
  | { kind: "simulate"; meters: number; speed: number; solar: boolean; backfillHours: number }
  | { kind: "replay"; file: string };

export interface ServeConfig {
  source: ServeSource;
  dbPath: string;
  retentionHours: number;
  intervalMinutes: 1 | 5 | 15 | 60;
  pollSeconds: number;
  quiet: boolean;
}

/** Resolves `openseg serve` arguments; `null` means `--help` was asked for. */
export function loadServeConfig(args: string[], options: ParseOptions = {}): ServeConfig | null {
  const { values, help } = parseCommand(serveOptions, args, options);
  if (help) return null;
  const chosen = [values.serial.length > 0, values.simulate, values.replay !== undefined]
    .filter(Boolean).length;
  if (chosen > 1) {
    throw new UsageError("--serial, --simulate and --replay exclude each other; choose one");
  }
  const source: ServeSource = values.serial.length > 0
    ? { kind: "serial", paths: values.serial }
    : values.replay !== undefined
    ? { kind: "replay", file: values.replay }
    : {
      kind: "simulate",
      meters: values.meters,
      speed: values.speed,
      solar: values.solar,
      backfillHours: values.backfillHours,
    };
  return {
    source,
    dbPath: values.db,
    retentionHours: values.retentionHours,
    intervalMinutes: values.intervalMinutes as 1 | 5 | 15 | 60,
    pollSeconds: values.pollSeconds,
    quiet: values.quiet,
  };
}
