/**
 * A 48-hour `Batch/Subscription` feed for one meter at 5-minute intervals (576 energy readings,
 * plus demand and register readings of the same intervals), against `JSON.stringify` of the same
 * stored readings in the same run (the group baseline, so `deno bench` prints the ratio).
 *
 * @module
 */

import { dispatchEspi } from "../src/espi/routes.ts";
import { intervalSeries } from "../src/store/queries.ts";
import {
  accessCaller,
  END_MS,
  espiFixture,
  get,
  PLAIN_METER,
  START_MS,
} from "../tests/espi/fixtures.ts";

const fixture = await espiFixture();
const services = fixture.services();
const caller = accessCaller("sub-a", [fixture.plainUsagePointId]);
const request = () => get("Batch/Subscription/sub-a");
const window = { meterKey: PLAIN_METER, fromMs: START_MS, toMs: END_MS };
const readings = intervalSeries(fixture.db, window);
// Warm-up outside the timings: statement compilation and the time-zone rule cache.
await dispatchEspi(request(), services, caller).text();

Deno.bench({
  name: `JSON.stringify of the ${readings.length} stored interval readings`,
  group: "espi-feed",
  baseline: true,
  fn: () => {
    JSON.stringify(readings);
  },
});

Deno.bench({
  name: "store read + JSON.stringify of the same readings",
  group: "espi-feed",
  fn: () => {
    JSON.stringify(intervalSeries(fixture.db, window));
  },
});

Deno.bench({
  name: "Batch/Subscription feed, 48 h at 5 min (store read + Atom/ESPI XML)",
  group: "espi-feed",
  fn: async () => {
    await dispatchEspi(request(), services, caller).text();
  },
});

globalThis.addEventListener("unload", () => {
  fixture.db.close();
  Deno.removeSync(fixture.dir, { recursive: true });
});
