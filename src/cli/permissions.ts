/**
 * Deno permission refusals as one line naming the option behind them and the permission to grant.
 *
 * Two ways in: `serve` checks what its options need before it starts (so a broker the process may
 * not reach fails at start-up instead of being retried forever in the background), and `main.ts`
 * turns any `NotCapable`/`PermissionDenied` that still escapes a command into the same kind of line
 * instead of a stack trace. Either way the exit code is 2, like a bad option.
 *
 * @module
 */

import type { DatabaseTarget } from "../config/db_targets.ts";
import { dirname, resolve } from "node:path";
import { loadServeConfig, type ServeConfig, serveOptions } from "../config.ts";
import type { OptionSpec } from "../config/options.ts";

/** One thing an option makes the process do, and the permission it takes. */
export interface PermissionNeed {
  /** The option's spec: its flag and environment variable name the need in the message. */
  option: OptionSpec;
  value: string;
  descriptors: Deno.PermissionDescriptor[];
  /** Why the grant is wider than the value, e.g. the database's directory for its WAL files. */
  note?: string;
}

/** Where the command's options came from, to name `--listen` or `OPENSEG_LISTEN`. */
export interface Invocation {
  command: string;
  args: string[];
  env: Record<string, string | undefined>;
}

const MQTT_DEFAULT_PORTS: Readonly<Record<string, number>> = { "mqtt:": 1883, "mqtts:": 8883 };

/** What `openseg serve ARGS` will need; none for `--help` (a bad option throws `UsageError`). */
export function servePermissionNeedsFor(
  args: string[],
  env: Record<string, string | undefined>,
): PermissionNeed[] {
  const config = loadServeConfig(args, { env });
  return config === null ? [] : servePermissionNeeds(config);
}

/** `host:port` of a database export destination (PostgreSQL's default port is 5432). */
function exportHost(target: DatabaseTarget): string {
  const url = new URL(target.kind === "postgres" ? target.connectionString : target.writeUrl);
  const defaultPort = target.kind === "postgres"
    ? "5432"
    : url.protocol === "https:"
    ? "443"
    : "80";
  return `${url.hostname}:${url.port === "" ? defaultPort : url.port}`;
}

/** The network and file permissions a `serve` configuration needs. */
export function servePermissionNeeds(config: ServeConfig): PermissionNeed[] {
  const needs: PermissionNeed[] = [];
  const { hostname, port } = config.listen;
  // Port 0 asks the system for a free port: only the host can be granted in advance.
  const listenHost = port === 0 ? hostname : `${hostname}:${port}`;
  needs.push({
    option: serveOptions.listen,
    value: `${hostname}:${port}`,
    descriptors: [{ name: "net", host: listenHost }],
  });
  if (config.mqtt !== null) {
    const url = new URL(config.mqtt.url);
    const brokerPort = url.port === "" ? MQTT_DEFAULT_PORTS[url.protocol] : Number(url.port);
    needs.push({
      option: serveOptions.mqttUrl,
      value: config.mqtt.url,
      descriptors: [{ name: "net", host: `${url.hostname}:${brokerPort}` }],
    });
    if (config.mqtt.caFile !== null) needs.push(readNeed(serveOptions.mqttCa, config.mqtt.caFile));
  }
  for (const target of config.databaseExports) {
    needs.push({
      option: serveOptions.exportUrl,
      value: target.label,
      descriptors: [{ name: "net", host: exportHost(target) }],
    });
  }
  if (config.dbPath !== ":memory:") needs.push(databaseNeed(serveOptions.db, config.dbPath));
  if (config.tls !== null) {
    needs.push(readNeed(serveOptions.tlsCert, config.tls.certFile));
    needs.push(readNeed(serveOptions.tlsKey, config.tls.keyFile));
  }
  if (config.source.kind === "replay") {
    needs.push(readNeed(serveOptions.replay, config.source.file));
  }
  return needs;
}

/** A SQLite file: its directory, read and write, for the database and its -wal and -shm files. */
export function databaseNeed(option: OptionSpec, path: string): PermissionNeed {
  return directoryNeed(option, path, "the database and its -wal and -shm files");
}

/** Read and write in the directory of `path`, for files created beside it. */
export function directoryNeed(option: OptionSpec, path: string, note: string): PermissionNeed {
  const dir = dirname(resolve(path));
  return {
    option,
    value: path,
    descriptors: [{ name: "read", path: dir }, { name: "write", path: dir }],
    note,
  };
}

function readNeed(option: OptionSpec, path: string): PermissionNeed {
  return { option, value: path, descriptors: [{ name: "read", path }] };
}

/** The line for the first need the process lacks; null when every one is granted. */
export function missingPermissionLine(
  needs: PermissionNeed[],
  invocation: Invocation,
): string | null {
  for (const need of needs) {
    const missing = need.descriptors.filter((descriptor) =>
      Deno.permissions.querySync(descriptor).state !== "granted"
    );
    if (missing.length === 0) continue;
    const grant = missing.map(grantFlag).join(" ");
    const note = need.note === undefined ? "" : ` (${need.note})`;
    return `openseg ${invocation.command}: ${optionName(need.option, invocation)} ${need.value} ` +
      `is not permitted: grant ${grant}${note}`;
  }
  return null;
}

function grantFlag(descriptor: Deno.PermissionDescriptor): string {
  switch (descriptor.name) {
    case "net":
      return `--allow-net=${descriptor.host ?? ""}`;
    case "read":
    case "write":
      return `--allow-${descriptor.name}=${descriptor.path ?? ""}`;
    default:
      return `--allow-${descriptor.name}`;
  }
}

/** `--listen` when the value came from a flag (or a config file), `OPENSEG_LISTEN` from the env. */
function optionName(option: OptionSpec, invocation: Invocation): string {
  const flag = `--${option.flag}`;
  const inArgs = invocation.args.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
  if (!inArgs && option.env !== undefined && invocation.env[option.env] !== undefined) {
    return option.env;
  }
  return flag;
}

/** Deno's refusal text: `Requires net access to "0.0.0.0:8080", run again with the --allow-net flag`. */
const REFUSAL = /Requires (\w+) access(?: to "([^"]*)")?/;

/**
 * The one line for a permission error that escaped a command, naming the command-line option whose
 * value it was refused for (when one matches); null when `error` is not a permission error.
 */
export function permissionErrorLine(error: unknown, invocation: Invocation): string | null {
  if (error instanceof Deno.errors.PermissionDenied) {
    // Refused by the operating system (file mode, systemd sandbox), not by Deno.
    const option = optionNamed(error.message, invocation);
    return `openseg ${invocation.command}: ${option ?? "a file or address"} was refused by the ` +
      `operating system (${error.message}): give the user openseg runs as access to it`;
  }
  if (!(error instanceof Deno.errors.NotCapable)) return null;
  const match = error.message.match(REFUSAL);
  if (match === null) return `openseg ${invocation.command}: ${error.message}`;
  const [, kind, resource] = match;
  if (resource === undefined) {
    return `openseg ${invocation.command}: ${kind} access is not permitted: grant --allow-${kind}`;
  }
  const option = optionNamed(resource, invocation);
  const grant = kind === "all" ? "--allow-all" : `--allow-${kind}=${resource}`;
  return `openseg ${invocation.command}: ${option === null ? "" : `${option}: `}` +
    `${kind} access to ${resource} is not permitted: grant ${grant}`;
}

/** The `--flag VALUE` (or `--flag=VALUE`) of the command line whose value `resource` refers to. */
function optionNamed(resource: string, invocation: Invocation): string | null {
  const { args } = invocation;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) continue;
    const equals = arg.indexOf("=");
    const flag = equals < 0 ? arg : arg.slice(0, equals);
    const value = equals < 0 ? args[i + 1] : arg.slice(equals + 1);
    if (value !== undefined && refersTo(value, resource)) return `${flag} ${value}`;
  }
  return null;
}

function refersTo(value: string, resource: string): boolean {
  if (value === resource) return true;
  try {
    // A URL option (`--mqtt-url mqtt://broker:1883`) is refused by its host and port.
    const host = new URL(value).hostname;
    if (host !== "" && (resource === host || resource.startsWith(`${host}:`))) return true;
  } catch {
    // Not a URL.
  }
  // A file option is refused by its absolute path, or a SQLite file beside it.
  const path = resolve(value);
  return ["", "-wal", "-shm", "-journal"].some((suffix) => resource === path + suffix);
}
