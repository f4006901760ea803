/**
 * The spreadsheet download over the real HTTP server, on a database a simulated gateway filled:
 * the owner's CSV rows are the store's rows (intervals with cost, demand per minute) in the last
 * 48 hours; RFC 4180 quoting and defused formulas in meter names; and the access of Download My
 * Data — no session and an app's token are refused exactly as the Green Button download refuses
 * them, hostile query parameters are a 400, a meter that is not the owner's a 404.
 *
 * @module
 */

import assert from "node:assert/strict";
import { registerApp } from "../../src/auth/apps.ts";
import { createAuthorization } from "../../src/auth/authorizations.ts";
import { createSession, SESSION_COOKIE } from "../../src/auth/sessions.ts";
import { ACCESS_TOKEN_EXPIRES_IN_S, mintToken } from "../../src/auth/tokens.ts";
import { createHttpApp } from "../../src/app/http_app.ts";
import { simulatedMacs } from "../../src/sources.ts";
import { setMeterName } from "../../src/store/meter_names.ts";
import { usagePointIdFor } from "../../src/store/usage_points.ts";
import { simulatedGateway, waitFor } from "../export/fixtures.ts";

const DMD = "/espi/1_1/resource/Batch/RetailCustomer/1/UsagePoint";
const HOUR_MS = 3_600_000;

/** The body as sent: `Response.text()` would drop the byte order mark. */
async function bodyText(response: Response): Promise<string> {
  return new TextDecoder("utf-8", { ignoreBOM: true }).decode(await response.arrayBuffer());
}

/** RFC 4180 records (quoted fields, doubled quotes, CRLF), after the byte order mark. */
function parseCsv(text: string): string[][] {
  assert.ok(text.startsWith("\uFEFF"), "a byte order mark for Excel");
  assert.ok(text.endsWith("\r\n"));
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let i = 1;
  while (i < text.length) {
    const c = text[i];
    if (c === '"' && field === "") {
      const end = text.indexOf('"', i + 1);
      let j = i + 1;
      let quoted = "";
      let close = end;
      while (text[close + 1] === '"') {
        quoted += text.slice(j, close + 1);
        j = close + 2;
        close = text.indexOf('"', j);
      }
      field = quoted + text.slice(j, close);
      i = close + 1;
      assert.ok(text[i] === "," || text[i] === "\r", `quoted field ends at ${i}`);
      continue;
    }
    if (c === ",") {
      record.push(field);
      field = "";
    } else if (c === "\r") {
      assert.equal(text[i + 1], "\n", "CRLF line ends");
      record.push(field);
      records.push(record);
      record = [];
      field = "";
      i++;
    } else field += c;
    i++;
  }
  return records;
}

Deno.test("spreadsheet download: the owner's CSV rows are the store's, under Download My Data's rule", async () => {
  const sim = await simulatedGateway({
    meters: 2,
    speed: 600,
    intervalMinutes: 5,
    backfillHours: 3,
  });
  let nowMs = Date.now();
  const http = createHttpApp({
    hostname: "127.0.0.1",
    port: 0,
    services: {
      db: sim.db,
      nowMs: () => nowMs,
      publicBaseUrl: "",
      timeZone: "Europe/Berlin",
      secure: false,
    },
    auth: true,
    espi: true,
  });
  const [keyA, keyB] = [0, 1].map((i) => simulatedMacs(i).meterMac);
  const count = (sql: string, ...params: (string | number)[]) =>
    (sim.db.prepare(sql).get(...params) as { n: number }).n;
  try {
    await waitFor(
      "priced intervals of both meters",
      () =>
        [keyA, keyB].every((key) =>
          count("SELECT count(*) AS n FROM intervals WHERE meter_key = ?", key) >= 24 &&
          count("SELECT count(*) AS n FROM prices WHERE meter_key = ?", key) >= 1
        ),
      30_000,
    );
    await sim.stop();
    setMeterName(sim.db, keyA, 'Garage, "old"');
    setMeterName(sim.db, keyB, "=HYPERLINK(1)");
    const [idA, idB] = [keyA, keyB].map((key) => usagePointIdFor(sim.db, key));
    // The clock just after the newest reading (the simulation runs ahead of the wall clock).
    // Every meter's newest reading of any kind: under load one simulated meter's clock can run
    // ahead of the other's, and its intervals must not fall after the window.
    nowMs = Math.max(
      count("SELECT max(ts_ms) AS n FROM demand"),
      count("SELECT max(start_ms + duration_s * 1000) AS n FROM intervals"),
    ) + 60_000;
    const cookie = `${SESSION_COOKIE}=${createSession(sim.db, { nowMs, secure: false }).sessionId}`;
    const get = (path: string, headers: Record<string, string> = { Cookie: cookie }) =>
      fetch(`${http.url}${path}`, { headers });

    // Intervals: every stored interval of the window, with its cost from the price in effect.
    const response = await get("/download/intervals.csv");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/csv; charset=utf-8; header=present");
    assert.equal(
      response.headers.get("content-disposition"),
      'attachment; filename="openseg-intervals.csv"',
    );
    const text = await bodyText(response);
    const [header, ...rows] = parseCsv(text);
    assert.deepEqual(header, [
      "meter_id",
      "meter_name",
      "start_utc",
      "end_utc",
      "start_local",
      "duration_s",
      "delivered_wh",
      "received_wh",
      "cost",
      "currency",
      "quality",
    ]);
    assert.match(text, /^\uFEFF[^\r]*\r\n[^\r]*,"Garage, ""old""",/m);
    for (const [id, key, name] of [[idA, keyA, 'Garage, "old"'], [idB, keyB, "'=HYPERLINK(1)"]]) {
      const stored = sim.db.prepare(
        `SELECT i.start_ms AS startMs, i.duration_s AS durationS, i.delivered_wh AS deliveredWh,
           i.received_wh AS receivedWh,
           (SELECT p.price_per_kwh FROM prices p WHERE p.meter_key = i.meter_key
              AND p.ts_ms <= i.start_ms ORDER BY p.ts_ms DESC LIMIT 1) AS price
         FROM intervals i WHERE i.meter_key = ? AND i.start_ms >= ? ORDER BY i.start_ms`,
      ).all(key, nowMs - 48 * HOUR_MS) as {
        startMs: number;
        durationS: number;
        deliveredWh: number;
        receivedWh: number;
        price: number | null;
      }[];
      const mine = rows.filter((row) => row[0] === id);
      assert.equal(
        mine.length,
        stored.length,
        `meter ${key}: CSV rows ${mine.length}, stored ${stored.length} ` +
          `(${stored[0]?.startMs}..${stored.at(-1)?.startMs}), now ${nowMs}, ` +
          `CSV meters ${[...new Set(rows.map((row) => row[0]))].join(" ")}, want ${id}`,
      );
      assert.ok(mine.length >= 24);
      mine.forEach((row, i) => {
        const want = stored[i];
        assert.equal(row[1], name);
        assert.equal(row[2], new Date(want.startMs).toISOString().replace(".000Z", "Z"));
        assert.equal(
          row[3],
          new Date(want.startMs + want.durationS * 1000).toISOString().replace(".000Z", "Z"),
        );
        assert.equal(Number(row[5]), want.durationS);
        assert.equal(Number(row[6]), want.deliveredWh);
        assert.equal(Number(row[7]), want.receivedWh);
        if (want.price === null) assert.equal(row[8], "");
        else assert.ok(Math.abs(Number(row[8]) - want.deliveredWh * want.price / 1000) < 1e-4);
        assert.equal(row[10], "valid");
      });
    }
    // Local time: Berlin is UTC+1 in winter and UTC+2 in summer.
    const [first] = rows;
    const offsetH = (Date.parse(first[4].replace(" ", "T") + "Z") - Date.parse(first[2])) / HOUR_MS;
    assert.ok(offsetH === 1 || offsetH === 2, first.join(","));
    assert.match(first[4], /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);

    // Demand per minute: the 1-minute rollup of each meter.
    const demand = parseCsv(await bodyText(await get(`/download/demand.csv?meter=${idA}`)));
    assert.deepEqual(demand[0], [
      "meter_id",
      "meter_name",
      "minute_start_utc",
      "minute_start_local",
      "avg_demand_w",
      "min_demand_w",
      "max_demand_w",
      "samples",
    ]);
    const cells = sim.db.prepare(
      `SELECT bucket_ms AS t, sum_w * 1.0 / n AS avgW, min_w AS minW, max_w AS maxW, n
       FROM demand_rollup WHERE meter_key = ? AND bucket_min = 1 AND bucket_ms >= ?
       ORDER BY bucket_ms`,
    ).all(keyA, nowMs - 48 * HOUR_MS) as {
      t: number;
      avgW: number;
      minW: number;
      maxW: number;
      n: number;
    }[];
    assert.ok(cells.length > 60);
    assert.equal(demand.length - 1, cells.length);
    demand.slice(1).forEach((row, i) => {
      assert.equal(row[0], idA, "only the meter asked for");
      assert.equal(Date.parse(row[2]), cells[i].t);
      assert.ok(Math.abs(Number(row[4]) - cells[i].avgW) <= 0.0501, row.join());
      assert.deepEqual(row.slice(5).map(Number), [cells[i].minW, cells[i].maxW, cells[i].n]);
    });

    // 48 hours only: with the clock 47 h on, only the newest hour of meter A's rows is left.
    const newestMs = nowMs;
    nowMs = newestMs + 47 * HOUR_MS;
    const laterSession = createSession(sim.db, { nowMs, secure: false }).sessionId;
    const late = parseCsv(
      await bodyText(
        await get(`/download/demand.csv?meter=${idA}`, {
          Cookie: `${SESSION_COOKIE}=${laterSession}`,
        }),
      ),
    ).slice(1);
    assert.ok(late.length > 0 && late.length < cells.length, `${late.length} of ${cells.length}`);
    // (The first minute is the whole minute the window starts in.)
    const windowStartMs = Math.floor((nowMs - 48 * HOUR_MS) / 60_000) * 60_000;
    assert.ok(late.every((row) => Date.parse(row[2]) >= windowStartMs));
    nowMs = newestMs;

    // No session: refused as Download My Data refuses it.
    const dmdAnonymous = await get(DMD, {});
    await dmdAnonymous.body?.cancel();
    for (const path of ["/download/intervals.csv", "/download/demand.csv?meter=x"]) {
      const anonymous = await get(path, {});
      assert.equal(anonymous.status, dmdAnonymous.status);
      assert.equal(anonymous.status, 401);
      assert.equal(
        anonymous.headers.get("www-authenticate"),
        dmdAnonymous.headers.get("www-authenticate"),
      );
      assert.equal((await anonymous.json()).error, "invalid_token");
    }
    const stale = await get("/download/intervals.csv", { Cookie: `${SESSION_COOKIE}=forged` });
    assert.equal(stale.status, 401);
    await stale.body?.cancel();

    // An app's access token, even one granted this meter: Download My Data is the owner's.
    const { app } = registerApp(sim.db, {
      name: "Energy Coach",
      redirectUris: ["https://app.example/callback"],
      scopes: ["FB=1_3_4_5_13_14_39;IntervalDuration=900"],
      nowMs,
    });
    const authorization = createAuthorization(sim.db, {
      clientId: app.clientId,
      scope: "FB=1_3_4_5_13_14_39;IntervalDuration=900",
      usagePointIds: [idA],
      householdId: 1,
      nowMs,
    });
    const { token } = mintToken(sim.db, {
      kind: "access",
      clientId: app.clientId,
      authorizationId: authorization.authorizationId,
      expiresInS: ACCESS_TOKEN_EXPIRES_IN_S,
      nowMs,
    });
    const bearer = { Authorization: `Bearer ${token}` };
    const dmdApp = await get(DMD, bearer);
    await dmdApp.body?.cancel();
    const csvApp = await get("/download/intervals.csv", bearer);
    assert.equal(csvApp.status, dmdApp.status);
    assert.equal(csvApp.status, 403);
    assert.doesNotMatch(await csvApp.text(), /delivered_wh/);

    // Hostile query parameters: a clear 400, never a file.
    for (
      const query of [
        "?from=0",
        `?meter=${idA}&meter=${idB}`,
        "?meter=../../etc/passwd",
        `?meter=${"a".repeat(5000)}`,
        "?meter=",
        `?meter=${idA}&limit=1000000000`,
        "?%00=1",
      ]
    ) {
      const bad = await get(`/download/intervals.csv${query}`);
      assert.equal(bad.status, 400, query);
      assert.equal((await bad.json()).error, "invalid_request", query);
    }
    // A meter id that is not the owner's: as if it did not exist.
    const unknown = await get("/download/demand.csv?meter=AAAAAAAAAAAAAAAAAAAAAAAA");
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error, "not_found");
  } finally {
    await http.shutdown();
    await sim.close();
  }
});
