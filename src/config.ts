/**
 * The gateway's configuration: flags, `OPENSEG_*` environment variables or a JSON file, resolved
 * into one validated `ServeConfig`.
 *
 * @module
 */

import { type OptionSpec, parseCommand, type ParseOptions } from "./config/options.ts";
import { UsageError } from "./config/usage_error.ts";
import { type DatabaseTarget, databaseTargetsFrom } from "./config/db_targets.ts";
import { type MqttConfig, mqttConfigFrom } from "./config/mqtt_config.ts";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "./log.ts";

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
  graphqlDev: {
    flag: "graphql-dev",
    type: "boolean",
    env: "OPENSEG_GRAPHQL_DEV",
    description: "GraphiQL and introspection for every admitted caller, not only the owner",
  },
  quiet: {
    flag: "quiet",
    type: "boolean",
    env: "OPENSEG_QUIET",
    description: "print only link state changes and errors",
  },
  logFormat: {
    flag: "log-format",
    type: "string",
    choices: LOG_FORMATS,
    default: "text",
    env: "OPENSEG_LOG_FORMAT",
    description: "console output: text for people, json for one JSON object per line",
  },
  logLevel: {
    flag: "log-level",
    type: "string",
    choices: LOG_LEVELS,
    default: "info",
    env: "OPENSEG_LOG_LEVEL",
    description: "least severe console messages shown: debug, info, warn or error",
  },
  listen: {
    flag: "listen",
    type: "string",
    default: "127.0.0.1:8080",
    env: "OPENSEG_LISTEN",
    description: "HTTP address HOST:PORT (owner pages, OAuth, Green Button feed)",
  },
  tlsCert: {
    flag: "tls-cert",
    type: "string",
    env: "OPENSEG_TLS_CERT",
    description: "PEM certificate chain file: serve HTTPS (needs --tls-key)",
  },
  tlsKey: {
    flag: "tls-key",
    type: "string",
    env: "OPENSEG_TLS_KEY",
    description: "PEM private key file for --tls-cert",
  },
  publicUrl: {
    flag: "public-url",
    type: "string",
    env: "OPENSEG_PUBLIC_URL",
    description: "base URL apps see, e.g. https://gateway.example (default: the listen address)",
  },
  timeZone: {
    flag: "time-zone",
    type: "string",
    env: "OPENSEG_TIME_ZONE",
    description: "IANA time zone of the premises (default: the system's, else UTC)",
  },
  mqttUrl: {
    flag: "mqtt-url",
    type: "string",
    env: "OPENSEG_MQTT_URL",
    description:
      "export to an MQTT broker, mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (off if unset)",
  },
  mqttUsername: {
    flag: "mqtt-username",
    type: "string",
    env: "OPENSEG_MQTT_USERNAME",
    description: "MQTT login name",
  },
  mqttPassword: {
    flag: "mqtt-password",
    type: "string",
    env: "OPENSEG_MQTT_PASSWORD",
    description: "MQTT password (prefer the environment variable: flags show up in ps)",
  },
  mqttCa: {
    flag: "mqtt-ca",
    type: "string",
    env: "OPENSEG_MQTT_CA",
    description: "PEM file of the CA that signed the broker's certificate (mqtts)",
  },
  mqttClientId: {
    flag: "mqtt-client-id",
    type: "string",
    env: "OPENSEG_MQTT_CLIENT_ID",
    description: "MQTT client id (default: openseg-<gateway id>)",
  },
  mqttPrefix: {
    flag: "mqtt-prefix",
    type: "string",
    default: "openseg",
    env: "OPENSEG_MQTT_PREFIX",
    description: "first topic level(s) of everything published",
  },
  exportUrl: {
    flag: "export-url",
    type: "strings",
    env: "OPENSEG_EXPORT_URL",
    description: "write interval readings to a database: postgres://USER:PASSWORD@HOST/DB, " +
      "influxdb://HOST/DB or influxdb2://TOKEN@HOST/ORG/BUCKET; repeatable " +
      "(docs/database_export.md)",
  },
} as const satisfies Record<string, OptionSpec>;

export type ServeSource =
  | { kind: "serial"; paths: string[] }
  | { kind: "simulate"; meters: number; speed: number; solar: boolean; backfillHours: number }
  | { kind: "replay"; file: string };

export interface ListenAddress {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface ServeConfig {
  source: ServeSource;
  listen: ListenAddress;
  /** null: plain HTTP. */
  tls: TlsFiles | null;
  /** Base URL apps see, without a trailing slash; null: derived from the listen address. */
  publicUrl: string | null;
  /** IANA time zone, e.g. `Europe/Zurich`. */
  timeZone: string;
  dbPath: string;
  retentionHours: number;
  intervalMinutes: 1 | 5 | 15 | 60;
  pollSeconds: number;
  quiet: boolean;
  graphqlDev: boolean;
  logFormat: LogFormat;
  logLevel: LogLevel;
  /** null: no MQTT export. */
  mqtt: MqttConfig | null;
  /** `--export-url` destinations; empty: no database export. */
  databaseExports: DatabaseTarget[];
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
  if ((values.tlsCert === undefined) !== (values.tlsKey === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  return {
    source,
    listen: parseListen(values.listen),
    tls: values.tlsCert === undefined
      ? null
      : { certFile: values.tlsCert, keyFile: values.tlsKey! },
    publicUrl: values.publicUrl === undefined ? null : parsePublicUrl(values.publicUrl),
    timeZone: parseTimeZone(values.timeZone ?? systemTimeZone()),
    dbPath: values.db,
    retentionHours: values.retentionHours,
    intervalMinutes: values.intervalMinutes as 1 | 5 | 15 | 60,
    pollSeconds: values.pollSeconds,
    quiet: values.quiet,
    graphqlDev: values.graphqlDev,
    logFormat: values.logFormat as LogFormat,
    logLevel: values.logLevel as LogLevel,
    mqtt: mqttConfigFrom(values),
    databaseExports: databaseTargetsFrom(values.exportUrl),
  };
}

/** `HOST:PORT`, `[v6]:PORT`; throws `UsageError` naming `--listen`. */
export function parseListen(text: string): ListenAddress {
  const match = text.match(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/);
  const port = match ? Number(match[2]) : NaN;
  if (match === null || port > 65535) {
    throw new UsageError(`--listen: '${text}' is not HOST:PORT (e.g. 127.0.0.1:8080)`);
  }
  return { hostname: match[1].replace(/^\[|\]$/g, ""), port };
}

function parsePublicUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--public-url: '${text}' is not an absolute URL`);
  }
  if (!["http:", "https:"].includes(url.protocol) || url.search !== "" || url.hash !== "") {
    throw new UsageError(`--public-url: '${text}' must be http(s) without query or fragment`);
  }
  return url.href.replace(/\/+$/, "");
}

function parseTimeZone(name: string): string {
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    throw new UsageError(`--time-zone: '${name}' is not an IANA time zone`);
  }
}

function systemTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}
