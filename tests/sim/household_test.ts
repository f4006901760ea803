/**
 * Tests for the simulated household: determinism, register consistency, solar export, prices.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHousehold } from "../../src/sim/household.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** 2024-06-03T00:00:00Z, a Monday. */
const MIDNIGHT_MS = Date.UTC(2024, 5, 3);

Deno.test("household: the same seed gives the same demand, prices and messages", () => {
  const a = createHousehold({ seed: 42, solar: true });
  const b = createHousehold({ seed: 42, solar: true });
  const c = createHousehold({ seed: 43, solar: true });
  let differs = false;
  for (let t = MIDNIGHT_MS; t < MIDNIGHT_MS + 2 * DAY_MS; t += 37_000) {
    assert.equal(a.demandW(t), b.demandW(t));
    assert.deepEqual(a.priceAt(t), b.priceAt(t));
    assert.deepEqual(a.messageAt(t), b.messageAt(t));
    assert.ok(Number.isInteger(a.demandW(t)));
    differs ||= a.demandW(t) !== c.demandW(t);
  }
  assert.ok(differs, "another seed is another home");
});

Deno.test("household: registers do not depend on how often they are advanced", () => {
  const start = MIDNIGHT_MS + 5 * HOUR_MS;
  const coarse = createHousehold({ seed: 7, solar: true, startTimeMs: start });
  const fine = createHousehold({ seed: 7, solar: true, startTimeMs: start });
  for (let t = start; t <= start + 10 * HOUR_MS; t += 1234) fine.advanceTo(t);
  const end = start + 10 * HOUR_MS;
  assert.deepEqual(fine.advanceTo(end), coarse.advanceTo(end));
});

Deno.test("household: registers are monotonic and match the integral of demand within 1 %", () => {
  const start = MIDNIGHT_MS;
  const household = createHousehold({ seed: 3, solar: true, startTimeMs: start });
  const origin = household.registers;
  let previous = origin;
  let importWh = 0;
  let exportWh = 0;
  const stepMs = 10_000;
  for (let t = start; t < start + 2 * DAY_MS; t += stepMs) {
    // Independent estimate: sample demand every 10 s (the model changes once per second).
    const demand = household.demandW(t + stepMs / 2);
    if (demand > 0) importWh += (demand * stepMs) / HOUR_MS;
    else exportWh -= (demand * stepMs) / HOUR_MS;
    const now = household.advanceTo(t + stepMs);
    assert.ok(now.summationDeliveredWh >= previous.summationDeliveredWh);
    assert.ok(now.summationReceivedWh >= previous.summationReceivedWh);
    previous = now;
  }
  const deliveredWh = previous.summationDeliveredWh - origin.summationDeliveredWh;
  const receivedWh = previous.summationReceivedWh - origin.summationReceivedWh;
  assert.ok(deliveredWh > 5000, `a home imports more than 5 kWh in 2 days, got ${deliveredWh}`);
  assert.ok(receivedWh > 1000, `solar exports more than 1 kWh in 2 days, got ${receivedWh}`);
  assert.ok(Math.abs(deliveredWh - importWh) / importWh < 0.01, `${deliveredWh} vs ${importWh}`);
  assert.ok(Math.abs(receivedWh - exportWh) / exportWh < 0.01, `${receivedWh} vs ${exportWh}`);
});

Deno.test("household: solar exports at midday, never at night", () => {
  const household = createHousehold({ seed: 11, solar: true, startTimeMs: MIDNIGHT_MS });
  let exportingMiddays = 0;
  for (let day = 0; day < 7; day++) {
    const dayStart = MIDNIGHT_MS + day * DAY_MS;
    for (let t = dayStart; t < dayStart + 5 * HOUR_MS; t += 60_000) {
      assert.ok(household.demandW(t) > 0, `night demand at ${new Date(t).toISOString()}`);
    }
    const noon = dayStart + 12 * HOUR_MS;
    if (household.demandW(noon) < 0) exportingMiddays++;
    const before = household.advanceTo(noon - HOUR_MS).summationReceivedWh;
    const after = household.advanceTo(noon + HOUR_MS).summationReceivedWh;
    if (household.demandW(noon) < 0) assert.ok(after > before, "received register rises");
  }
  assert.ok(exportingMiddays >= 3, `exporting middays: ${exportingMiddays} of 7`);

  const noSolar = createHousehold({ seed: 11 });
  for (let t = MIDNIGHT_MS; t < MIDNIGHT_MS + 7 * DAY_MS; t += 60_000) {
    assert.ok(noSolar.demandW(t) > 0);
  }
  assert.equal(noSolar.advanceTo(MIDNIGHT_MS + 7 * DAY_MS).summationReceivedWh, 0);
});

Deno.test("household: time-of-use tiers follow the local time of day", () => {
  const household = createHousehold({ seed: 1 });
  const at = (hour: number) => household.priceAt(MIDNIGHT_MS + hour * HOUR_MS);
  assert.equal(at(3).tier, 1);
  assert.equal(at(3).label, "Off-Peak");
  assert.equal(at(10).tier, 2);
  assert.equal(at(17).tier, 3);
  assert.ok(at(17).pricePerKWh > at(10).pricePerKWh && at(10).pricePerKWh > at(3).pricePerKWh);
  assert.equal(at(17).startTimeMs, MIDNIGHT_MS + 16 * HOUR_MS);
  assert.equal(at(17).endTimeMs, MIDNIGHT_MS + 20 * HOUR_MS);
  assert.equal(at(17).currencyCode, 840);

  // UTC−7: 17:00 local is 00:00 UTC the next day.
  const west = createHousehold({ seed: 1, utcOffsetMinutes: -7 * 60 });
  assert.equal(west.priceAt(MIDNIGHT_MS + DAY_MS).tier, 3);
});

Deno.test("household: messages come and go, some needing confirmation", () => {
  const household = createHousehold({ seed: 5, messageEveryHours: 6 });
  const ids = new Set<number>();
  let needingConfirmation = 0;
  for (let t = MIDNIGHT_MS; t < MIDNIGHT_MS + 10 * DAY_MS; t += 60_000) {
    const message = household.messageAt(t);
    if (!message || ids.has(message.id)) continue;
    ids.add(message.id);
    if (message.confirmationRequired) needingConfirmation++;
    assert.ok(
      t >= message.startTimeMs && t < message.startTimeMs + message.durationMinutes * 60_000,
    );
  }
  assert.equal(ids.size, 40, "one message per 6 h");
  assert.ok(needingConfirmation > 0 && needingConfirmation < ids.size);
});

Deno.test("household: every message asks for confirmation when told to, with the same texts", () => {
  const usual = createHousehold({ seed: 5, messageEveryHours: 6 });
  const asking = createHousehold({
    seed: 5,
    messageEveryHours: 6,
    everyMessageAsksConfirmation: true,
  });
  let messages = 0;
  for (let t = MIDNIGHT_MS; t < MIDNIGHT_MS + 10 * DAY_MS; t += 60_000) {
    const message = asking.messageAt(t);
    if (!message) continue;
    messages++;
    assert.equal(message.confirmationRequired, true);
    assert.deepEqual({ ...message, confirmationRequired: false }, {
      ...usual.messageAt(t)!,
      confirmationRequired: false,
    });
  }
  assert.ok(messages > 0);
});

Deno.test("household: closed intervals add up to the register, newest first", () => {
  const start = MIDNIGHT_MS;
  const household = createHousehold({ seed: 9, startTimeMs: start });
  household.advanceTo(start + 3 * HOUR_MS + 60_000);
  const intervals = household.intervals({ count: 12 });
  assert.equal(intervals.length, 12);
  assert.equal(intervals[0].endTimeMs, start + 3 * HOUR_MS);
  assert.equal(intervals[11].endTimeMs, start + 15 * 60_000);
  const twin = createHousehold({ seed: 9, startTimeMs: start });
  const from = Math.floor(twin.advanceTo(start + 15 * 60_000).summationDeliveredWh);
  const to = Math.floor(twin.advanceTo(start + 3 * HOUR_MS).summationDeliveredWh);
  const sum = intervals.slice(0, 11).reduce((total, interval) => total + interval.deliveredWh, 0);
  assert.equal(sum, to - from);
  assert.deepEqual(
    household.intervals({ count: 2, endTimeMs: start + HOUR_MS }).map((i) => i.endTimeMs),
    [
      start + HOUR_MS,
      start + 45 * 60_000,
    ],
  );
});
