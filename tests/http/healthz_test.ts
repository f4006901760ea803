/**
 * `/healthz` over the real HTTP server with a gateway reading a scripted stick on a pseudo-terminal:
 * ok while the link is connected, degraded (503) with the reason after an unplug, ok again after a
 * replug. A failing store flush (a read-only connection standing in for a full disk) degrades it
 * until the retry commits; the other reasons (meter not joined, broker down) use plain getters.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startGateway } from "../../src/gateway.ts";
import { anonymousHealthReport, healthReport, type HealthzOptions } from "../../src/app/healthz.ts";
import { createSession, SESSION_COOKIE } from "../../src/auth/sessions.ts";
import { createHttpApp } from "../../src/app/http_app.ts";
import { openDatabase } from "../../src/store/db.ts";
import { countRows, demandFragment, ScriptedPort, waitFor } from "../e2e/helpers.ts";

const METER = "0x0013500100e2e001";

Deno.test("/healthz: ok while connected, degraded after unplug, ok after replug", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-healthz-" });
  const db = openDatabase(`${dir}/gateway.db`);
  const device = new ScriptedPort();
  const gateway = startGateway({
    db,
    ports: [device.source],
    retentionHours: 48,
    intervalMinutes: 5,
    pollSeconds: 3600,
  });
  const http = createHttpApp({
    hostname: "127.0.0.1",
    port: 0,
    services: { db, nowMs: Date.now, publicBaseUrl: "", timeZone: "UTC", secure: false },
    healthz: { links: () => gateway.supervisors, store: gateway.storeErrors },
  });
  const session = createSession(db, { nowMs: Date.now(), secure: false });
  const owner = { Cookie: `${SESSION_COOKIE}=${session.sessionId}` };
  const healthz = async (headers: Record<string, string> = owner) => {
    const response = await fetch(`${http.url}/healthz`, { headers });
    return { status: response.status, body: await response.json() };
  };
  const link = gateway.supervisors[0];
  let i = 0;
  const sendDemand = () =>
    device.write(demandFragment(METER, Date.UTC(2025, 0, 1) + i++ * 8000, 900));
  try {
    await sendDemand();
    await waitFor("connected", () => link.state === "connected");
    const ok = await healthz();
    assert.equal(ok.status, 200);
    assert.equal(ok.body.status, "ok");
    assert.deepEqual(ok.body.problems, []);
    assert.deepEqual(ok.body.links, [{ port: "scripted", state: "connected", meters: [] }]);
    assert.equal(ok.body.mqtt, null);
    assert.equal(ok.body.store.failing, false);

    await device.unplug();
    await waitFor("disconnected", () => link.state === "disconnected");
    const degraded = await healthz();
    assert.equal(degraded.status, 503);
    assert.equal(degraded.body.status, "degraded");
    assert.match(degraded.body.problems[0], /^radio scripted is (disconnected|connecting)$/);
    assert.notEqual(degraded.body.links[0].state, "connected");
    // Anonymous callers get the status and reasons, never ports or meter identifiers.
    const anonymous = await healthz({});
    assert.equal(anonymous.status, 503);
    assert.deepEqual(Object.keys(anonymous.body), ["status", "problems"]);
    assert.match(anonymous.body.problems[0], /^a radio is (disconnected|connecting)$/);

    device.replug();
    await waitFor("reopened", () => link.reconnects === 1, 8000);
    await sendDemand();
    await waitFor("connected again", () => link.state === "connected");
    const again = await healthz();
    assert.equal(again.status, 200);
    assert.equal(again.body.status, "ok");
  } finally {
    await http.shutdown();
    await gateway.stop();
    await device.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gateway store errors: failing while flushes fail, recovered by the next commit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-healthz-" });
  const db = openDatabase(`${dir}/gateway.db`);
  const device = new ScriptedPort();
  const errors: unknown[] = [];
  const gateway = startGateway({
    db,
    ports: [device.source],
    retentionHours: 48,
    intervalMinutes: 5,
    pollSeconds: 3600,
    onStoreError: (error) => errors.push(error),
  });
  const report = () => healthReport({ links: () => [], store: gateway.storeErrors });
  const sendDemand = (i: number) =>
    device.write(demandFragment(METER, Date.UTC(2025, 0, 1) + i * 8000, 900));
  try {
    await device.announceMeter(METER);
    await sendDemand(0);
    await waitFor("first commit", () => countRows(db, "demand") === 1);
    assert.equal(report().status, "ok");

    // A read-only connection fails every write, as a full disk would.
    db.exec("PRAGMA query_only = ON");
    await sendDemand(1);
    await waitFor("a failed flush", () => errors.length > 0);
    const failing = report();
    assert.equal(failing.status, "degraded");
    assert.match(failing.problems[0], /^store flush failing: .*readonly/);
    assert.equal(failing.store.failing, true);

    db.exec("PRAGMA query_only = OFF");
    await waitFor("the retried commit", () => countRows(db, "demand") === 2);
    const recovered = report();
    assert.equal(recovered.status, "ok");
    assert.equal(recovered.store.failing, false);
    assert.ok(recovered.store.count >= 1);
  } finally {
    await gateway.stop();
    await device.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("healthReport: meter not joined, broker down and failing store are reasons", () => {
  const options: HealthzOptions = {
    links: () => [{
      port: "/dev/ttyACM0",
      state: "connected",
      meters: [{
        meter: METER,
        status: "Rejoining",
        connected: false,
        linkStrengthPercent: null,
        updatedMs: 0,
      }],
    }],
    mqtt: () => ({
      connected: false,
      reconnects: 0,
      lastError: "connection refused",
      intervalsSent: 0,
    }),
    store: () => ({
      count: 3,
      lastError: "database or disk is full",
      lastErrorMs: 5,
      failing: true,
    }),
  };
  const report = healthReport(options);
  assert.equal(report.status, "degraded");
  assert.deepEqual(report.problems, [
    `meter ${METER} on /dev/ttyACM0 is not joined (Rejoining)`,
    "MQTT broker down: connection refused",
    "store flush failing: database or disk is full",
  ]);
  assert.deepEqual(report.links[0].meters, [{ meter: METER, status: "Rejoining", joined: false }]);
  assert.deepEqual(report.mqtt, { connected: false, lastError: "connection refused" });
  assert.deepEqual(anonymousHealthReport(options), {
    status: "degraded",
    problems: ["a meter is not joined (Rejoining)", "MQTT broker down", "store flush failing"],
  });

  const healthy = healthReport({
    links: () => [],
    mqtt: () => ({ connected: true, reconnects: 1, lastError: null, intervalsSent: 9 }),
    store: () => ({
      count: 3,
      lastError: "database or disk is full",
      lastErrorMs: 5,
      failing: false,
    }),
  });
  assert.equal(healthy.status, "ok");
  assert.equal(healthy.store.count, 3);
});
