/**
 * ESPI notification against a real receiving `Deno.serve` on 127.0.0.1: a BatchList naming the
 * subscription arrives after new data is committed, a failing receiver is retried until it
 * accepts, a burst is coalesced by the rate limit, and a revoked authorization is not notified.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { registerApp } from "../../src/auth/apps.ts";
import { createAuthorization, revokeAuthorization } from "../../src/auth/authorizations.ts";
import {
  type EspiNotifierOptions,
  notificationBody,
  startEspiNotifier,
} from "../../src/espi/notify.ts";
import { LiveBus } from "../../src/live/bus.ts";
import type { SummationEvent } from "../../src/radio/events.ts";
import { openDatabase } from "../../src/store/db.ts";
import { usagePointIdFor } from "../../src/store/usage_points.ts";
import { EventWrites } from "../../src/store/writes.ts";
import { PLAIN_METER, RESOURCE_URL, SOLAR_METER } from "./fixtures.ts";
import { batchUris, receiver } from "./notify_receiver.ts";

function summation(meter: string, timeMs: number): SummationEvent {
  return {
    fragment: "CurrentSummationDelivered",
    device: "0xd8d5b9000000abcd",
    meter,
    timeMs,
    kind: "summation",
    summationDeliveredWh: timeMs / 1000,
    summationReceivedWh: null,
    digitsRight: 3,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A database with one app notified at `notifyUri`, authorized over both meters separately. */
async function withSetup(
  notifyUri: string,
  test: (setup: {
    db: DatabaseSync;
    bus: LiveBus;
    subscriptions: { solar: string; plain: string };
    solarAuthorizationId: string;
    start: (options?: Partial<EspiNotifierOptions>) => ReturnType<typeof startEspiNotifier>;
    publish: (meter: string) => void;
    logs: string[];
  }) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "openseg-notify-" });
  const db = openDatabase(`${dir}/cache.db`);
  const bus = new LiveBus();
  const logs: string[] = [];
  const notifiers: ReturnType<typeof startEspiNotifier>[] = [];
  try {
    const nowMs = Date.now();
    // The meters as the ingest path stores them (which assigns their usage point ids).
    const writes = new EventWrites(db);
    for (const meter of [SOLAR_METER, PLAIN_METER]) {
      writes.meterSeen(meter, "/dev/ttyACM0", null, nowMs, nowMs);
    }
    const app = registerApp(db, {
      name: "Notified",
      redirectUris: ["https://app.example/callback"],
      notifyUri,
      nowMs,
    });
    // An app without a notify URI, authorized too: it only polls.
    const poller = registerApp(db, { name: "Poller", redirectUris: ["https://p.example/"], nowMs });
    const grant = (clientId: string, meter: string) =>
      createAuthorization(db, {
        clientId,
        scope: app.app.scopes[0],
        usagePointIds: [usagePointIdFor(db, meter)],
        householdId: 1,
        nowMs,
      });
    const solar = grant(app.app.clientId, SOLAR_METER);
    const plain = grant(app.app.clientId, PLAIN_METER);
    grant(poller.app.clientId, SOLAR_METER);
    let timeMs = nowMs;
    await test({
      db,
      bus,
      subscriptions: { solar: solar.subscriptionId, plain: plain.subscriptionId },
      solarAuthorizationId: solar.authorizationId,
      start: (options = {}) => {
        const notifier = startEspiNotifier({
          db,
          bus,
          resourceBaseUrl: RESOURCE_URL,
          log: (line) => logs.push(line),
          ...options,
        });
        notifiers.push(notifier);
        return notifier;
      },
      publish: (meter) => {
        timeMs += 30_000;
        bus.publish({
          type: "stored",
          port: "/dev/ttyACM0",
          meterKey: meter,
          event: summation(meter, timeMs),
          receivedAtMs: timeMs,
        });
      },
      logs,
    });
  } finally {
    for (const notifier of notifiers) await notifier.stop();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("new data is notified to the app as a BatchList naming its subscription", async () => {
  const inbox = receiver();
  try {
    await withSetup(inbox.uri, async ({ subscriptions, start, publish }) => {
      start();
      publish(SOLAR_METER);
      await inbox.waitFor(1);
      const [notification] = inbox.received;
      assert.equal(notification.contentType, "application/atom+xml");
      assert.match(
        notification.body,
        /^<\?xml version="1.0" encoding="UTF-8"\?>\n<espi:BatchList /,
      );
      // The same document validate_test.ts checks against the ESPI 4.0 schema.
      assert.equal(
        notification.body,
        notificationBody([`${RESOURCE_URL}/Batch/Subscription/${subscriptions.solar}`]),
      );
    });
  } finally {
    await inbox.close();
  }
});

Deno.test("an event naming no stored meter (device-level) notifies nobody and writes nothing", async () => {
  const inbox = receiver();
  try {
    await withSetup(inbox.uri, async ({ db, start, publish, logs }) => {
      start();
      const usagePoints = () =>
        (db.prepare("SELECT count(*) AS n FROM usage_points").get() as { n: number }).n;
      const before = usagePoints();
      publish("0x00135003ffffffff");
      publish(SOLAR_METER);
      await inbox.waitFor(1);
      await sleep(200);
      assert.equal(inbox.received.length, 1);
      assert.deepEqual(logs, []);
      assert.equal(usagePoints(), before, "no usage point for a meter never stored");
    });
  } finally {
    await inbox.close();
  }
});

Deno.test("a failing receiver is retried with backoff until it accepts", async () => {
  const inbox = receiver((n) => (n < 2 ? 500 : 200));
  try {
    await withSetup(inbox.uri, async ({ start, publish, logs }) => {
      start({ firstRetryDelayMs: 100 });
      publish(SOLAR_METER);
      await inbox.waitFor(3);
      const [first, second, third] = inbox.received;
      assert.equal(second.body, first.body);
      assert.equal(third.body, first.body);
      // Backoff doubles: ≥ 100 ms, then ≥ 200 ms.
      assert.ok(second.atMs - first.atMs >= 90, `${second.atMs - first.atMs} ms`);
      assert.ok(third.atMs - second.atMs >= 190, `${third.atMs - second.atMs} ms`);
      await sleep(500);
      assert.equal(inbox.received.length, 3);
      assert.deepEqual(logs, []);
    });
  } finally {
    await inbox.close();
  }
});

Deno.test("a receiver that keeps failing is given up on with a log line", async () => {
  const inbox = receiver(() => 503);
  try {
    await withSetup(inbox.uri, async ({ start, publish, logs }) => {
      start({ firstRetryDelayMs: 20, maxAttempts: 3 });
      publish(SOLAR_METER);
      await inbox.waitFor(3);
      await sleep(200);
      assert.equal(inbox.received.length, 3);
      assert.equal(logs.length, 1);
      assert.match(logs[0], /gave up .* after 3 attempt\(s\): HTTP 503/);
    });
  } finally {
    await inbox.close();
  }
});

Deno.test("an unreachable receiver is retried, then given up on", async () => {
  // A port that was free a moment ago: connections are refused.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await withSetup(`http://127.0.0.1:${port}/notify`, async ({ start, publish, logs }) => {
    start({ firstRetryDelayMs: 20, maxAttempts: 2 });
    publish(SOLAR_METER);
    const deadline = Date.now() + 5000;
    while (logs.length === 0 && Date.now() < deadline) await sleep(20);
    assert.equal(logs.length, 1);
    assert.match(logs[0], /gave up notifying app \S+ at http:\/\/127\.0\.0\.1:\d+\/notify after 2/);
  });
});

Deno.test("the rate limit coalesces a burst into one POST per interval", async () => {
  const inbox = receiver();
  try {
    await withSetup(inbox.uri, async ({ subscriptions, start, publish }) => {
      start({ minIntervalMs: 600 });
      publish(SOLAR_METER);
      await inbox.waitFor(1);
      // A burst over both meters while the app was notified moments ago: one POST, once the
      // interval has passed.
      for (let i = 0; i < 5; i++) {
        publish(SOLAR_METER);
        publish(PLAIN_METER);
      }
      await inbox.waitFor(2);
      const [first, second] = inbox.received;
      assert.ok(second.atMs - first.atMs >= 590, `${second.atMs - first.atMs} ms`);
      assert.deepEqual(
        batchUris(second.body).sort(),
        [
          `${RESOURCE_URL}/Batch/Subscription/${subscriptions.plain}`,
          `${RESOURCE_URL}/Batch/Subscription/${subscriptions.solar}`,
        ].sort(),
      );
      await sleep(800);
      assert.equal(inbox.received.length, 2);
    });
  } finally {
    await inbox.close();
  }
});

Deno.test("a revoked authorization is not notified", async () => {
  const inbox = receiver();
  try {
    await withSetup(inbox.uri, async ({ db, start, publish, solarAuthorizationId }) => {
      assert.ok(revokeAuthorization(db, solarAuthorizationId, Date.now()));
      start();
      publish(SOLAR_METER);
      await sleep(300);
      assert.equal(inbox.received.length, 0);
    });
  } finally {
    await inbox.close();
  }
});

Deno.test("a notify URI must be https (http only for localhost)", async () => {
  await withSetup("http://localhost:1/notify", ({ db }) => {
    const nowMs = Date.now();
    const register = (notifyUri: string) =>
      registerApp(db, { name: "X", redirectUris: ["https://x.example/"], notifyUri, nowMs });
    assert.equal(register("https://x.example/notify").app.notifyUri, "https://x.example/notify");
    assert.throws(() => register("http://x.example/notify"), RangeError);
    assert.throws(() => register("ftp://x.example/notify"), RangeError);
    assert.throws(() => register("not a uri"), RangeError);
    return Promise.resolve();
  });
});
