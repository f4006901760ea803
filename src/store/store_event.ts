/**
 * Where each event kind goes, one event at a time inside the flush transaction.
 *
 * - demand, summation, price: ring rows keyed (meter, meter time); a repeat is a duplicate.
 * - message: upsert by (meter, message id), keeping a confirmation already seen.
 * - deviceInfo → `devices`; meterInfo → `meters`; connection → `join_state`. Their secrets (the
 *   install code, the meter's `Auth`) are not stored: see `secrets.ts`.
 * - meterList is handled by the meter-key rule (`ports`), not stored per meter.
 * - everything else (time, schedule, periodUsage, profile, fastPoll, deviceWarning, blockPrice,
 *   unknown, empty message): the latest one per meter and kind in `latest_state`, as JSON.
 *
 * @module
 */

import type { MeterEvent } from "../radio/events.ts";
import type { IntervalDeriver } from "./interval_deriver.ts";
import type { DemandRollupBatch } from "./rollup.ts";
import { installCodeLast4 } from "./secrets.ts";
import { finiteOrNull, flagOrNull, integerOrNull, textOrNull } from "./values.ts";
import type { EventWrites, RingRows } from "./writes.ts";

/** What happened to one event. */
export type StoreOutcome = "stored" | "duplicate" | "invalid";

/** One event with everything the flush already resolved for it. */
export interface EventToStore {
  port: string;
  meterKey: string;
  /** Meter time, or the receive time when the event had none: the de-duplication key. */
  tsMs: number;
  receivedMs: number;
  event: MeterEvent;
}

/** The per-flush collectors an event may feed. */
export interface StoreTargets {
  writes: EventWrites;
  ring: RingRows;
  rollup: DemandRollupBatch;
  intervals: IntervalDeriver;
}

/** Stores one event; never throws for bad field values (they become NULL or make it invalid). */
export function storeEvent(targets: StoreTargets, item: EventToStore): StoreOutcome {
  const { writes } = targets;
  const { port, meterKey, tsMs, receivedMs, event } = item;
  switch (event.kind) {
    case "demand": {
      const demandW = finiteOrNull(event.demandW);
      if (!targets.ring.insertDemand(meterKey, tsMs, receivedMs, demandW)) return "duplicate";
      if (demandW !== null) targets.rollup.add(meterKey, tsMs, demandW);
      return "stored";
    }
    case "summation": {
      const deliveredWh = finiteOrNull(event.summationDeliveredWh);
      if (deliveredWh === null) return "invalid";
      const reading = { tsMs, deliveredWh, receivedWh: finiteOrNull(event.summationReceivedWh) };
      targets.intervals.beforeInsert(meterKey);
      if (!targets.ring.insertSummation(meterKey, reading, receivedMs)) return "duplicate";
      targets.intervals.inserted(meterKey, reading);
      return "stored";
    }
    case "price": {
      const row = {
        pricePerKWh: finiteOrNull(event.pricePerKWh),
        currencyCode: integerOrNull(event.currencyCode),
        currency: textOrNull(event.currency),
        tier: integerOrNull(event.tier),
        label: textOrNull(event.label),
        startTimeMs: integerOrNull(event.startTimeMs),
        durationS: integerOrNull(event.durationS),
      };
      return writes.insertPrice(meterKey, tsMs, receivedMs, row) ? "stored" : "duplicate";
    }
    case "message": {
      const messageId = textOrNull(event.messageId);
      if (messageId === null) break; // "no message": only the latest state records it
      writes.upsertMessage(meterKey, tsMs, receivedMs, {
        messageId,
        text: textOrNull(event.text) ?? "",
        confirmationRequired: flagOrNull(event.confirmationRequired) ?? 0,
        confirmed: flagOrNull(event.confirmed) ?? 0,
        queue: textOrNull(event.queue),
        priority: textOrNull(event.priority),
        startTimeMs: integerOrNull(event.startTimeMs),
        durationS: integerOrNull(event.durationS),
      });
      return "stored";
    }
    case "deviceInfo": {
      const deviceMac = textOrNull(event.device);
      if (deviceMac === null) return "invalid";
      writes.upsertDevice(deviceMac, port, receivedMs, {
        installCodeLast4: installCodeLast4(event.installCode),
        firmwareVersion: textOrNull(event.firmwareVersion),
        hardwareVersion: textOrNull(event.hardwareVersion),
        imageType: textOrNull(event.imageType),
        manufacturer: textOrNull(event.manufacturer),
        modelId: textOrNull(event.modelId),
        dateCodeDate: textOrNull(event.dateCodeDate),
        dateCodeLot: textOrNull(event.dateCodeLot),
      });
      return "stored";
    }
    case "meterInfo": {
      writes.upsertMeterInfo(meterKey, port, textOrNull(event.device), receivedMs, {
        meterType: textOrNull(event.meterType),
        nickName: textOrNull(event.nickName),
        account: textOrNull(event.account),
        host: textOrNull(event.host),
        enabled: flagOrNull(event.enabled),
      });
      return "stored";
    }
    case "connection": {
      writes.upsertJoin(meterKey, port, tsMs, receivedMs, {
        fragment: textOrNull(event.fragment) ?? "",
        status: textOrNull(event.status) ?? "",
        connected: flagOrNull(event.connected) ?? 0,
        description: textOrNull(event.description),
        statusCode: integerOrNull(event.statusCode),
        extPanId: textOrNull(event.extPanId),
        channel: integerOrNull(event.channel),
        shortAddr: textOrNull(event.shortAddr),
        linkStrengthPercent: finiteOrNull(event.linkStrengthPercent),
      });
      return "stored";
    }
    case "meterList":
      return "stored";
  }
  writes.upsertLatest(meterKey, latestKind(event), tsMs, receivedMs, eventJson(event));
  return "stored";
}

/** The `latest_state` key: kinds with sub-streams keep one row per sub-stream. */
function latestKind(event: MeterEvent): string {
  if (event.kind === "schedule") return `schedule:${textOrNull(event.event) ?? ""}`;
  if (event.kind === "periodUsage") return `periodUsage:${textOrNull(event.period) ?? ""}`;
  return String(event.kind);
}

/**
 * JSON of the event (NaN and Infinity become null). Falls back to the kind alone for a value JSON
 * cannot hold (bigint, a cycle), because one odd event must not fail the whole flush.
 */
function eventJson(event: MeterEvent): string {
  try {
    return JSON.stringify(event);
  } catch {
    return JSON.stringify({ kind: String(event.kind), fragment: textOrNull(event.fragment) });
  }
}
