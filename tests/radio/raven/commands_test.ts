/**
 * Command encoding/parsing round trips and the wire format.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { RadioCommand } from "../../../src/radio/commands.ts";
import { encodeCommand, parseCommand } from "../../../src/radio/raven/commands.ts";

const METER = "0x000781000081fd17";
const text = (command: RadioCommand) => new TextDecoder().decode(encodeCommand(command));

const EVERY_COMMAND: RadioCommand[] = [
  { name: "initialize" },
  { name: "restart" },
  { name: "getConnectionStatus" },
  { name: "getDeviceInfo" },
  { name: "getMeterList" },
  { name: "getMeterInfo" },
  { name: "getMeterInfo", meter: METER },
  { name: "getNetworkInfo" },
  { name: "getSchedule" },
  { name: "getSchedule", meter: METER, event: "demand" },
  { name: "setSchedule", event: "summation", frequencyS: 60, enabled: true },
  { name: "setSchedule", meter: METER, event: "price", frequencyS: 0xffffffff, enabled: false },
  { name: "getTime", refresh: true },
  { name: "getMessage", meter: METER },
  { name: "confirmMessage", meter: METER, messageId: "0x02468ace" },
  { name: "getCurrentPrice", refresh: false },
  { name: "setCurrentPrice", price: 315, trailingDigits: 3 },
  { name: "setCurrentPrice", meter: METER, price: 0, trailingDigits: 0 },
  { name: "getInstantaneousDemand", meter: METER, refresh: true },
  { name: "getCurrentSummationDelivered" },
  { name: "getCurrentPeriodUsage", meter: METER },
  { name: "getLastPeriodUsage" },
  { name: "closeCurrentPeriod", meter: METER },
  { name: "setFastPoll", meter: METER, frequencyS: 4, durationS: 900 },
  { name: "getProfileData", numberOfPeriods: 12, channel: "Delivered" },
  {
    name: "getProfileData",
    meter: METER,
    numberOfPeriods: 4,
    endTimeMs: Date.parse("2015-03-09T17:00:00Z"),
    channel: "Received",
  },
  { name: "getProfileData", numberOfPeriods: 1, endTimeMs: 0, channel: "Delivered" },
];

Deno.test("every command encodes and parses back to itself", () => {
  const names = new Set<string>();
  for (const command of EVERY_COMMAND) {
    names.add(command.name);
    assert.deepEqual(parseCommand(text(command)), command, text(command));
  }
  // The list above covers the whole RadioCommand vocabulary.
  assert.equal(names.size, 21);
});

Deno.test("wire format: CR LF lines, two-space indent, lower-case names, 0x hex", () => {
  assert.equal(
    text({ name: "getInstantaneousDemand", meter: METER, refresh: true }),
    "<Command>\r\n  <Name>get_instantaneous_demand</Name>\r\n" +
      `  <MeterMacId>${METER}</MeterMacId>\r\n  <Refresh>Y</Refresh>\r\n</Command>\r\n`,
  );
  assert.equal(
    text({ name: "confirmMessage", messageId: "0x00000001" }),
    "<Command>\r\n  <Name>confirm_message</Name>\r\n  <Id>0x00000001</Id>\r\n</Command>\r\n",
  );
  const profile = text({
    name: "getProfileData",
    numberOfPeriods: 4,
    endTimeMs: Date.parse("2015-03-09T17:00:00Z"),
    channel: "Delivered",
  });
  assert.match(profile, /<NumberOfPeriods>0x04<\/NumberOfPeriods>/);
  assert.match(profile, /<EndTime>0x1c908e10<\/EndTime>/);
  assert.ok(
    text({ name: "setFastPoll", frequencyS: 4, durationS: 900 }).includes(
      "<Frequency>0x0004</Frequency>\r\n  <Duration>0x0384</Duration>",
    ),
  );
  for (const byte of encodeCommand({ name: "setCurrentPrice", price: 315, trailingDigits: 3 })) {
    assert.ok(byte < 0x80);
  }
});

Deno.test("values that cannot be written are refused", () => {
  assert.throws(() => encodeCommand({ name: "getTime", meter: "house" }), RangeError);
  assert.throws(
    () => encodeCommand({ name: "setFastPoll", frequencyS: -1, durationS: 1 }),
    RangeError,
  );
  assert.throws(
    () => encodeCommand({ name: "setCurrentPrice", price: 0.315, trailingDigits: 3 }),
    RangeError,
  );
  assert.throws(
    () => encodeCommand({ name: "confirmMessage", messageId: "<x>" }),
    RangeError,
  );
});

Deno.test("parsing is case-insensitive and tolerates the device's own sloppiness", () => {
  assert.deepEqual(
    parseCommand("<command><name>GET_TIME</NAME><refresh>y</refresh></command>"),
    { name: "getTime", refresh: true },
  );
  // Rainforest's own sample mixes <Name>…</name>.
  assert.deepEqual(
    parseCommand("<Command>\n  <Name>get_schedule</name>\n  <Event>Demand</Event>\n</Command>"),
    { name: "getSchedule", event: "demand" },
  );
  assert.deepEqual(
    parseCommand(
      "<Command><Name>get_profile_data</Name><NumberOfPeriods>0x2</NumberOfPeriods>" +
        "<IntervalChannel>delivered</IntervalChannel></Command>",
    ),
    { name: "getProfileData", numberOfPeriods: 2, channel: "Delivered" },
  );
});

Deno.test("unknown or garbled commands parse to null", () => {
  const bad = [
    "",
    "<Command><Name>reboot_everything</Name></Command>",
    "<Command><Event>demand</Event></Command>",
    "<Warning><Text>Unknown command</Text></Warning>",
    "<Command><Name>get_time</Name><Refresh>maybe</Refresh></Command>",
    "<Command><Name>get_time</Name><MeterMacId>house</MeterMacId></Command>",
    "<Command><Name>get_schedule</Name><Event>weather</Event></Command>",
    "<Command><Name>set_schedule</Name><Event>demand</Event><Enabled>Y</Enabled></Command>",
    "<Command><Name>set_fast_poll</Name><Frequency>4</Frequency><Duration>0x1</Duration></Command>",
    "<Command><Name>get_profile_data</Name><NumberOfPeriods>0x2</NumberOfPeriods></Command>",
    "<Command><Name>confirm_message</Name></Command>",
    "<Command><Name>get_time</Name>",
    "<CommandZPS_EVENT_NWK_JOINED_AS_ENDDEVICE><Name>get_time</Name></Command>",
  ];
  for (const xml of bad) assert.equal(parseCommand(xml), null, xml);
});
