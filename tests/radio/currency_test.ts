/**
 * One currency table: a Swedish meter's price (decoder → `Price.currency`) and its interval costs
 * and usage (`currencyName` in the GraphQL series) both say "SEK", not one "SEK" and one "752".
 *
 * @module
 */

import assert from "node:assert/strict";
import { currencyName } from "../../src/graphql/series.ts";
import { currencyAlpha } from "../../src/radio/currency.ts";
import { decodeFragment } from "../../src/radio/raven/decode.ts";

/** A PriceCluster of a Swedish meter: Currency 0x02F0 = 752, 1.2345 SEK/kWh. */
const SWEDISH_PRICE = "<PriceCluster><DeviceMacId>0xd8d5b9000000abcd</DeviceMacId>" +
  "<MeterMacId>0x001350010000abcd</MeterMacId><TimeStamp>0x2c1f5e20</TimeStamp>" +
  "<Price>0x00003039</Price><Currency>0x02F0</Currency><TrailingDigits>0x04</TrailingDigits>" +
  "<Tier>0x01</Tier><RateLabel>Block 1</RateLabel></PriceCluster>";

Deno.test("a Swedish price decodes to SEK", () => {
  const result = decodeFragment(SWEDISH_PRICE);
  assert.ok(result.ok, result.ok ? "" : result.error);
  assert.equal(result.event.kind, "price");
  if (result.event.kind !== "price") return;
  assert.equal(result.event.currencyCode, 752);
  assert.equal(result.event.currency, "SEK");
  assert.equal(result.event.pricePerKWh, 1.2345);
});

Deno.test("interval costs and usage of a Swedish meter are in SEK too", () => {
  assert.equal(currencyName(752), "SEK");
  assert.equal(currencyName(null), null);
  // A code outside the table stays visible as its number.
  assert.equal(currencyName(999), "999");
});

Deno.test("the decoder and the series name every currency alike", () => {
  for (let code = 0; code <= 999; code++) {
    const alpha = currencyAlpha(code);
    assert.equal(currencyName(code), alpha ?? String(code), `code ${code}`);
  }
  assert.equal(currencyAlpha(840), "USD");
  assert.equal(currencyAlpha(978), "EUR");
});
