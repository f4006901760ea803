/**
 * Decoder tests against every reference capture and the values its README lists, plus field
 * warnings, malformed fragments and a random-input fuzz.
 *
 * @module
 */

import { referenceFolder } from "../../reference.ts";
import assert from "node:assert/strict";
import type { MeterEvent } from "../../../src/radio/events.ts";
import { splitFragments } from "../../../src/radio/raven/framing.ts";
import { decodeFragment, type DecodeResult } from "../../../src/radio/raven/decode.ts";

const CAPTURES = referenceFolder("raven/");

function decodeCapture(name: string): DecodeResult[] {
  return splitFragments(Deno.readFileSync(new URL(name, CAPTURES))).map(decodeFragment);
}

/** Events of a capture; fails when any fragment did not decode. */
function events(name: string): MeterEvent[] {
  return decodeCapture(name).map((r, i) => {
    if (!r.ok) assert.fail(`${name} #${i}: ${r.error}`);
    assert.deepEqual(r.warnings, [], `${name} #${i} warnings`);
    return r.event;
  });
}

function only<K extends MeterEvent["kind"]>(
  event: MeterEvent,
  kind: K,
): Extract<MeterEvent, { kind: K }> {
  assert.equal(event.kind, kind);
  return event as Extract<MeterEvent, { kind: K }>;
}

const iso = (ms: number | null) => ms === null ? null : new Date(ms).toISOString();
const ms = (isoTime: string) => Date.parse(isoTime);

Deno.test("every capture decodes without errors, except the garbled sample", () => {
  for (const entry of Deno.readDirSync(CAPTURES)) {
    if (entry.name.endsWith(".md")) continue;
    const results = decodeCapture(entry.name);
    assert.ok(results.length > 0, entry.name);
    if (entry.name.startsWith("garbage")) continue;
    for (const r of results) assert.ok(r.ok, `${entry.name}: ${r.ok ? "" : r.error}`);
  }
});

Deno.test("termite: 0x222 × 3 ÷ 1000 = 1.638 kW twice", () => {
  const [a, b] = events("emu2-instantaneous-demand-termite.txt").map((e) => only(e, "demand"));
  assert.equal(a.demandW, 1638);
  assert.equal(b.demandW, 1638);
  assert.equal(iso(a.timeMs), "2022-04-28T23:37:38.000Z");
  assert.equal(iso(b.timeMs), "2022-04-28T23:37:49.000Z");
  assert.equal(a.meter, "0x001c64001354ec34");
  assert.equal(a.device, "0xd8d5b9000001199e");
  assert.equal(a.digitsRight, 3);
  assert.equal(a.fragment, "InstantaneousDemand");
});

Deno.test("roachwork: DeviceInfo, ConnectionStatus, demand, summation, price", () => {
  const [info, conn, demand, sum, price] = events("emu2-fragments-roachwork.txt");
  const d = only(info, "deviceInfo");
  assert.equal(d.dateCodeDate, "2020-05-11");
  assert.equal(d.dateCodeLot, "35221102");
  assert.equal(d.firmwareVersion, "2.0.0 (7400)");
  assert.equal(d.hardwareVersion, "2.7.3");
  assert.equal(d.imageType, "0x2201");
  assert.equal(d.modelId, "Z105-2-EMU2-LEDD_JM");
  assert.equal(d.manufacturer, "Rainforest Automation, Inc.");
  assert.equal(d.installCode, "0xbb35d34d84377160");
  assert.equal(d.linkKey, "0x83f3ab2666b525cd75cd434c72c95e5e");

  const c = only(conn, "connection");
  assert.equal(c.status, "Connected");
  assert.equal(c.connected, true);
  assert.equal(c.description, "Successfully Joined");
  assert.equal(c.linkStrengthPercent, 100);
  assert.equal(c.channel, 25);
  assert.equal(c.shortAddr, "0x4969");
  assert.equal(c.meter, "0x00078100007a175d");

  const dm = only(demand, "demand");
  assert.equal(dm.demandW, 1197);
  assert.equal(iso(dm.timeMs), "2024-04-22T06:00:02.000Z");

  const s = only(sum, "summation");
  assert.equal(s.summationDeliveredWh, 156_762_302);
  assert.equal(s.summationReceivedWh, 0);
  assert.equal(s.digitsRight, 1);
  assert.equal(iso(s.timeMs), "2024-04-22T05:56:40.000Z");

  const p = only(price, "price");
  assert.equal(p.pricePerKWh, 0.315);
  assert.equal(p.currencyCode, 840);
  assert.equal(p.currency, "USD");
  assert.equal(p.tier, 1);
  assert.equal(p.label, "Set by User");
  assert.equal(p.startTimeMs, null);
  assert.equal(p.durationS, null);
});

Deno.test("Rainforest README: NetworkInfo ch 18 and summation 113 007.485 kWh", () => {
  const [net, sum] = events("emu2-networkinfo-and-summation-rainforest-readme.txt");
  const n = only(net, "connection");
  assert.equal(n.fragment, "NetworkInfo");
  assert.equal(n.connected, true);
  assert.equal(n.channel, 18);
  assert.equal(n.shortAddr, "0x2776");
  assert.equal(n.meter, "0x000781000081fd17"); // CoordMacId
  assert.equal(n.extPanId, "0x000781000081fd17");
  const s = only(sum, "summation");
  assert.equal(s.summationDeliveredWh, 113_007_485);
  assert.equal(iso(s.timeMs), "2015-03-09T17:21:47.000Z");
});

Deno.test("BlockPriceDetail: thresholds ÷ 10 kWh, prices at 5 trailing digits, USD", () => {
  const [event] = events("emu2-blockpricedetail-rainforest-sample.txt");
  const b = only(event, "blockPrice");
  assert.equal(iso(b.timeMs), "2014-02-13T23:59:16.000Z");
  assert.equal(b.currency, "USD");
  assert.deepEqual(b.blocks, [
    { thresholdWh: 414_000, pricePerKWh: 0.14764 },
    { thresholdWh: 538_200, pricePerKWh: 0.17077 },
    { thresholdWh: 828_000, pricePerKWh: 0.32737 },
    { thresholdWh: null, pricePerKWh: 0.34737 },
  ]);
});

Deno.test("danlindow: unindented demand 0x1de × 3 ÷ 1000 = 1.434 kW", () => {
  const d = only(events("emu2-demand-multiplier3-danlindow.txt")[0], "demand");
  assert.equal(d.demandW, 1434);
  assert.equal(iso(d.timeMs), "2026-04-25T16:20:08.000Z");
});

Deno.test("aioraven all-fragments mock: every fragment type with aioraven's values", () => {
  const all = events("mock-aioraven-all-fragments.txt");
  assert.deepEqual(all.map((e) => e.kind), [
    "deviceInfo",
    "connection",
    "meterList",
    "meterList",
    "meterList",
    "meterInfo",
    "schedule",
    "time",
    "message",
    "price",
    "price",
    "price",
    "demand",
    "demand",
    "demand",
    "demand",
    "summation",
    "summation",
    "summation",
    "periodUsage",
    "periodUsage",
    "profile",
  ]);
  const info = only(all[0], "deviceInfo");
  assert.equal(info.device, "0x0123456789abcdef");
  assert.equal(info.dateCodeDate, "2022-01-01");
  assert.equal(info.dateCodeLot, "a0000042");
  const net = only(all[1], "connection");
  assert.equal(net.statusCode, 0x42);
  assert.equal(net.channel, 24);
  assert.equal(net.linkStrengthPercent, 0x24);
  assert.equal(net.description, "Network is operational");
  assert.deepEqual(all.slice(2, 5).map((e) => only(e, "meterList").meters), [
    [],
    ["0xfedcba9876543210"],
    ["0xfedcba9876543210", "0xfedcba0123456789"],
  ]);
  const meterInfo = only(all[5], "meterInfo");
  assert.deepEqual(
    [meterInfo.meterType, meterInfo.nickName, meterInfo.account, meterInfo.auth, meterInfo.host],
    ["electric", "House", "8675309", "p@ssw0rd", "Example, Inc."],
  );
  assert.equal(meterInfo.enabled, true);
  const schedule = only(all[6], "schedule");
  assert.equal(schedule.event, "summation");
  assert.equal(schedule.frequencyS, 0x13579bdf);
  assert.equal(schedule.enabled, true);
  const time = only(all[7], "time");
  assert.equal(iso(time.utcTimeMs), "2022-03-11T00:47:35.000Z");
  assert.equal(iso(time.localTimeMs), "2022-03-10T16:47:35.000Z");
  assert.equal(time.timeMs, time.utcTimeMs);
  const message = only(all[8], "message");
  assert.equal(message.messageId, "0x02468ace");
  assert.equal(message.text, "Hello, World!");
  assert.equal(message.confirmationRequired, false);
  assert.equal(message.confirmed, true);
  assert.equal(message.queue, "Active");
  const [p1, p2, p3] = all.slice(9, 12).map((e) => only(e, "price"));
  assert.equal(p1.pricePerKWh, 0.2);
  assert.equal(p1.currency, "USD");
  assert.equal(p1.tier, 8);
  assert.equal(p2.currencyCode, null);
  assert.equal(p2.currency, null);
  assert.equal(p3.timeMs, null);
  const demands = all.slice(12, 16).map((e) => only(e, "demand"));
  assert.deepEqual(demands.map((d) => d.demandW), [32_000, 32_000, 32_000, 32_000]);
  assert.deepEqual(demands.map((d) => d.digitsRight), [2, 2, null, 2]);
  const sums = all.slice(16, 19).map((e) => only(e, "summation"));
  assert.deepEqual(sums.map((s) => s.summationDeliveredWh), [32_000, 31_950, 32_000]);
  assert.deepEqual(sums.map((s) => s.summationReceivedWh), [16_000, 16_040, null]);
  const current = only(all[19], "periodUsage");
  assert.equal(current.period, "current");
  assert.equal(current.usageWh, 32_000);
  assert.equal(current.startTimeMs, ms("2022-02-25T00:47:35Z"));
  assert.equal(current.endTimeMs, null);
  const last = only(all[20], "periodUsage");
  assert.equal(last.period, "last");
  assert.equal(last.startTimeMs, ms("2022-03-11T00:47:35Z"));
  assert.equal(last.endTimeMs, ms("2022-04-11T00:47:35Z"));
  const profile = only(all[21], "profile");
  assert.equal(profile.intervalS, 30 * 60);
  assert.equal(profile.status, 0);
  assert.deepEqual(profile.intervals, []);
});

Deno.test("aioraven negative demand: 0xFFFFFFF0 × 4 ÷ 2 = −32 kW", () => {
  for (const e of events("mock-aioraven-negative-demand.txt")) {
    assert.equal(only(e, "demand").demandW, -32_000);
  }
});

Deno.test("aioraven warnings and the 0xFF DateCode filler", () => {
  const [generic, unknown] = events("mock-aioraven-warnings.txt").map((e) =>
    only(e, "deviceWarning")
  );
  assert.equal(generic.text, "Something unexpected happened");
  assert.equal(unknown.text, "Unknown command");
  const info = only(events("mock-aioraven-datecode-ff-filler.txt")[0], "deviceInfo");
  assert.equal(info.dateCodeDate, null);
  assert.equal(info.dateCodeLot, null);
  assert.equal(info.modelId, "Python");
});

Deno.test("aioraven leftovers: the three MeterLists decode", () => {
  const lists = events("mock-aioraven-leftovers-and-partial.txt").map((e) => only(e, "meterList"));
  assert.deepEqual(lists.map((l) => l.device), [
    "0x0123456789abcdef",
    "0x0123456789abcdef",
    "0x0123456789abcdef",
  ]);
});

Deno.test("EAGLE-100 uploader bodies: demand, summation, CAD price, empty message", () => {
  const [info, net, demand, sum, price, message] = events(
    "eagle100-uploader-bodies-iot-recorder.xml",
  );
  assert.equal(only(info, "deviceInfo").dateCodeDate, "2014-08-13");
  assert.equal(only(net, "connection").channel, 11);
  const d = only(demand, "demand");
  assert.equal(d.demandW, 3311);
  assert.equal(iso(d.timeMs), "2017-09-07T16:55:28.000Z");
  const s = only(sum, "summation");
  assert.equal(s.summationDeliveredWh, 102_546_839);
  assert.equal(s.summationReceivedWh, 84);
  const p = only(price, "price");
  assert.equal(p.pricePerKWh, 0.1287);
  assert.equal(p.currency, "CAD");
  assert.equal(p.label, "Block 2");
  assert.equal(p.durationS, null);
  const m = only(message, "message");
  assert.equal(m.messageId, null);
  assert.equal(m.text, "");
  assert.equal(m.timeMs, null);
  assert.equal(m.queue, "Active");
});

Deno.test("EAGLE-200 examples: time, demand, unknown ReadAttributesResponse, CurrentSummation", () => {
  const [info, conn, time, demand, attrs, message, sum] = events(
    "eagle200-uploader-examples-rainforest.xml",
  );
  assert.equal(only(info, "deviceInfo").modelId, "Z114-EAGLE3");
  const c = only(conn, "connection");
  assert.equal(c.status, "Rejoining");
  assert.equal(c.connected, false);
  assert.equal(iso(only(time, "time").utcTimeMs), "2017-07-07T23:38:21.000Z");
  assert.equal(only(demand, "demand").demandW, 50);
  const u = only(attrs, "unknown");
  assert.equal(u.fragment, "ReadAttributesResponse");
  assert.equal(u.device, "0xd8d5b9000000b6d4");
  assert.equal(u.fields?.Attribute5, "0x0304");
  assert.equal(u.fields?.Value5, "0x3b");
  const m = only(message, "message");
  assert.equal(m.priority, "Low");
  assert.equal(m.text, "Welcome to your meter.");
  assert.equal(m.durationS, null);
  const s = only(sum, "summation");
  assert.equal(s.fragment, "CurrentSummation");
  assert.equal(s.summationDeliveredWh, 129_055);
});

Deno.test("constructed: import then export, NUL-laden summation, statuses, profile data", () => {
  const [imp, exp] = events("constructed-demand-import-then-export.txt").map((e) =>
    only(e, "demand")
  );
  assert.equal(imp.demandW, 453);
  assert.equal(exp.demandW, -1482);

  const nul = events("constructed-nul-bytes-around-summation.txt");
  const readme = events("emu2-networkinfo-and-summation-rainforest-readme.txt")[1];
  assert.deepEqual(nul, [readme]);

  const statuses = events("constructed-connectionstatus-sequence.txt").map((e) =>
    only(e, "connection")
  );
  assert.deepEqual(statuses.map((s) => s.status), [
    "Initializing",
    "Network Discovery",
    "Joining",
    "Join: Success",
    "Authenticating",
    "Authenticating: Success",
    "Connected",
    "Disconnected",
    "Rejoining",
    "Join: Fail",
  ]);
  assert.deepEqual(statuses.map((s) => s.connected), [
    false,
    false,
    false,
    false,
    false,
    false,
    true,
    false,
    false,
    false,
  ]);
  assert.deepEqual(statuses.map((s) => s.linkStrengthPercent), [
    0,
    0,
    80,
    90,
    90,
    100,
    100,
    0,
    0,
    0,
  ]);

  const [full, empty] = events("constructed-profiledata.txt").map((e) => only(e, "profile"));
  assert.deepEqual(full.intervals, [500, 600, null, 200]);
  assert.equal(full.intervalS, 1800);
  assert.equal(full.status, 0);
  assert.equal(iso(full.endTimeMs), "2015-03-09T17:00:00.000Z");
  assert.equal(empty.status, 5);
  assert.deepEqual(empty.intervals, []);
});

Deno.test("the garbled Rainforest DeviceInfo is rejected with a clear error", () => {
  const [result] = decodeCapture("garbage-rainforest-sample-lines.txt");
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(result.fragment, "DeviceInfo");
  assert.match(result.error, /not well-formed.*ModlId/);
});

function demand(fields: string): DecodeResult {
  return decodeFragment(
    `<InstantaneousDemand><DeviceMacId>0x01</DeviceMacId>${fields}</InstantaneousDemand>`,
  );
}

function demandW(raw: string, scaling = ""): number | null {
  const r = demand(`<Demand>${raw}</Demand>${scaling}`);
  if (!r.ok) assert.fail(r.error);
  return only(r.event, "demand").demandW;
}

const KW = "<Divisor>0x3e8</Divisor>";

Deno.test("demand sign: int32 above 6 digits, int24 otherwise, 0x800000 invalid", () => {
  assert.equal(demandW("0xfffffa36"), -1482 * 1000);
  assert.equal(demandW("0x7fffff", KW), 0x7fffff);
  assert.equal(demandW("0xfffff0"), -16 * 1000);
  assert.equal(demandW("0x800000"), null);
  assert.equal(demandW("0xff800000"), null);
  assert.equal(demandW("0x00800000", KW), 0x800000);
  assert.equal(demandW("0x10", "<Multiplier>0x0</Multiplier><Divisor>0x0</Divisor>"), 16_000);
  assert.equal(demandW("0x3", "<Divisor>0x3e8</Divisor><Multiplier>0x3</Multiplier>"), 9);
});

Deno.test("summations are unsigned 48/64-bit with exact integer scaling", () => {
  const sum = (raw: string, scaling: string) => {
    const r = decodeFragment(
      `<CurrentSummationDelivered><SummationDelivered>${raw}</SummationDelivered>${scaling}` +
        `</CurrentSummationDelivered>`,
    );
    if (!r.ok) assert.fail(r.error);
    return only(r.event, "summation").summationDeliveredWh;
  };
  // ≥ 2^31: a sign-extending reader would go negative.
  assert.equal(sum("0x0000000080000000", "<Divisor>0x3e8</Divisor>"), 2 ** 31);
  // uint48 max × 3 × 1000 overflows 2^53: BigInt path, still exact.
  assert.equal(
    sum("0xffffffffffff", "<Multiplier>0x3</Multiplier><Divisor>0x2710</Divisor>"),
    (2 ** 48 - 1) * 3 / 10,
  );
  // The largest register ESPI's Int48 can carry.
  assert.equal(sum("0x00007fffffffffff", "<Divisor>0x3e8</Divisor>"), 2 ** 47 - 1);
  assert.equal(sum("0x7", "<Divisor>0x2</Divisor>"), 3500);
});

/** The error of a fragment that must be refused. */
function refused(xml: string): string {
  const r = decodeFragment(xml);
  if (r.ok) assert.fail(`accepted: ${JSON.stringify(r.event)}`);
  return r.error;
}

Deno.test("values outside the wire type or the physical range refuse the fragment", () => {
  const summation = (fields: string) =>
    `<CurrentSummationDelivered>${fields}</CurrentSummationDelivered>`;
  // A 64-bit all-ones register is no ZigBee uint48.
  assert.match(
    refused(summation("<SummationDelivered>0xffffffffffffffff</SummationDelivered>")),
    /invalid SummationDelivered: out of range/,
  );
  assert.match(
    refused(summation("<SummationDelivered>0x1000000000000</SummationDelivered>")),
    /out of range/,
  );
  // uint48 max, no divisor: ≈ 2.8·10^17 Wh, beyond ESPI's Int48.
  assert.match(
    refused(summation("<SummationDelivered>0xffffffffffff</SummationDelivered>")),
    /implausible once scaled/,
  );
  // The hostile capture's demand: int32 max × a 32-bit Multiplier (ZCL: uint24).
  assert.match(
    refused(
      "<InstantaneousDemand><Demand>0x7fffffff</Demand><Multiplier>0xffffffff</Multiplier>" +
        "</InstantaneousDemand>",
    ),
    /invalid Multiplier: out of range/,
  );
  // 11 MW: a valid int24 count, but no home or shop draws it.
  assert.match(
    refused("<InstantaneousDemand><Demand>0x2af8</Demand></InstantaneousDemand>"),
    /invalid Demand: implausible once scaled: 11000000 W/,
  );
  assert.equal(demandW("0x2710"), 10_000_000);
  assert.equal(demandW("0xffffd8f0"), -10_000_000);
  // Prices scale with TrailingDigits (ZCL: 4 bits).
  assert.match(
    refused("<PriceCluster><Price>0x1</Price><TrailingDigits>0x10</TrailingDigits></PriceCluster>"),
    /invalid TrailingDigits/,
  );
  // An optional register out of range is dropped with a warning; the event stays.
  const r = decodeFragment(
    summation(
      "<SummationDelivered>0x10</SummationDelivered>" +
        "<SummationReceived>0xffffffffffffffff</SummationReceived>",
    ),
  );
  if (!r.ok) assert.fail(r.error);
  assert.equal(only(r.event, "summation").summationReceivedWh, null);
  assert.equal(only(r.event, "summation").summationDeliveredWh, 16_000);
  assert.deepEqual(r.warnings, ["SummationReceived: out of range: 0xffffffffffffffff"]);
  const link = decodeFragment(
    "<ConnectionStatus><Status>Connected</Status><LinkStrength>0xff</LinkStrength>" +
      "<Channel>99</Channel></ConnectionStatus>",
  );
  assert.ok(link.ok && only(link.event, "connection").linkStrengthPercent === null);
  assert.equal(link.ok && link.warnings.length, 2);
});

Deno.test("timestamps: 0xffffffff is unset; element names are case-insensitive", () => {
  const r = decodeFragment(
    "<instantaneousdemand><DEVICEMACID>0xAB</DEVICEMACID><timestamp>0xffffffff</timestamp>" +
      "<demand>0x10</demand></INSTANTANEOUSDEMAND>",
  );
  if (!r.ok) assert.fail(r.error);
  const d = only(r.event, "demand");
  assert.equal(d.fragment, "InstantaneousDemand");
  assert.equal(d.device, "0xab");
  assert.equal(d.timeMs, null);
  assert.equal(d.demandW, 16_000);
  const zero = demand("<TimeStamp>0x0</TimeStamp><Demand>0x1</Demand>");
  assert.ok(zero.ok && zero.event.timeMs === Date.parse("2000-01-01T00:00:00Z"));
});

Deno.test("prices: 0 and 0xffffffff mean no price; currencies by ISO number", () => {
  const price = (raw: string, currency: string) => {
    const r = decodeFragment(
      `<PriceCluster><Price>${raw}</Price><Currency>${currency}</Currency>` +
        `<TrailingDigits>0x02</TrailingDigits></PriceCluster>`,
    );
    if (!r.ok) assert.fail(r.error);
    return only(r.event, "price");
  };
  assert.equal(price("0x0", "0x348").pricePerKWh, null);
  assert.equal(price("0xffffffff", "0x348").pricePerKWh, null);
  assert.equal(price("0x1f", "0x3d2").pricePerKWh, 0.31);
  const codes: Record<string, string> = {
    "0x348": "USD",
    "0x7c": "CAD",
    "0x3d2": "EUR",
    "0x33a": "GBP",
    "0x24": "AUD",
    "0x22a": "NZD",
    "0x1e4": "MXN",
    "0x188": "JPY",
  };
  for (const [code, alpha] of Object.entries(codes)) {
    assert.equal(price("0x1", code).currency, alpha);
  }
  assert.equal(price("0x1", "0x3e7").currency, null);
});

Deno.test("MessageCluster text is entity-decoded", () => {
  const r = decodeFragment(
    "<MessageCluster><Id>0x1</Id><Text>Rates &gt; 0.30 &amp; &quot;peak&quot; &lt;now&gt; &#233;" +
      "</Text><Duration>0x000f</Duration></MessageCluster>",
  );
  if (!r.ok) assert.fail(r.error);
  const m = only(r.event, "message");
  assert.equal(m.text, 'Rates > 0.30 & "peak" <now> é');
  assert.equal(m.durationS, 15 * 60);
  assert.deepEqual(r.warnings, []);
  const bare = decodeFragment("<MessageCluster><Text>AT&T</Text></MessageCluster>");
  assert.ok(bare.ok);
  assert.equal(only(bare.event, "message").text, "AT&T");
  assert.equal(bare.warnings.length, 1);
});

Deno.test("unparseable fields become warnings and nulls, never exceptions", () => {
  const r = decodeFragment(
    "<InstantaneousDemand><DeviceMacId>zz</DeviceMacId><TimeStamp>soon</TimeStamp>" +
      "<Demand>0x10</Demand><DigitsRight>0xq</DigitsRight><DigitsLeft>-1</DigitsLeft>" +
      "<SuppressLeadingZero>maybe</SuppressLeadingZero></InstantaneousDemand>",
  );
  if (!r.ok) assert.fail(r.error);
  const d = only(r.event, "demand");
  assert.equal(d.device, null);
  assert.equal(d.timeMs, null);
  assert.equal(d.digitsRight, null);
  assert.equal(d.demandW, 16_000);
  assert.equal(r.warnings.length, 5);
  assert.ok(r.warnings.some((w) => w.startsWith("TimeStamp:")));

  const c = decodeFragment(
    "<ConnectionStatus><Status>Connected</Status><Channel>0x12</Channel></ConnectionStatus>",
  );
  assert.ok(c.ok && only(c.event, "connection").channel === null && c.warnings.length === 1);

  const wide = decodeFragment("<TimeCluster><UTCTime>0x100000000</UTCTime></TimeCluster>");
  assert.ok(wide.ok && only(wide.event, "time").utcTimeMs === null && wide.warnings.length === 1);

  const date = decodeFragment("<DeviceInfo><DateCode>20121340abc</DateCode></DeviceInfo>");
  assert.ok(date.ok && only(date.event, "deviceInfo").dateCodeDate === null);
  assert.equal(date.ok && date.warnings.length, 1);

  const period = decodeFragment(
    "<ProfileData><Status>0x00</Status><ProfileIntervalPeriod>9</ProfileIntervalPeriod>" +
      "<IntervalData1>0x1</IntervalData1><IntervalData2>bad</IntervalData2></ProfileData>",
  );
  assert.ok(period.ok);
  const p = only(period.event, "profile");
  assert.equal(p.intervalS, null);
  // A garbled value makes its neighbours untrustworthy too: none is kept (see profile_test.ts).
  assert.deepEqual(p.intervals, []);
  assert.equal(period.warnings.length, 3);
  assert.match(period.warnings.join("\n"), /IntervalData: a value refused; all discarded/);
});

Deno.test("a fragment missing the value its event is about is rejected", () => {
  const noDemand = demand("<TimeStamp>0x1</TimeStamp>");
  assert.ok(!noDemand.ok && /missing Demand/.test(noDemand.error));
  const badSum = decodeFragment(
    "<CurrentSummationDelivered><SummationDelivered>lots</SummationDelivered>" +
      "</CurrentSummationDelivered>",
  );
  assert.ok(!badSum.ok && /invalid SummationDelivered/.test(badSum.error));
});

Deno.test("unknown well-formed roots decode as kind unknown", () => {
  const r = decodeFragment(
    "<NwkTable>\r\n  <DeviceMacId>0x0A</DeviceMacId>\r\n  <Entry>1</Entry>\r\n</NwkTable>",
  );
  if (!r.ok) assert.fail(r.error);
  const u = only(r.event, "unknown");
  assert.equal(u.fragment, "NwkTable");
  assert.equal(u.device, "0x0a");
  assert.deepEqual(u.fields, { DeviceMacId: "0x0A", Entry: "1" });
});

Deno.test("malformed fragments are rejected with a reason", () => {
  const cases: [string, RegExp][] = [
    ["", /start tag/],
    ["hello", /start tag/],
    ["<A><B>1</B>", /never closed/],
    ["<A><B>1</C></A>", /expected <\/B>/],
    ["<A><B><C>1</C></B></A>", /nested/],
    ['<A x="1"><B>1</B></A>', /attributes/],
    ["<A>text<B>1</B></A>", /text directly/],
    ["<A><B>1</B></A>junk", /content after/],
    ["<A><B>1</B></Z>", /expected <\/A>/],
    ["<ns:A><B>1</B></ns:A>", /malformed/],
  ];
  for (const [xml, error] of cases) {
    const r = decodeFragment(xml);
    assert.equal(r.ok, false, xml);
    if (!r.ok) assert.match(r.error, error, xml);
  }
});

Deno.test("fuzz: decodeFragment never throws on random input", () => {
  let state = 12345;
  const next = () => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const pieces = [
    "<",
    ">",
    "</",
    "/>",
    "&",
    "&amp;",
    "&#x",
    ";",
    "0x",
    "ff",
    "Demand",
    "InstantaneousDemand",
    "PriceCluster",
    "Price1",
    "Threshold1",
    "IntervalData",
    "Currency",
    "TimeStamp",
    "SummationDelivered",
    " ",
    "\r\n",
    "\u00ff",
    "\u0000",
    "Y",
    "9",
  ];
  const valid = splitFragments(
    Deno.readFileSync(new URL("mock-aioraven-all-fragments.txt", CAPTURES)),
  );
  for (let i = 0; i < 20_000; i++) {
    let xml = "";
    if (i % 2 === 0) {
      const n = Math.floor(next() * 40);
      for (let k = 0; k < n; k++) {
        xml += next() < 0.5
          ? pieces[Math.floor(next() * pieces.length)]
          : String.fromCharCode(Math.floor(next() * 256));
      }
    } else {
      // Mutate a real fragment: random character replacements and truncation.
      const base = [...valid[Math.floor(next() * valid.length)]];
      for (let k = 0; k < 3; k++) {
        base[Math.floor(next() * base.length)] = String.fromCharCode(Math.floor(next() * 128));
      }
      xml = base.slice(0, Math.floor(base.length * (0.5 + next()))).join("");
    }
    const r = decodeFragment(xml);
    assert.equal(typeof r.ok, "boolean");
    if (!r.ok) assert.ok(!r.error.startsWith("decoder failure"), `${r.error} for ${xml}`);
  }
});
