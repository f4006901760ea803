/**
 * The dashboard's wording of power, energy, money, ages and the cost of the current load.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  costPerHour,
  formatAge,
  formatEnergy,
  formatMoney,
  formatPower,
} from "../../src/web/format.ts";

Deno.test("power is W below a kilowatt, kW above, without a sign", () => {
  assert.deepEqual([0, 850.4, -999, 1000, -2345, 12_345].map(formatPower), [
    "0 W",
    "850 W",
    "999 W",
    "1.00 kW",
    "2.35 kW",
    "12.3 kW",
  ]);
});

Deno.test("energy is kWh", () => {
  assert.equal(formatEnergy(5360), "5.36 kWh");
  assert.equal(formatEnergy(34_900), "34.9 kWh");
});

Deno.test("money uses the meter's currency, and survives an unknown code", () => {
  assert.match(formatMoney(0.62, "USD"), /0\.62/);
  assert.equal(formatMoney(1.5, "???"), "1.50 ???");
  assert.equal(formatMoney(0.1324, null, 3), "0.132");
});

Deno.test("ages read naturally", () => {
  assert.deepEqual([0, 42_000, 5 * 60_000, 3 * 3_600_000].map(formatAge), [
    "just now",
    "42 s ago",
    "5 min ago",
    "3 h ago",
  ]);
});

Deno.test("the current load costs demand × rate per hour; exporting buys nothing", () => {
  assert.equal(costPerHour(2000, 0.132), 0.264);
  assert.equal(costPerHour(-1500, 0.132), 0);
});
