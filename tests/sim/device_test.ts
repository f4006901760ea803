/**
 * Tests for the simulated meter over a real pseudo-terminal, read from the slave side through
 * libserialport exactly as the gateway reads a USB stick.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PseudoTerminal } from "../../ffi/libc.ts";
import { SerialPort } from "../../ffi/libserialport.ts";
import type { MeterEvent } from "../../src/radio/events.ts";
import { FragmentSplitter } from "../../src/radio/raven/framing.ts";
import { decodeFragment } from "../../src/radio/raven/decode.ts";
import { type SimulatedMeterOptions, startSimulatedMeter } from "../../src/sim/device.ts";
import { createHousehold, type HouseholdOptions } from "../../src/sim/household.ts";

const DEVICE_MAC = "0xd8d5b900000041d7";
const METER_MAC = "0x000781000081fd17";
/** 2024-06-03T11:00:00Z: late morning, the solar household is about to export. */
const START_MS = Date.UTC(2024, 5, 3, 11);
const HOUSEHOLD: HouseholdOptions = { seed: 11, solar: true, startTimeMs: START_MS };

/** The gateway side of the link: a libserialport port on the pty slave, plus a splitter. */
class GatewaySide {
  readonly fragments: string[] = [];
  readonly #splitter = new FragmentSplitter();
  #seen = 0;

  constructor(readonly port: SerialPort) {}

  send(xml: string): Promise<void> {
    return this.port.write(new TextEncoder().encode(xml + "\r\n"));
  }

  command(name: string, params = ""): Promise<void> {
    return this.send(`<Command>\r\n  <Name>${name}</Name>\r\n${params}</Command>`);
  }

  /** Reads until a fragment not yet returned matches `match`; returns it. */
  async next(match: (xml: string) => boolean, timeoutMs = 3000): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      while (this.#seen < this.fragments.length) {
        const xml = this.fragments[this.#seen++];
        if (match(xml)) return xml;
      }
      if (performance.now() > deadline) throw new Error("timed out waiting for a fragment");
      await this.pump(50);
    }
  }

  /** Reads for `durationMs`, collecting fragments. */
  async collect(durationMs: number): Promise<void> {
    const deadline = performance.now() + durationMs;
    while (performance.now() < deadline) await this.pump(50);
  }

  async pump(waitMs: number): Promise<void> {
    const bytes = await this.port.read(waitMs);
    if (bytes === null) throw new Error("device hung up");
    this.fragments.push(...this.#splitter.push(bytes));
  }
}

const root = (name: string) => (xml: string) => xml.startsWith(`<${name}>`);

function decode(xml: string): MeterEvent {
  const result = decodeFragment(xml);
  if (!result.ok) throw new Error(`does not decode: ${xml}`);
  return result.event;
}

/** Text of the first `<name>` child of a fragment. */
function child(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

async function withMeter(
  options: Partial<SimulatedMeterOptions>,
  body: (gateway: GatewaySide, meter: ReturnType<typeof startSimulatedMeter>) => Promise<void>,
): Promise<void> {
  const pty = PseudoTerminal.open();
  const port = SerialPort.adoptFd(pty.openSlaveFd(), pty.slavePath);
  const meter = startSimulatedMeter({
    transport: pty,
    deviceMac: DEVICE_MAC,
    meterMac: METER_MAC,
    household: createHousehold(HOUSEHOLD),
    startTimeMs: START_MS,
    ...options,
  });
  try {
    await body(new GatewaySide(port), meter);
  } finally {
    // Reader side first: closing the pty ends a device write stuck on a full buffer.
    await port.close();
    await pty.close();
    await meter.stop();
  }
}

Deno.test("device: at speed 600 it joins, then streams fragments matching the household", async () => {
  await withMeter({ speed: 600 }, async (gateway, meter) => {
    await gateway.collect(1500);
    const statuses = gateway.fragments.filter(root("ConnectionStatus")).map((x) =>
      child(x, "Status")
    );
    assert.deepEqual(statuses.at(-1), "Connected");
    assert.ok(statuses.length >= 3, "a join sequence, not just Connected");
    assert.ok(gateway.fragments.findIndex(root("ConnectionStatus")) === 0, "join comes first");

    const twin = createHousehold(HOUSEHOLD);
    const events = gateway.fragments.map(decode);
    const demands = events.filter((e) => e.kind === "demand");
    const summations = events.filter((e) => e.kind === "summation");
    // 1.5 wall s × 600 = 900 sim s: ~112 demand (8 s) and ~15 summation (60 s) pushes.
    assert.ok(demands.length >= 60, `demand fragments: ${demands.length}`);
    assert.ok(summations.length >= 8, `summation fragments: ${summations.length}`);
    for (const event of demands) {
      assert.equal(event.device, DEVICE_MAC);
      assert.equal(event.meter, METER_MAC);
      assert.equal(event.demandW, twin.demandW(event.timeMs!));
    }
    // Continuous: one demand every 8 sim s, none skipped.
    demands.forEach((event, i) => assert.equal(event.timeMs, START_MS + i * 8000));
    assert.ok(demands.some((e) => e.demandW! < 0), "the solar household exports at midday");
    assert.ok(gateway.fragments.some((x) => /<Demand>0xfff[0-9a-f]{5}<\/Demand>/.test(x)));

    let previousDelivered = 0;
    for (const event of summations) {
      const registers = twin.advanceTo(event.timeMs!);
      assert.equal(event.summationDeliveredWh, Math.floor(registers.summationDeliveredWh));
      assert.equal(event.summationReceivedWh, Math.floor(registers.summationReceivedWh));
      assert.ok(event.summationDeliveredWh >= previousDelivered);
      previousDelivered = event.summationDeliveredWh;
    }
    const summation = gateway.fragments.find(root("CurrentSummationDelivered"))!;
    assert.match(child(summation, "SummationDelivered")!, /^0x[0-9a-f]{16}$/, "hex16 on an EMU-2");

    const price = events.find((e) => e.kind === "price");
    assert.equal(price?.kind === "price" && price.pricePerKWh, twin.priceAt(START_MS).pricePerKWh);
    assert.ok(meter.simTimeMs >= START_MS + 800_000);
  });
});

Deno.test("device: fragments are laid out like a real stick's", async () => {
  await withMeter({ speed: 1, model: "raven" }, async (gateway) => {
    const xml = await gateway.next(root("InstantaneousDemand"));
    const lines = xml.split("\r\n");
    assert.equal(lines[0], "<InstantaneousDemand>");
    assert.equal(lines[1], `  <DeviceMacId>${DEVICE_MAC}</DeviceMacId>`);
    assert.equal(lines.at(-1), "</InstantaneousDemand>");
    assert.equal(child(xml, "Multiplier"), "0x00000001");
    assert.equal(child(xml, "Divisor"), "0x000003e8");
    assert.match(child(xml, "TimeStamp")!, /^0x[0-9a-f]{8}$/);
    const summation = await gateway.next(root("CurrentSummationDelivered"));
    assert.match(child(summation, "SummationDelivered")!, /^0x[0-9a-f]{8}$/, "hex8 on a RAVEn");
  });
});

Deno.test("device: answers identification commands and records them", async () => {
  await withMeter({ speed: 1 }, async (gateway, meter) => {
    await gateway.command("initialize");
    await gateway.command("get_device_info");
    const info = decode(await gateway.next(root("DeviceInfo")));
    assert.equal(info.kind, "deviceInfo");
    assert.equal(info.device, DEVICE_MAC);
    assert.equal(info.kind === "deviceInfo" && info.manufacturer, "Rainforest Automation, Inc.");

    await gateway.command("get_meter_list");
    const list = decode(await gateway.next(root("MeterList")));
    assert.deepEqual(list.kind === "meterList" && list.meters, [METER_MAC]);

    await gateway.command("get_network_info");
    const network = decode(await gateway.next(root("NetworkInfo")));
    assert.equal(network.kind === "connection" && network.connected, true);

    await gateway.command("get_schedule", "  <Event>demand</Event>\r\n");
    const schedule = decode(await gateway.next(root("ScheduleInfo")));
    assert.equal(schedule.kind === "schedule" && schedule.frequencyS, 8);

    assert.deepEqual(meter.receivedCommands.map((c) => c.name), [
      "initialize",
      "getDeviceInfo",
      "getMeterList",
      "getNetworkInfo",
      "getSchedule",
    ]);
  });
});

Deno.test("device: confirm_message marks the message confirmed", async () => {
  const household = createHousehold({ seed: 5, messageEveryHours: 6 });
  let startMs = START_MS;
  while (!household.messageAt(startMs)?.confirmationRequired) startMs += 60_000;
  const message = household.messageAt(startMs)!;
  await withMeter({ speed: 1, household, startTimeMs: startMs }, async (gateway, meter) => {
    const first = decode(await gateway.next(root("MessageCluster")));
    assert.equal(first.kind, "message");
    if (first.kind !== "message") return;
    assert.equal(first.text, message.text);
    assert.equal(parseInt(first.messageId!, 16), message.id);
    assert.equal(first.confirmationRequired, true);
    assert.equal(first.confirmed, false);

    await gateway.command("confirm_message", `  <Id>${first.messageId}</Id>\r\n`);
    await gateway.command("get_message", "  <Refresh>Y</Refresh>\r\n");
    const after = decode(await gateway.next(root("MessageCluster")));
    assert.equal(after.kind === "message" && after.confirmed, true);
    const confirm = meter.receivedCommands.at(-2);
    assert.equal(confirm?.name, "confirmMessage");
    assert.equal(confirm?.name === "confirmMessage" && parseInt(confirm.messageId, 16), message.id);
  });
});

Deno.test("device: an unknown command gets the Warning", async () => {
  await withMeter({ speed: 1 }, async (gateway) => {
    await gateway.command("make_coffee");
    const warning = await gateway.next(root("Warning"));
    assert.equal(child(warning, "Text"), "Unknown command");
    const event = decode(warning);
    assert.equal(event.kind === "deviceWarning" && event.text, "Unknown command");
  });
});

Deno.test("device: summation Refresh N answers from cache, Refresh Y reads fresh", async () => {
  await withMeter({ speed: 60, summationEverySimS: 3600 }, async (gateway) => {
    const pushed = await gateway.next(root("CurrentSummationDelivered"));
    await gateway.collect(1200);
    await gateway.command("get_current_summation_delivered", "  <Refresh>N</Refresh>\r\n");
    const cached = await gateway.next(root("CurrentSummationDelivered"));
    assert.equal(child(cached, "TimeStamp"), child(pushed, "TimeStamp"));
    await gateway.command("get_current_summation_delivered", "  <Refresh>Y</Refresh>\r\n");
    const fresh = await gateway.next(root("CurrentSummationDelivered"));
    assert.ok(parseInt(child(fresh, "TimeStamp")!, 16) > parseInt(child(pushed, "TimeStamp")!, 16));
  });
});

Deno.test("device: set_schedule changes the push cadence", async () => {
  await withMeter({ speed: 600 }, async (gateway) => {
    await gateway.command(
      "set_schedule",
      "  <Event>demand</Event>\r\n  <Frequency>0x0000003c</Frequency>\r\n  <Enabled>Y</Enabled>\r\n",
    );
    await gateway.command("get_schedule", "  <Event>demand</Event>\r\n");
    const schedule = decode(await gateway.next(root("ScheduleInfo")));
    assert.equal(schedule.kind === "schedule" && schedule.frequencyS, 60);
    const before = gateway.fragments.length;
    await gateway.collect(1000);
    const times = gateway.fragments.slice(before).filter(root("InstantaneousDemand")).map((x) =>
      parseInt(child(x, "TimeStamp")!, 16)
    );
    assert.ok(times.length >= 3, `demand pushes after the change: ${times.length}`);
    for (let i = 1; i < times.length; i++) assert.equal(times[i] - times[i - 1], 60);
  });
});

Deno.test("device: profile data comes from the household's history, newest first", async () => {
  // The household started 4 h before the device, so 15-minute intervals already exist.
  const household = createHousehold({ seed: 2, startTimeMs: START_MS - 4 * 3_600_000 });
  const twin = createHousehold({ seed: 2, startTimeMs: START_MS - 4 * 3_600_000 });
  await withMeter({ speed: 1, household }, async (gateway) => {
    await gateway.command(
      "get_profile_data",
      "  <NumberOfPeriods>0x04</NumberOfPeriods>\r\n  <EndTime>0x00000000</EndTime>\r\n" +
        "  <IntervalChannel>Delivered</IntervalChannel>\r\n",
    );
    const profile = decode(await gateway.next(root("ProfileData")));
    assert.equal(profile.kind, "profile");
    if (profile.kind !== "profile") return;
    assert.equal(profile.status, 0);
    assert.equal(profile.intervalS, 900);
    assert.equal(profile.endTimeMs, START_MS);
    twin.advanceTo(START_MS);
    assert.deepEqual(profile.intervals, twin.intervals({ count: 4 }).map((i) => i.deliveredWh));
  });
  await withMeter({ speed: 1 }, async (gateway) => {
    await gateway.command(
      "get_profile_data",
      "  <NumberOfPeriods>0x04</NumberOfPeriods>\r\n  <IntervalChannel>Delivered</IntervalChannel>\r\n",
    );
    const empty = decode(await gateway.next(root("ProfileData")));
    assert.equal(empty.kind === "profile" && empty.status, 5);
  });
});

/** A `get_profile_data` command's parameters. */
function profileParams(periods: number, channel: string, endTimeHex?: string): string {
  const end = endTimeHex === undefined ? "" : `  <EndTime>${endTimeHex}</EndTime>\r\n`;
  return `  <NumberOfPeriods>0x${periods.toString(16).padStart(2, "0")}</NumberOfPeriods>\r\n` +
    end + `  <IntervalChannel>${channel}</IntervalChannel>\r\n`;
}

Deno.test("device: profile data error statuses, as the meter's support is set", async () => {
  const household = () => createHousehold({ seed: 2, startTimeMs: START_MS - 4 * 3_600_000 });
  const status = async (gateway: GatewaySide, params: string) => {
    await gateway.command("get_profile_data", params);
    const xml = await gateway.next(root("ProfileData"));
    const event = decode(xml);
    assert.ok(event.kind === "profile");
    return { status: event.status, delivered: child(xml, "NumberOfPeriodsDelivered") };
  };
  await withMeter({ speed: 1, household: household() }, async (gateway) => {
    // 13 periods: too many (4); an EndTime after the device clock: invalid (3).
    assert.deepEqual(await status(gateway, profileParams(13, "Delivered")), {
      status: 4,
      delivered: "0x00",
    });
    assert.equal((await status(gateway, profileParams(4, "Delivered", "0x7fffffff"))).status, 3);
    assert.equal((await status(gateway, profileParams(4, "Received"))).status, 0);
  });
  await withMeter({ speed: 1, household: household(), profileSupport: "deliveredOnly" }, async (
    gateway,
  ) => {
    assert.equal((await status(gateway, profileParams(4, "Delivered"))).status, 0);
    assert.equal((await status(gateway, profileParams(4, "Received"))).status, 2);
  });
  await withMeter({ speed: 1, household: household(), profileSupport: "unsupported" }, async (
    gateway,
  ) => {
    assert.deepEqual(await status(gateway, profileParams(4, "Delivered")), {
      status: 2,
      delivered: "0x00",
    });
  });
  await withMeter({ speed: 1, household: household(), profileSupport: "unknownCommand" }, async (
    gateway,
  ) => {
    await gateway.command("get_profile_data", profileParams(4, "Delivered"));
    const warning = decode(await gateway.next(root("Warning")));
    assert.equal(warning.kind === "deviceWarning" && warning.text, "Unknown command");
  });
});

Deno.test("device: with its link down it sends nothing, yet records the intervals it misses", async () => {
  await withMeter({ speed: 3600 }, async (gateway, meter) => {
    await gateway.next(root("CurrentSummationDelivered"));
    meter.setLinkUp(false);
    // Whatever was in flight arrives; then silence, and commands go unanswered.
    await gateway.collect(200);
    const before = gateway.fragments.length;
    await gateway.command("get_device_info");
    const fromMs = meter.simTimeMs;
    await gateway.collect(1000);
    assert.equal(gateway.fragments.length, before);
    assert.ok(meter.simTimeMs >= fromMs + 30 * 60_000, "the household ran on");
    meter.setLinkUp(true);
    await gateway.command("get_profile_data", profileParams(2, "Delivered"));
    const profile = decode(await gateway.next(root("ProfileData")));
    assert.ok(profile.kind === "profile");
    // Intervals of the silent time are there, newest first.
    assert.equal(profile.status, 0);
    assert.ok(profile.endTimeMs! > fromMs + 15 * 60_000);
    assert.equal(profile.intervals.length, 2);
  });
});

Deno.test("device: closing the gateway side stops the device quietly", async () => {
  const pty = PseudoTerminal.open();
  const port = SerialPort.adoptFd(pty.openSlaveFd(), pty.slavePath);
  const meter = startSimulatedMeter({
    transport: pty,
    deviceMac: DEVICE_MAC,
    meterMac: METER_MAC,
    household: createHousehold(HOUSEHOLD),
    startTimeMs: START_MS,
    speed: 600,
  });
  try {
    await new GatewaySide(port).next(root("InstantaneousDemand"));
    await port.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stopped = await Promise.race([
      meter.done.then(() => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 2000)),
    ]);
    clearTimeout(timer);
    assert.ok(stopped, "the device noticed the hang-up");
  } finally {
    await pty.close();
    await meter.stop();
  }
});

Deno.test("device: at a very high speed it still answers commands and skips no pushes", async () => {
  await withMeter({ speed: 1_000_000, junkProbability: 0.2 }, async (gateway, meter) => {
    await gateway.collect(300);
    await gateway.command("get_device_info");
    await gateway.next(root("DeviceInfo"), 2000);
    const demands = gateway.fragments.filter(root("InstantaneousDemand")).map((x) =>
      parseInt(child(x, "TimeStamp")!, 16)
    );
    assert.ok(demands.length > 100, `demand fragments: ${demands.length}`);
    for (let i = 1; i < demands.length; i++) assert.equal(demands[i] - demands[i - 1], 8);
    assert.ok(meter.fragmentsSent >= gateway.fragments.length);
  });
});
