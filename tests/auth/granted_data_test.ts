/**
 * The function block table: which kinds of data a scope grants (any one block suffices), how a
 * refusal names the blocks, and the consent page's "Which data" line built from the same table.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DEFAULT_APP_SCOPE } from "../../src/auth/apps.ts";
import { functionBlocksInWords, grantedData } from "../../src/auth/granted_data.ts";
import { describeScope, parseScope } from "../../src/auth/scope.ts";

const kinds = (fb: string) => [...grantedData(parseScope(`FB=${fb}`))];

Deno.test("any one of a kind's function blocks grants it", () => {
  assert.deepEqual(kinds("1_3_4_5_13_14_39"), ["METER_INFO", "INTERVAL_ENERGY"]);
  assert.deepEqual(kinds("5"), ["INTERVAL_ENERGY"]);
  assert.deepEqual(kinds("6"), ["DEMAND", "PEAK_DEMAND"]);
  assert.deepEqual(kinds("7"), ["EXPORTED_ENERGY"]);
  assert.deepEqual(kinds("9"), ["REGISTERS"]);
  assert.deepEqual(kinds("16"), ["COST", "USAGE_SUMMARY"]);
  assert.deepEqual(kinds("20"), ["USAGE_SUMMARY", "PEAK_DEMAND"]);
  assert.deepEqual(kinds("3_13_14_39"), []);
  assert.deepEqual([...grantedData(parseScope(DEFAULT_APP_SCOPE))], [
    "METER_INFO",
    "INTERVAL_ENERGY",
    "COST",
    "USAGE_SUMMARY",
  ]);
  assert.equal(functionBlocksInWords("DEMAND"), "ESPI function block 6");
  assert.equal(functionBlocksInWords("COST"), "ESPI function blocks 12 or 16");
  assert.equal(functionBlocksInWords("USAGE_SUMMARY"), "ESPI function blocks 15, 16 or 20");
});

Deno.test("the consent page lists the data the grant includes, and how it is shared", () => {
  const narrow = describeScope(parseScope("FB=1_3_4_5_13_14_39;HistoryLength=3600"));
  assert.equal(
    narrow[0],
    "Which data: basic meter information; electricity use per time interval.",
  );
  assert.equal(
    narrow.at(-1),
    "How it is shared: ongoing automatic access (Connect My Data); " +
      "notification when new data arrives.",
  );
  assert.equal(
    describeScope(parseScope("FB=4_6_8_12"))[0],
    "Which data: electricity use per time interval; power demand; energy sent to the grid; " +
      "prices and costs; peak demand.",
  );
  assert.equal(
    describeScope(parseScope("FB=3_39"))[0],
    "Which data: no meter data, only the authorization itself.",
  );
});
