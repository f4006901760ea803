/**
 * What the MQTT topics carry: JSON bodies with units in the field names, built the same way from a
 * live event and from the store (a reconnect republishes the stored latest values, and a consumer
 * must not see two shapes).
 *
 * Interval readings carry a stable `key` (gateway, meter, start, duration) and the interval's own
 * start time, never a send time: a reading re-sent after a lost acknowledgement is recognisably
 * the same one, so a consumer can de-duplicate instead of double-counting.
 *
 * @module
 */

import type { LinkState, MeterEvent } from "../radio/events.ts";
import type { IntervalReading, LatestReadings, StoredMessage } from "../store/queries.ts";
import type { MeterTopicKind } from "./mqtt_topics.ts";

/** A retained latest-value payload and the per-meter topic it goes to. */
export interface LivePayload {
  kind: Exclude<MeterTopicKind, "interval">;
  body: Record<string, unknown>;
}

/** The latest-value payload of a stored event, or null for kinds not exported. */
export function livePayload(event: MeterEvent, receivedAtMs: number): LivePayload | null {
  const timeMs = event.timeMs;
  switch (event.kind) {
    case "demand":
      return { kind: "demand", body: { timeMs, receivedAtMs, demandW: event.demandW } };
    case "summation":
      return {
        kind: "summation",
        body: {
          timeMs,
          receivedAtMs,
          deliveredWh: event.summationDeliveredWh,
          receivedWh: event.summationReceivedWh,
        },
      };
    case "price":
      return {
        kind: "price",
        body: {
          timeMs,
          receivedAtMs,
          pricePerKWh: event.pricePerKWh,
          currency: event.currency,
          currencyCode: event.currencyCode,
          tier: event.tier,
          label: event.label,
          startTimeMs: event.startTimeMs,
          durationS: event.durationS,
        },
      };
    case "message":
      return {
        kind: "message",
        body: messageBody({
          timeMs: timeMs ?? receivedAtMs,
          receivedAtMs,
          messageId: event.messageId,
          text: event.text,
          confirmationRequired: event.confirmationRequired,
          confirmed: event.confirmed,
          priority: event.priority,
          startTimeMs: event.startTimeMs,
          durationS: event.durationS,
        }),
      };
    default:
      return null;
  }
}

/** A stored latest value's payload with its meter time and arrival time. */
export interface StoredPayload extends LivePayload {
  times: { timeMs: number; receivedAtMs: number };
}

/** The latest-value payloads of what the store holds for one meter. */
export function storedPayloads(latest: LatestReadings): StoredPayload[] {
  const payloads: StoredPayload[] = [];
  if (latest.demand) {
    const { timeMs, receivedAtMs, demandW } = latest.demand;
    payloads.push({
      kind: "demand",
      body: { timeMs, receivedAtMs, demandW },
      times: { timeMs, receivedAtMs },
    });
  }
  if (latest.summation) {
    const { timeMs, receivedAtMs, deliveredWh, receivedWh } = latest.summation;
    payloads.push({
      kind: "summation",
      body: { timeMs, receivedAtMs, deliveredWh, receivedWh },
      times: { timeMs, receivedAtMs },
    });
  }
  if (latest.price) {
    const { timeMs, receivedAtMs, pricePerKWh, currency, currencyCode, tier, label } = latest.price;
    const { startTimeMs, durationS } = latest.price;
    payloads.push({
      kind: "price",
      body: {
        timeMs,
        receivedAtMs,
        pricePerKWh,
        currency,
        currencyCode,
        tier,
        label,
        startTimeMs,
        durationS,
      },
      times: { timeMs, receivedAtMs },
    });
  }
  const newest = latest.messages[0];
  if (newest) {
    const { timeMs, receivedAtMs } = newest;
    payloads.push({ kind: "message", body: messageBody(newest), times: { timeMs, receivedAtMs } });
  }
  return payloads;
}

/** An interval reading as sent: `key` identifies it across re-sends. */
export function intervalBody(
  ids: { gatewayId: string; meterId: string },
  reading: IntervalReading,
): Record<string, unknown> {
  return {
    key: `${ids.gatewayId}/${ids.meterId}/${reading.startMs}/${reading.durationS}`,
    meter: ids.meterId,
    start: new Date(reading.startMs).toISOString(),
    startMs: reading.startMs,
    durationS: reading.durationS,
    deliveredWh: reading.deliveredWh,
    receivedWh: reading.receivedWh,
    quality: reading.quality,
  };
}

/** The link state of one port. */
export function linkBody(
  link: { port: string; state: LinkState; detail: string | null; atMs: number },
): Record<string, unknown> {
  return { port: link.port, state: link.state, detail: link.detail, atMs: link.atMs };
}

type MessageFields =
  & Pick<
    StoredMessage,
    | "timeMs"
    | "receivedAtMs"
    | "text"
    | "confirmationRequired"
    | "confirmed"
    | "priority"
    | "startTimeMs"
    | "durationS"
  >
  & { messageId: string | null };

function messageBody(message: MessageFields): Record<string, unknown> {
  return {
    timeMs: message.timeMs,
    receivedAtMs: message.receivedAtMs,
    messageId: message.messageId,
    text: message.text,
    confirmationRequired: message.confirmationRequired,
    confirmed: message.confirmed,
    priority: message.priority,
    startTimeMs: message.startTimeMs,
    durationS: message.durationS,
  };
}
