import assert from "node:assert/strict";
import { IngestWriter } from "../../src/store/ingest.ts";
import { setMeterName } from "../../src/store/meter_names.ts";
import { listMeters } from "../../src/store/queries.ts";
import { METER_A, meterInfo, PORT, tempDatabase } from "./fixtures.ts";

Deno.test("the radio's nickname names a meter until the owner renames it; then the owner's wins", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db);
    writer.add(PORT, meterInfo(METER_A, "House"), 1);
    writer.flush();
    assert.equal(listMeters(db)[0].name, "House");

    assert.ok(setMeterName(db, METER_A, "Flat 2B"));
    writer.add(PORT, meterInfo(METER_A, "House"), 2);
    writer.flush();
    assert.equal(listMeters(db)[0].name, "Flat 2B");
    writer.close();
  } finally {
    await cleanup();
  }
});
