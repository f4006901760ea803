/**
 * Every write statement of the ingest path. Each SQL text is prepared once per database by the
 * statement cache (`statements.ts`), like every other read and write of the store.
 *
 * Statements take positional parameters (the fastest binding in `node:sqlite`). The rows a flush
 * writes by the thousand (demand, summation, rollup cells, interval shares) go through the
 * multi-row engine of `batch_insert.ts`.
 *
 * Ring inserts report whether a row was added, which is how duplicates on the (meter, meter time)
 * key are kept out of rollups and interval energy (see `RingRows`).
 *
 * @module
 */

import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import type { PriceFields } from "../radio/events.ts";
import type { MeterInterval } from "../radio/gap_repair.ts";
import { MultiRowInsert, RingAppender, RingTable } from "./batch_insert.ts";
import type { RegisterReading } from "./intervals.ts";
import { INTERVAL_SOURCES, QUALITY_CODES } from "./migrations.ts";
import type { RollupCell } from "./rollup.ts";
import { noteMeterAdded } from "./households.ts";
import { all, get, statement } from "./statements.ts";
import { newUsagePointId } from "./usage_points.ts";

/** Row shapes for the ring tables, after sanitising. */
export type PriceRow = PriceFields;

export interface MessageRow {
  messageId: string;
  text: string;
  confirmationRequired: number;
  confirmed: number;
  queue: string | null;
  priority: string | null;
  startTimeMs: number | null;
  durationS: number | null;
}

export interface DeviceRow {
  /** Last four hex digits of the radio's install code (see `secrets.ts`); never the code. */
  installCodeLast4: string | null;
  firmwareVersion: string | null;
  hardwareVersion: string | null;
  imageType: string | null;
  manufacturer: string | null;
  modelId: string | null;
  dateCodeDate: string | null;
  dateCodeLot: string | null;
}

export interface MeterInfoRow {
  meterType: string | null;
  nickName: string | null;
  account: string | null;
  host: string | null;
  enabled: number | null;
}

export interface JoinRow {
  fragment: string;
  status: string;
  connected: number;
  description: string | null;
  statusCode: number | null;
  extPanId: string | null;
  channel: number | null;
  shortAddr: string | null;
  linkStrengthPercent: number | null;
}

/** The SQL of every single-row write and read, run through the statement cache. */
const SQL = {
  lastSummation: `SELECT ts_ms AS tsMs, delivered_wh AS deliveredWh, received_wh AS receivedWh
    FROM summation WHERE meter_key = ? ORDER BY ts_ms DESC LIMIT 1`,
  price: `INSERT OR IGNORE INTO prices (meter_key, ts_ms, received_ms, price_per_kwh, currency_code,
      currency, tier, label, start_time_ms, duration_s)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  // A re-sent message keeps a confirmation already seen (by the meter or, later, the user).
  message: `INSERT INTO messages (meter_key, message_id, ts_ms, received_ms, text,
      confirmation_required, confirmed, queue, priority, start_time_ms, duration_s)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (meter_key, message_id) DO UPDATE SET
      ts_ms = max(ts_ms, excluded.ts_ms), received_ms = max(received_ms, excluded.received_ms),
      text = excluded.text, confirmation_required = excluded.confirmation_required,
      confirmed = max(confirmed, excluded.confirmed), queue = excluded.queue,
      priority = excluded.priority, start_time_ms = excluded.start_time_ms,
      duration_s = excluded.duration_s`,
  // Only an estimated row: a valid one needs no repair, a questionable one (register went
  // backwards) is not the meter's to overwrite, and a missing one was trimmed or never derived.
  repairInterval:
    `UPDATE intervals SET delivered_wh = ?, received_wh = ?, quality = ${QUALITY_CODES.valid},
      source = ${INTERVAL_SOURCES.meter}
    WHERE meter_key = ? AND start_ms = ? AND duration_s = ?
      AND quality = ${QUALITY_CODES.estimated}`,
  meterSeen: `INSERT INTO meters (meter_key, port, device_mac, first_seen_ms, last_seen_ms)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (meter_key) DO UPDATE SET
      port = excluded.port, device_mac = coalesce(excluded.device_mac, device_mac),
      first_seen_ms = min(first_seen_ms, excluded.first_seen_ms),
      last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)`,
  meterInfo:
    `INSERT INTO meters (meter_key, port, device_mac, first_seen_ms, last_seen_ms, meter_type,
      name, account, host, enabled, info_received_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (meter_key) DO UPDATE SET
      meter_type = excluded.meter_type, name = coalesce(meters.name, excluded.name), account = excluded.account,
      host = excluded.host, enabled = excluded.enabled,
      info_received_ms = excluded.info_received_ms`,
  // Kept on a repeat: a meter's usage point id never changes once handed out.
  usagePoint: "INSERT OR IGNORE INTO usage_points (meter_key, usage_point_id) VALUES (?, ?)",
  device: `INSERT OR REPLACE INTO devices (device_mac, port, install_code_last4, firmware_version,
      hardware_version, image_type, manufacturer, model_id, date_code_date, date_code_lot,
      received_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  portDevice: `INSERT INTO ports (port, device_mac) VALUES (?, ?)
    ON CONFLICT (port) DO UPDATE SET device_mac = excluded.device_mac`,
  portMeter: `INSERT INTO ports (port, known_meter_key, meter_list_json) VALUES (?, ?, ?)
    ON CONFLICT (port) DO UPDATE SET known_meter_key = excluded.known_meter_key,
      meter_list_json = coalesce(excluded.meter_list_json, meter_list_json)`,
  portLink: `INSERT INTO ports (port, link_state, link_detail, link_at_ms) VALUES (?, ?, ?, ?)
    ON CONFLICT (port) DO UPDATE SET link_state = excluded.link_state,
      link_detail = excluded.link_detail, link_at_ms = excluded.link_at_ms`,
  join: `INSERT OR REPLACE INTO join_state (meter_key, port, fragment, status, connected,
      description, status_code, ext_pan_id, channel, short_addr, link_strength_percent, ts_ms,
      received_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  latest: `INSERT OR REPLACE INTO latest_state (meter_key, kind, ts_ms, received_ms, event_json)
    VALUES (?, ?, ?, ?, ?)`,
  warning: `INSERT INTO warnings (port, meter_key, kind, count, last_ms) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (port, meter_key, kind) DO UPDATE SET
      count = count + excluded.count, last_ms = max(last_ms, excluded.last_ms)`,
  knownMeters:
    "SELECT port, known_meter_key AS meterKey FROM ports WHERE known_meter_key IS NOT NULL",
} as const;

/** The write statements of one `IngestWriter`, taken from the statement cache. */
export class EventWrites {
  readonly #db: DatabaseSync;
  readonly #demand: RingTable;
  readonly #summation: RingTable;
  readonly #intervals: MultiRowInsert;
  readonly #rollups: MultiRowInsert;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#demand = new RingTable(db, "demand", ["received_ms", "demand_w"]);
    this.#summation = new RingTable(db, "summation", [
      "received_ms",
      "delivered_wh",
      "received_wh",
    ]);
    // Rows of one statement that hit the same key merge in order, like separate statements would.
    this.#intervals = new MultiRowInsert(
      db,
      "INSERT INTO intervals (meter_key, start_ms, duration_s, delivered_wh, received_wh, quality)",
      6,
      `ON CONFLICT (meter_key, start_ms, duration_s) DO UPDATE SET
         delivered_wh = delivered_wh + excluded.delivered_wh,
         received_wh = received_wh + excluded.received_wh,
         quality = max(quality, excluded.quality)`,
    );
    this.#rollups = new MultiRowInsert(
      db,
      "INSERT INTO demand_rollup (meter_key, bucket_min, bucket_ms, n, sum_w, min_w, max_w)",
      7,
      `ON CONFLICT (meter_key, bucket_min, bucket_ms) DO UPDATE SET
         n = n + excluded.n, sum_w = sum_w + excluded.sum_w,
         min_w = min(min_w, excluded.min_w), max_w = max(max_w, excluded.max_w)`,
    );
  }

  /** A new flush's demand and summation rows (write them with `RingRows.write` before COMMIT). */
  ringRows(): RingRows {
    return new RingRows(this.#demand, this.#summation);
  }

  /** The newest stored register reading of a meter (the anchor for the next interval split). */
  lastSummation(meterKey: string): RegisterReading | undefined {
    return get<RegisterReading>(this.#db, SQL.lastSummation, meterKey);
  }

  insertPrice(meterKey: string, tsMs: number, receivedMs: number, row: PriceRow): boolean {
    return statement(this.#db, SQL.price).run(
      meterKey,
      tsMs,
      receivedMs,
      row.pricePerKWh,
      row.currencyCode,
      row.currency,
      row.tier,
      row.label,
      row.startTimeMs,
      row.durationS,
    ).changes > 0;
  }

  upsertMessage(meterKey: string, tsMs: number, receivedMs: number, row: MessageRow): void {
    statement(this.#db, SQL.message).run(
      meterKey,
      row.messageId,
      tsMs,
      receivedMs,
      row.text,
      row.confirmationRequired,
      row.confirmed,
      row.queue,
      row.priority,
      row.startTimeMs,
      row.durationS,
    );
  }

  /**
   * Adds interval shares, given as consecutive (meter key, start ms, duration s, delivered Wh,
   * received Wh, quality code) values, onto the stored intervals.
   */
  addIntervals(values: SQLInputValue[]): void {
    this.#intervals.run(values);
  }

  /** Replaces an estimated interval by the meter's own reading; true when one was replaced. */
  repairInterval(meterKey: string, reading: MeterInterval): boolean {
    return statement(this.#db, SQL.repairInterval).run(
      reading.deliveredWh,
      reading.receivedWh,
      meterKey,
      reading.startMs,
      reading.durationS,
    ).changes > 0;
  }

  /** Merges rollup cells into the stored ones. */
  addRollups(cells: Iterable<RollupCell>): void {
    const values: SQLInputValue[] = [];
    for (const cell of cells) {
      values.push(
        cell.meterKey,
        cell.bucketMin,
        cell.bucketMs,
        cell.n,
        cell.sumW,
        cell.minW,
        cell.maxW,
      );
    }
    this.#rollups.run(values);
  }

  meterSeen(
    meterKey: string,
    port: string,
    deviceMac: string | null,
    firstMs: number,
    lastMs: number,
  ): void {
    statement(this.#db, SQL.meterSeen).run(meterKey, port, deviceMac, firstMs, lastMs);
    this.#usagePoint(meterKey);
  }

  upsertMeterInfo(
    meterKey: string,
    port: string,
    deviceMac: string | null,
    receivedMs: number,
    row: MeterInfoRow,
  ): void {
    statement(this.#db, SQL.meterInfo).run(
      meterKey,
      port,
      deviceMac,
      receivedMs,
      receivedMs,
      row.meterType,
      row.nickName,
      row.account,
      row.host,
      row.enabled,
      receivedMs,
    );
    this.#usagePoint(meterKey);
  }

  /** Gives a meter stored for the first time its usage point id. */
  #usagePoint(meterKey: string): void {
    const inserted = statement(this.#db, SQL.usagePoint).run(meterKey, newUsagePointId());
    if (Number(inserted.changes) > 0) noteMeterAdded();
  }

  upsertDevice(deviceMac: string, port: string, receivedMs: number, row: DeviceRow): void {
    statement(this.#db, SQL.device).run(
      deviceMac,
      port,
      row.installCodeLast4,
      row.firmwareVersion,
      row.hardwareVersion,
      row.imageType,
      row.manufacturer,
      row.modelId,
      row.dateCodeDate,
      row.dateCodeLot,
      receivedMs,
    );
  }

  setPortDevice(port: string, deviceMac: string): void {
    statement(this.#db, SQL.portDevice).run(port, deviceMac);
  }

  /** `meterListJson` null keeps the stored list (a connection event names no list). */
  setPortMeter(port: string, knownMeterKey: string | null, meterListJson: string | null): void {
    statement(this.#db, SQL.portMeter).run(port, knownMeterKey, meterListJson);
  }

  setPortLink(port: string, state: string, detail: string | null, atMs: number): void {
    statement(this.#db, SQL.portLink).run(port, state, detail, atMs);
  }

  upsertJoin(meterKey: string, port: string, tsMs: number, receivedMs: number, row: JoinRow) {
    statement(this.#db, SQL.join).run(
      meterKey,
      port,
      row.fragment,
      row.status,
      row.connected,
      row.description,
      row.statusCode,
      row.extPanId,
      row.channel,
      row.shortAddr,
      row.linkStrengthPercent,
      tsMs,
      receivedMs,
    );
  }

  upsertLatest(meterKey: string, kind: string, tsMs: number, receivedMs: number, json: string) {
    statement(this.#db, SQL.latest).run(meterKey, kind, tsMs, receivedMs, json);
  }

  addWarning(port: string, meterKey: string | null, kind: string, count: number, atMs: number) {
    statement(this.#db, SQL.warning).run(port, meterKey ?? "", kind, count, atMs);
  }

  /** Port → known single meter, as persisted (restores the meter-key rule after a restart). */
  knownMeters(): Map<string, string> {
    const rows = all<{ port: string; meterKey: string }>(this.#db, SQL.knownMeters);
    return new Map(rows.map((row) => [row.port, row.meterKey]));
  }
}

/** One flush's demand and summation rows; `write` them before anything else reads the tables. */
export class RingRows {
  readonly #demand: RingAppender;
  readonly #summation: RingAppender;

  constructor(demand: RingTable, summation: RingTable) {
    this.#demand = new RingAppender(demand);
    this.#summation = new RingAppender(summation);
  }

  /** True when the sample is new (not a duplicate of (meter, meter time)). */
  insertDemand(meterKey: string, tsMs: number, receivedMs: number, demandW: number | null) {
    const queue = this.#demand.queueFor(meterKey, tsMs);
    if (queue === null) return this.#demand.insertOne(meterKey, tsMs, receivedMs, demandW);
    queue.push(tsMs, receivedMs, demandW);
    return true;
  }

  /** True when the reading is new (not a duplicate of (meter, meter time)). */
  insertSummation(meterKey: string, reading: RegisterReading, receivedMs: number): boolean {
    const { tsMs, deliveredWh, receivedWh } = reading;
    const queue = this.#summation.queueFor(meterKey, tsMs);
    if (queue === null) {
      return this.#summation.insertOne(meterKey, tsMs, receivedMs, deliveredWh, receivedWh);
    }
    queue.push(tsMs, receivedMs, deliveredWh, receivedWh);
    return true;
  }

  /** Writes the queued rows. */
  write(): void {
    this.#demand.write();
    this.#summation.write();
  }
}
