/**
 * Interval readings into InfluxDB as line protocol over HTTP, with plain `fetch` (no client
 * library): the v1 API (`/write?db=`, InfluxDB 1.x) or the v2 API (`/api/v2/write`, InfluxDB 2.x,
 * 3.x and 1.8+).
 *
 * A point is identified by measurement, tag set and timestamp; the tags are gateway, meter and
 * duration and the timestamp is the interval's start (ms), so a re-sent interval overwrites
 * itself. Measurements need no creating; a missing database or bucket is reported, not created
 * (that takes an admin login the exporter should not need).
 *
 * @module
 */

import {
  type DatabaseSink,
  type IntervalRow,
  permissionAdvice,
  SinkFailure,
} from "./database_sink.ts";
import type { InfluxTarget } from "../config/db_targets.ts";

/** Line protocol for `rows`, one point per line. */
export function lineProtocol(measurement: string, rows: IntervalRow[]): string {
  return rows.map(({ gatewayId, meterId, reading }) =>
    `${measurement},gateway=${escapeTag(gatewayId)},meter=${escapeTag(meterId)},` +
    `duration_s=${reading.durationS} delivered_wh=${reading.deliveredWh},` +
    `received_wh=${reading.receivedWh},quality="${reading.quality}" ${reading.startMs}`
  ).join("\n");
}

export function influxSink(target: InfluxTarget): DatabaseSink {
  const headers: Record<string, string> = { "content-type": "text/plain; charset=utf-8" };
  if (target.authorization !== null) headers.authorization = target.authorization;
  let closing = new AbortController();
  return {
    async write(rows) {
      let response: Response;
      try {
        response = await fetch(target.writeUrl, {
          method: "POST",
          headers,
          body: lineProtocol(target.measurement, rows),
          signal: AbortSignal.any([closing.signal, AbortSignal.timeout(60_000)]),
        });
      } catch (error) {
        const why = permissionAdvice(error, target.label) ?? (error as Error).message;
        throw new SinkFailure("unreachable", `cannot reach InfluxDB at ${target.label}: ${why}`);
      }
      if (response.status === 204 || response.status === 200) {
        await response.body?.cancel();
        return;
      }
      throw describeInfluxAnswer(response.status, await response.text(), target);
    },
    close() {
      closing.abort();
      closing = new AbortController();
      return Promise.resolve();
    },
  };
}

/** A `SinkFailure` for an error answer (v1: `{"error"}`, v2: `{"code","message"}`). */
export function describeInfluxAnswer(
  status: number,
  body: string,
  target: InfluxTarget,
): SinkFailure {
  let message = body.trim();
  try {
    const parsed = JSON.parse(body) as { error?: string; message?: string };
    message = parsed.error ?? parsed.message ?? message;
  } catch {
    // Not JSON (a proxy's page, say): keep the text.
  }
  const where = `InfluxDB at ${target.label}`;
  const place = target.api === 1 ? "database" : "bucket";
  if (status === 401 || status === 403) {
    return new SinkFailure("login", `${where} refused the login (${status}): ${message}`);
  }
  if (status === 404 && /page not found/i.test(message)) {
    return new SinkFailure(
      "missing",
      target.api === 2
        ? `${where} has no v2 write API (${message}): InfluxDB before 1.8 needs influxdb://`
        : `${where} has no /write endpoint (${message}): is it InfluxDB?`,
    );
  }
  if (status === 404) {
    return new SinkFailure(
      "missing",
      `${where}: ${place} '${target.database}' does not exist (${message})`,
    );
  }
  if (status === 400 && /field type conflict|conflict/i.test(message)) {
    return new SinkFailure(
      "schema",
      `measurement ${target.measurement} in ${place} '${target.database}' does not match what ` +
        `openseg writes: ${message} (see docs/database_export.md)`,
    );
  }
  if (status >= 500) {
    return new SinkFailure("unreachable", `${where} failed (${status}): ${message}`);
  }
  return new SinkFailure("rejected", `${where} rejected the readings (${status}): ${message}`);
}

/** Tag values escape commas, equals signs and spaces. */
function escapeTag(value: string): string {
  return value.replace(/[,= \\]/g, (char) => `\\${char}`);
}
