/**
 * MQTT export: publishes what the gateway stores to a broker, for Home Assistant and for any
 * time-series database behind the broker.
 *
 * - Latest values (demand, registers, price, message, link state) are retained, published live
 *   from the bus after each commit, and republished from the store on every (re)connect, so a
 *   broker restart or a late subscriber still sees the current state. Live topics carry current
 *   values only (`live_gate.ts`): a backfill of history never floods them.
 * - Interval readings go through store-and-forward (`forward_cursor.ts`): QoS 1, in order, each
 *   acknowledged one moves a persisted cursor; a broker outage only delays them.
 * - Availability: last will `offline`, birth `online`, and `offline` on a clean stop.
 * - Home Assistant discovery for the gateway (a hub) and every meter (`ha_discovery.ts`); a meter
 *   renamed by its owner gets its configs again with the new device name. When HA announces
 *   itself with `online` on its status topic (after it restarts), discovery and the retained
 *   latest values are published again, as HA asks of discovery sources.
 *
 * - Households (`shared_meters.ts`): in a building, a meter is published only once its household
 *   allowed exports, and only what was measured since; when it withdraws, its retained topics
 *   (discovery configs and latest values) are cleared at once and nothing more of it is sent.
 *
 * The broker being down, unreachable or refusing the login never stops the gateway: the error is
 * logged once in plain words, the client keeps retrying, and ingest does not wait for it.
 *
 * @module
 */

import { fallbackLogger } from "../log.ts";
import { connect, type MqttClient } from "mqtt";
import type { DatabaseSync } from "node:sqlite";
import { UsageError } from "../config/usage_error.ts";
import type { LiveBus, LiveEvent } from "../live/bus.ts";
import { readExportCursor } from "../store/export_cursor.ts";
import { gatewayIdFor } from "../store/gateway_identity.ts";
import { type PortLink, portLinks } from "../store/port_links.ts";
import { onMeterRenamed } from "../store/meter_names.ts";
import { latestReadings, listMeters, type MeterSummary } from "../store/queries.ts";
import { usagePointIdFor } from "../store/usage_points.ts";
import { exportBacklog, intervalForwarder } from "./forward_cursor.ts";
import { sharedMeters } from "./shared_meters.ts";
import { settlesWithin } from "./settles_within.ts";
import {
  type DiscoveryMessage,
  discoveryMessages,
  type DiscoveryMeter,
  gatewayDiscoveryMessage,
  HA_STATUS_TOPIC,
} from "./ha_discovery.ts";
import { isHistory, LIVE_STALE_AFTER_MS, liveGate } from "./live_gate.ts";
import type { MqttConfig } from "../config/mqtt_config.ts";
import { describeMqttError } from "./mqtt_errors.ts";
import { intervalBody, linkBody, livePayload, storedPayloads } from "./mqtt_payloads.ts";
import { type MqttTopics, mqttTopics } from "./mqtt_topics.ts";

/** The cursor name of this exporter in `export_cursors`. */
export const MQTT_SINK = "mqtt";

export interface MqttExportOptions {
  db: DatabaseSync;
  bus: LiveBus;
  config: MqttConfig;
  /** Shown in HA's device info. */
  softwareVersion: string;
  /** Wait between connection attempts. Default 5000. */
  reconnectPeriodMs?: number;
  /** Interval readings in flight at once while draining a backlog. Default 200. */
  batchSize?: number;
  /** How long `stop()` waits for in-flight readings to be acknowledged. Default 2000. */
  stopGraceMs?: number;
  /** Least time between two live publishes on one topic. Default 5000. */
  liveMinIntervalMs?: number;
  /** A live value older than this (meter time, on arrival) is history, not sent live. Default 10 min. */
  liveStaleAfterMs?: number;
  /** Where connection problems are reported. Default: the fallback logger. */
  log?: (line: string) => void;
}

export interface MqttExportStatus {
  connected: boolean;
  /** Successful connections after the first. */
  reconnects: number;
  /** The last connection problem, cleared by a successful connect. */
  lastError: string | null;
  /** Interval readings the broker acknowledged since start. */
  intervalsSent: number;
}

export interface MqttExporter {
  readonly gatewayId: string;
  readonly clientId: string;
  readonly topics: MqttTopics;
  status(): MqttExportStatus;
  /** Complete interval readings the broker has not acknowledged yet, over all meters. */
  backlogIntervals(): number;
  /** Publishes `offline`, waits briefly for in-flight readings, disconnects. */
  stop(): Promise<void>;
}

/**
 * Latest values that are measurements: an old one is history, not published as the current state
 * (`live_gate.ts`). Prices and messages stay in effect until replaced, so only the rate limit
 * applies to them.
 */
const MEASURED_KINDS = new Set(["demand", "summation"]);

/** Latest-value kinds published live; a summation also wakes the interval forwarder. */
const LIVE_KINDS = new Set(["demand", "summation", "price", "message"]);

/** The retained latest-value topics of a meter. */
const RETAINED_KINDS = ["demand", "summation", "price", "message"] as const;

/** A measured value from before `sinceMs` was taken while its household kept it to itself. */
const measuredBefore = (kind: string, timeMs: number | null, sinceMs: number) =>
  MEASURED_KINDS.has(kind) && timeMs !== null && timeMs < sinceMs;

/** Connects (in the background) and starts exporting. */
export function startMqttExport(options: MqttExportOptions): MqttExporter {
  const { db, bus, config } = options;
  const log = options.log ?? ((line: string) => fallbackLogger.warn(line));
  const reconnectPeriodMs = options.reconnectPeriodMs ?? 5000;
  const batchSize = options.batchSize ?? 200;
  const stopGraceMs = options.stopGraceMs ?? 2000;
  const gatewayId = gatewayIdFor(db);
  const clientId = config.clientId ?? `openseg-${gatewayId}`;
  const topics = mqttTopics({ prefix: config.prefix, gatewayId });
  const state: MqttExportStatus & { connections: number; stopping: boolean } = {
    connected: false,
    reconnects: 0,
    lastError: null,
    intervalsSent: 0,
    connections: 0,
    stopping: false,
  };
  const meterIds = new Map<string, string>();
  const meters = new Map<string, DiscoveryMeter>();
  /**
   * Link state per port as last heard on the bus: the bus hears of it before the store commits
   * it, so a connect right after a change must not republish the older stored state.
   */
  const links = new Map<string, PortLink>();
  /** Discovery payloads published on this connection, by topic: only changes are re-sent. */
  const published = new Map<string, string>();

  const client: MqttClient = connect(config.url, {
    clientId,
    username: config.username ?? undefined,
    password: config.password ?? undefined,
    ca: config.caFile === null ? undefined : readCaFile(config.caFile),
    protocolVersion: 4,
    clean: true,
    keepalive: 30,
    connectTimeout: 10_000,
    reconnectPeriod: reconnectPeriodMs,
    // Wrong credentials may be fixed on the broker side; keep trying like for any outage.
    reconnectOnConnackError: true,
    // Latest values are republished from the store on reconnect; queueing them is pointless.
    queueQoSZero: false,
    will: { topic: topics.status, payload: "offline", qos: 1, retain: true },
  });

  const meterIdOf = (meterKey: string): string => {
    let id = meterIds.get(meterKey);
    if (id === undefined) {
      id = usagePointIdFor(db, meterKey);
      meterIds.set(meterKey, id);
    }
    return id;
  };

  const publishRetained = (topic: string, text: string, qos: 0 | 1) => {
    if (!client.connected) return;
    client.publish(topic, text, { qos, retain: true }, (error) => {
      if (error && !state.stopping) log(`mqtt: publishing ${topic} failed: ${error.message}`);
    });
  };
  const publishJson = (topic: string, body: unknown, qos: 0 | 1) =>
    publishRetained(topic, JSON.stringify(body), qos);

  const liveStaleAfterMs = options.liveStaleAfterMs ?? LIVE_STALE_AFTER_MS;
  const live = liveGate({
    publish: (topic, body) => publishJson(topic, body, 0),
    minIntervalMs: options.liveMinIntervalMs,
    staleAfterMs: liveStaleAfterMs,
  });

  /** Publishes the discovery configs that changed since this connection published them. */
  const publishDiscovery = (messages: DiscoveryMessage[]) => {
    for (const message of messages) {
      const text = JSON.stringify(message.payload);
      if (published.get(message.topic) === text) continue;
      published.set(message.topic, text);
      publishJson(message.topic, message.payload, 1);
    }
  };

  /** Meters this exporter announced since it started: withdrawn, their topics are cleared. */
  const announced = new Set<string>();

  const announceMeter = (meterKey: string) => {
    const meter = meters.get(meterKey);
    if (meter === undefined) return;
    announced.add(meterKey);
    publishDiscovery(
      discoveryMessages({ topics, gatewayId, meter, softwareVersion: options.softwareVersion }),
    );
  };

  /** A meter the owner renamed: its HA device takes the new name. */
  const onRenamed = () => {
    for (const meter of listMeters(db)) {
      const known = meters.get(meter.meterKey);
      if (known === undefined || known.name === meter.name) continue;
      meters.set(meter.meterKey, { ...known, name: meter.name });
      announceMeter(meter.meterKey);
    }
  };
  const stopWatchingNames = onMeterRenamed(() => {
    // Runs inside the rename's request: a failure here must not fail the rename.
    try {
      if (!state.stopping) onRenamed();
    } catch (error) {
      log(`mqtt: announcing a renamed meter failed: ${error}`);
    }
  });

  /** One meter's discovery and its current latest values, from the store. */
  const announceStored = (meter: MeterSummary, sinceMs: number) => {
    const latest = latestReadings(db, meter.meterKey);
    const meterId = meterIdOf(meter.meterKey);
    meters.set(meter.meterKey, {
      meterId,
      name: meter.name,
      port: meter.port,
      currency: latest.price?.currency ?? null,
    });
    announceMeter(meter.meterKey);
    for (const { kind, body, times } of storedPayloads(latest)) {
      if (MEASURED_KINDS.has(kind) && isHistory(times, liveStaleAfterMs)) continue;
      if (measuredBefore(kind, times.timeMs, sinceMs)) continue;
      publishJson(topics.meter(meterId, kind), body, 0);
    }
  };

  /**
   * A meter whose household does not (or no longer) share it: its retained topics are cleared
   * (an empty retained message deletes one; HA removes the entities of an empty config) and what
   * waits in the live gate is dropped.
   */
  const withdraw = (meterKey: string) => {
    const meterId = meterIdOf(meterKey);
    const retained = [
      ...discoveryMessages({
        topics,
        gatewayId,
        meter: { meterId, port: "", currency: null },
        softwareVersion: options.softwareVersion,
      }).map((message) => message.topic),
      ...RETAINED_KINDS.map((kind) => topics.meter(meterId, kind)),
    ];
    live.forget(retained);
    meters.delete(meterKey);
    for (const topic of retained) {
      published.delete(topic);
      publishRetained(topic, "", 1);
    }
  };

  const sharing = sharedMeters({
    db,
    onShared: (meterKey, sinceMs) => {
      const meter = listMeters(db).find((meter) => meter.meterKey === meterKey);
      if (meter !== undefined) announceStored(meter, sinceMs);
      forwarder.wake();
    },
    onWithdrawn: withdraw,
  });

  /** Birth, discovery and every retained latest value, from the store. */
  const announceAll = () => {
    publishRetained(topics.status, "online", 1);
    publishDiscovery([
      gatewayDiscoveryMessage({ topics, gatewayId, softwareVersion: options.softwareVersion }),
    ]);
    for (const meter of listMeters(db)) {
      const sinceMs = sharing.sinceMs(meter.meterKey);
      if (sinceMs !== null) announceStored(meter, sinceMs);
      // What was left of a meter withdrawn while the broker was away, or while an earlier run was
      // stopped, goes too. A meter never exported has nothing there: not even its id is sent.
      else if (
        announced.has(meter.meterKey) ||
        readExportCursor(db, { sink: MQTT_SINK, meterKey: meter.meterKey }) !== null
      ) {
        withdraw(meter.meterKey);
      }
    }
    for (const stored of portLinks(db)) {
      const heard = links.get(stored.port);
      if (heard === undefined || heard.atMs < stored.atMs) links.set(stored.port, stored);
    }
    for (const link of links.values()) publishJson(topics.link(link.port), linkBody(link), 1);
  };

  const onLiveEvent = (event: LiveEvent) => {
    if (event.type === "link") {
      const link = { port: event.port, state: event.state, detail: event.detail, atMs: event.atMs };
      links.set(event.port, link);
      publishJson(topics.link(event.port), linkBody(link), 1);
      return;
    }
    const sinceMs = sharing.sinceMs(event.meterKey);
    if (sinceMs === null) return;
    const meterId = meterIdOf(event.meterKey);
    const known = meters.get(event.meterKey);
    const currency = event.event.kind === "price" ? event.event.currency : known?.currency ?? null;
    if (known === undefined || known.port !== event.port || known.currency !== currency) {
      meters.set(event.meterKey, { ...known, meterId, port: event.port, currency });
      announceMeter(event.meterKey);
    }
    const payload = livePayload(event.event, event.receivedAtMs);
    if (payload !== null && !measuredBefore(payload.kind, event.event.timeMs, sinceMs)) {
      live.offer(topics.meter(meterId, payload.kind), payload.body, {
        // A price or message stays in effect until replaced: however old, the newest is current.
        timeMs: MEASURED_KINDS.has(payload.kind) ? event.event.timeMs : null,
        receivedAtMs: event.receivedAtMs,
      });
    }
    if (event.event.kind === "summation") forwarder.wake();
  };

  const forwarder = intervalForwarder({
    db,
    sink: MQTT_SINK,
    batchSize,
    canSend: () => client.connected && !state.stopping,
    send: async (meterKey, readings) => {
      const meterId = meterIdOf(meterKey);
      const topic = topics.meter(meterId, "interval");
      const results = await Promise.allSettled(
        readings.map((reading) =>
          client.publishAsync(
            topic,
            JSON.stringify(intervalBody({ gatewayId, meterId }, reading)),
            { qos: 1 },
          )
        ),
      );
      const failed = results.findIndex((result) => result.status === "rejected");
      return failed === -1 ? results.length : failed;
    },
    onSent: (count) => (state.intervalsSent += count),
    onError: (error) => log(`mqtt: forwarding interval readings failed: ${error}`),
  });
  client.on("connect", () => {
    state.connections++;
    state.reconnects = Math.max(0, state.connections - 1);
    state.connected = true;
    if (state.lastError !== null) log(`mqtt: connected to ${config.url} as ${clientId}`);
    state.lastError = null;
    published.clear();
    try {
      announceAll();
    } catch (error) {
      log(`mqtt: announcing state failed: ${error}`);
    }
    // mqtt.js renews this subscription itself on later connects (a repeat call is a no-op).
    client.subscribe(HA_STATUS_TOPIC, { qos: 1 }, (error) => {
      if (error && !state.stopping) log(`mqtt: subscribing to ${HA_STATUS_TOPIC} failed: ${error}`);
    });
    forwarder.wake();
  });
  client.on("message", (topic, payload, packet) => {
    // A retained birth is an old one, delivered on subscribing: this connect just announced all.
    if (topic !== HA_STATUS_TOPIC || packet.retain || state.stopping) return;
    if (new TextDecoder().decode(payload) !== "online") return;
    published.clear();
    try {
      announceAll();
    } catch (error) {
      log(`mqtt: announcing state to Home Assistant failed: ${error}`);
    }
  });
  client.on("close", () => {
    if (state.connected && !state.stopping) {
      log(
        `mqtt: lost the connection to ${config.url}; retrying every ${reconnectPeriodMs / 1000} s`,
      );
    }
    state.connected = false;
  });
  client.on("error", (error) => {
    const text = describeMqttError(error, config.url);
    // One line per distinct problem, not one per retry.
    if (text !== state.lastError) {
      log(
        `mqtt: ${text}; readings keep being stored and are sent once it connects ` +
          `(retrying every ${reconnectPeriodMs / 1000} s)`,
      );
    }
    state.lastError = text;
  });

  const subscription = bus.subscribe({
    filter: (event) => event.type === "link" || LIVE_KINDS.has(event.event.kind),
  });
  const liveLoop = (async () => {
    for await (const event of subscription) {
      try {
        onLiveEvent(event);
      } catch (error) {
        log(`mqtt: publishing a live value failed: ${error}`);
      }
    }
  })();

  return {
    gatewayId,
    clientId,
    topics,
    status: () => ({
      connected: client.connected,
      reconnects: state.reconnects,
      lastError: state.lastError,
      intervalsSent: state.intervalsSent,
    }),
    backlogIntervals: () => exportBacklog(db, MQTT_SINK),
    async stop() {
      state.stopping = true;
      // One macrotask lets the live loop publish what the last commit queued before closing.
      await new Promise((resolve) => setTimeout(resolve, 0));
      subscription.close();
      await liveLoop;
      live.flush();
      stopWatchingNames();
      sharing.stop();
      if (client.connected) {
        await settlesWithin(
          client.publishAsync(topics.status, "offline", { qos: 1, retain: true }),
          stopGraceMs,
        );
      }
      await settlesWithin(forwarder.settled(), stopGraceMs);
      // A clean end waits for in-flight acknowledgements; a dead broker gets a forced one.
      if (!(await settlesWithin(client.endAsync(false), stopGraceMs))) await client.endAsync(true);
      // Unacknowledged readings were rejected by the end; the cursor stays before them.
      await forwarder.settled();
    },
  };
}

function readCaFile(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    throw new UsageError(`--mqtt-ca: cannot read '${path}': ${(error as Error).message}`);
  }
}
