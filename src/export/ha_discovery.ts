/**
 * Home Assistant MQTT discovery: one retained config message per entity, so each meter appears as
 * a device with a power sensor (W, `measurement`), imported and exported energy (kWh,
 * `total_increasing`, which HA's Energy dashboard accepts as grid consumption and return), the
 * current price (`<currency>/kWh`, `measurement` so HA keeps its long-term statistics, for the
 * dashboard's cost tracking), the last utility message and the radio link as a connectivity
 * sensor. Every entity follows the gateway's availability topic, so HA shows them unavailable when
 * the gateway's last will fires.
 *
 * The gateway itself is a hub device (one connectivity sensor on its status topic), and each meter
 * device names it in `via_device`, as HA expects of devices reached through a bridge. A meter's
 * device name is the owner's name for it: a rename re-sends its configs with the new name.
 *
 * @module
 */

import type { MqttTopics } from "./mqtt_topics.ts";

/** Where HA listens for discovery (its default). */
export const HA_DISCOVERY_PREFIX = "homeassistant";

/** Where HA publishes its birth (`online`) and last will (`offline`) (its default). */
export const HA_STATUS_TOPIC = `${HA_DISCOVERY_PREFIX}/status`;

export interface DiscoveryMeter {
  meterId: string;
  /** Friendly name, if the meter reported one. */
  name?: string;
  /** Port of the meter's radio (its link state topic). */
  port: string;
  /** ISO 4217 code of the meter's prices when known; the price sensor's unit needs it. */
  currency: string | null;
}

export interface DiscoveryMessage {
  topic: string;
  payload: Record<string, unknown>;
}

/** The node id (topic level and device identifier) of the gateway's hub device. */
export function gatewayNodeId(gatewayId: string): string {
  return nodeIdOf(`openseg_${gatewayId}`);
}

/** The discovery message of the gateway's hub device: its connectivity (the status topic). */
export function gatewayDiscoveryMessage(options: {
  topics: MqttTopics;
  gatewayId: string;
  softwareVersion: string;
}): DiscoveryMessage {
  const nodeId = gatewayNodeId(options.gatewayId);
  return {
    topic: `${HA_DISCOVERY_PREFIX}/binary_sensor/${nodeId}/status/config`,
    payload: {
      name: "Status",
      state_topic: options.topics.status,
      payload_on: "online",
      payload_off: "offline",
      device_class: "connectivity",
      entity_category: "diagnostic",
      unique_id: `${nodeId}_status`,
      device: {
        identifiers: [nodeId],
        name: "openseg gateway",
        manufacturer: "openseg",
        model: "openseg energy gateway",
        sw_version: options.softwareVersion,
      },
      origin: { name: "openseg", sw: options.softwareVersion },
    },
  };
}

/** The discovery messages of one meter's entities. */
export function discoveryMessages(options: {
  topics: MqttTopics;
  gatewayId: string;
  meter: DiscoveryMeter;
  softwareVersion: string;
}): DiscoveryMessage[] {
  const { topics, gatewayId, meter } = options;
  const nodeId = nodeIdOf(`openseg_${gatewayId}_${meter.meterId}`);
  const common = {
    availability: [{ topic: topics.status }],
    device: {
      identifiers: [nodeId],
      name: meter.name ?? `Meter ${meter.meterId}`,
      manufacturer: "openseg",
      model: "ZigBee Smart Energy meter (RAVEn/EMU-2)",
      sw_version: options.softwareVersion,
      via_device: gatewayNodeId(gatewayId),
    },
    origin: { name: "openseg", sw: options.softwareVersion },
  };
  const entity = (
    component: "sensor" | "binary_sensor",
    objectId: string,
    config: Record<string, unknown>,
  ): DiscoveryMessage => ({
    topic: `${HA_DISCOVERY_PREFIX}/${component}/${nodeId}/${objectId}/config`,
    payload: { ...config, unique_id: `${nodeId}_${objectId}`, ...common },
  });
  const summation = topics.meter(meter.meterId, "summation");
  return [
    entity("sensor", "power", {
      name: "Power",
      state_topic: topics.meter(meter.meterId, "demand"),
      value_template: "{{ value_json.demandW }}",
      device_class: "power",
      state_class: "measurement",
      unit_of_measurement: "W",
    }),
    entity("sensor", "energy_imported", {
      name: "Energy imported",
      state_topic: summation,
      value_template: "{{ (value_json.deliveredWh / 1000) | round(3) }}",
      device_class: "energy",
      state_class: "total_increasing",
      unit_of_measurement: "kWh",
    }),
    entity("sensor", "energy_exported", {
      name: "Energy exported",
      state_topic: summation,
      // Meters without export report no register: the entity stays unknown rather than 0.
      value_template:
        "{{ (value_json.receivedWh / 1000) | round(3) if value_json.receivedWh is number else None }}",
      device_class: "energy",
      state_class: "total_increasing",
      unit_of_measurement: "kWh",
    }),
    entity("sensor", "price", {
      name: "Price",
      state_topic: topics.meter(meter.meterId, "price"),
      value_template: "{{ value_json.pricePerKWh }}",
      state_class: "measurement",
      ...(meter.currency === null ? {} : { unit_of_measurement: `${meter.currency}/kWh` }),
    }),
    entity("sensor", "message", {
      name: "Utility message",
      state_topic: topics.meter(meter.meterId, "message"),
      value_template: "{{ value_json.text[:255] }}",
      icon: "mdi:message-text",
    }),
    entity("binary_sensor", "link", {
      name: "Radio link",
      state_topic: topics.link(meter.port),
      value_template: "{{ 'ON' if value_json.state == 'connected' else 'OFF' }}",
      device_class: "connectivity",
      entity_category: "diagnostic",
    }),
  ];
}

/** Discovery topic levels and identifiers allow letters, digits, `_` and `-` only. */
function nodeIdOf(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, "_");
}
