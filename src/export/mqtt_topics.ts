/**
 * The MQTT topic layout, one place:
 *
 * - `<prefix>/<gateway>/status` — `online` / `offline` (birth and last will), retained;
 * - `<prefix>/<gateway>/link/<port>` — the radio link state of one port, retained;
 * - `<prefix>/<gateway>/meter/<meter>/{demand,summation,price,message}` — latest values, retained;
 * - `<prefix>/<gateway>/meter/<meter>/interval` — interval readings, QoS 1, not retained.
 *
 * `<gateway>` and `<meter>` are opaque ids (no MAC addresses); `<port>` is the port name made
 * topic-safe.
 *
 * @module
 */

/** Per-meter topics. */
export type MeterTopicKind = "demand" | "summation" | "price" | "message" | "interval";

export interface MqttTopics {
  status: string;
  link(port: string): string;
  meter(meterId: string, kind: MeterTopicKind): string;
}

/** The topics of one gateway under `prefix`. */
export function mqttTopics(options: { prefix: string; gatewayId: string }): MqttTopics {
  const base = `${options.prefix}/${topicSegment(options.gatewayId)}`;
  return {
    status: `${base}/status`,
    link: (port) => `${base}/link/${topicSegment(port)}`,
    meter: (meterId, kind) => `${base}/meter/${topicSegment(meterId)}/${kind}`,
  };
}

/**
 * One topic level from free text: anything but letters, digits, `_`, `-` and `.` becomes `_`
 * (so `/dev/ttyUSB0` → `_dev_ttyUSB0`); this also keeps the wildcards `+` and `#` out.
 */
export function topicSegment(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]/g, "_") || "_";
}
