/**
 * The MQTT export settings and their validation: broker URL (mqtt:// or mqtts://), credentials,
 * CA file, client id and topic prefix. Export is off unless a URL is given.
 *
 * @module
 */

import { UsageError } from "./usage_error.ts";

export interface MqttConfig {
  /** `mqtt://host[:port]` or `mqtts://host[:port]`, without credentials in it. */
  url: string;
  username: string | null;
  password: string | null;
  /** PEM file of the CA that signed the broker's certificate (mqtts only). */
  caFile: string | null;
  /** null: `openseg-<gateway id>`. */
  clientId: string | null;
  /** First topic level(s), e.g. `openseg` or `home/energy`. */
  prefix: string;
}

/** The `--mqtt-*` values as parsed from flags, environment or config file. */
export interface MqttValues {
  mqttUrl: string | undefined;
  mqttUsername: string | undefined;
  mqttPassword: string | undefined;
  mqttCa: string | undefined;
  mqttClientId: string | undefined;
  mqttPrefix: string;
}

/** Validates the `--mqtt-*` values; null when no broker is configured. */
export function mqttConfigFrom(values: MqttValues): MqttConfig | null {
  if (values.mqttUrl === undefined) {
    const stray = (["mqttUsername", "mqttPassword", "mqttCa", "mqttClientId"] as const)
      .find((key) => values[key] !== undefined);
    if (stray !== undefined) {
      throw new UsageError(`--${kebab(stray)} needs --mqtt-url`);
    }
    return null;
  }
  const url = parseBrokerUrl(values.mqttUrl);
  if (values.mqttCa !== undefined && url.protocol !== "mqtts:") {
    throw new UsageError("--mqtt-ca needs an mqtts:// broker URL");
  }
  if (values.mqttPassword !== undefined && values.mqttUsername === undefined) {
    throw new UsageError("--mqtt-password needs --mqtt-username");
  }
  if (values.mqttClientId !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(values.mqttClientId)) {
    throw new UsageError("--mqtt-client-id: use 1–64 letters, digits, '_', '-' or '.'");
  }
  return {
    url: url.href.replace(/\/$/, ""),
    username: values.mqttUsername ?? null,
    password: values.mqttPassword ?? null,
    caFile: values.mqttCa ?? null,
    clientId: values.mqttClientId ?? null,
    prefix: parsePrefix(values.mqttPrefix),
  };
}

function parseBrokerUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--mqtt-url: '${text}' is not a URL (e.g. mqtt://broker.lan:1883)`);
  }
  if (!["mqtt:", "mqtts:"].includes(url.protocol) || url.hostname === "") {
    throw new UsageError(`--mqtt-url: '${text}' must be mqtt://HOST[:PORT] or mqtts://HOST[:PORT]`);
  }
  // Credentials in the URL would end up in logs and `ps`; they have their own options.
  if (url.username !== "" || url.password !== "") {
    throw new UsageError("--mqtt-url: put credentials in --mqtt-username/OPENSEG_MQTT_PASSWORD");
  }
  if ((url.pathname !== "" && url.pathname !== "/") || url.search !== "" || url.hash !== "") {
    throw new UsageError(`--mqtt-url: '${text}' must not have a path, query or fragment`);
  }
  return url;
}

function parsePrefix(text: string): string {
  const levels = text.split("/");
  if (
    text === "" ||
    levels.some((level) => level === "" || /[+#]/.test(level) || level.includes("\0"))
  ) {
    throw new UsageError(
      `--mqtt-prefix: '${text}' must be topic levels without '+', '#' or empty levels`,
    );
  }
  return text;
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}
