/**
 * The dashboard of a building in a real headless Chromium: two households and three simulated
 * meters (`tests/building.ts`: A owns two, B one), each meter named. Signed in as A, the page
 * shows A's meters and A's live value only: neither the DOM nor any GraphQL answer the page
 * received holds B's meter id, name or MAC; the Green Button link is A's RetailCustomer; the
 * switch "Share my meters' data with this building's exports (MQTT/databases)" is there, off, and
 * turns A's export switch (not B's). The same from B's side. The administrator sees the three
 * meters' link health, the radios and the households with their meters, no readings panel, and
 * the page asks for no readings. No console errors anywhere.
 *
 * Run by `dashboard_test.ts` in a child `deno test --allow-all` (playwright-core's needs).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { buildWebAssets } from "../../src/web/build.ts";
import { formatPower } from "../../src/web/format.ts";
import { type Building, makeBuilding, type Resident } from "../building.ts";
import { collectConsoleErrors, launchChromium } from "./browser.ts";
import { type DashboardFixture, startDashboardFixture } from "./fixture.ts";

const NAMES = ["Kitchen of A", "Heat pump of A", "Studio of B"];
const SCREENSHOTS = new URL("../../.test-results/screenshots/", import.meta.url);

async function screenshot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: new URL(name, SCREENSHOTS).pathname, fullPage: true });
}

/** A page signed in with `cookie`, recording the GraphQL requests and answers it makes. */
async function signedInPage(browser: Browser, url: string, cookie: string) {
  const context = await browser.newContext({ viewport: { width: 360, height: 780 } });
  const [name, value] = cookie.split("=");
  await context.addCookies([{ name, value, url }]);
  const page = await context.newPage();
  const consoleErrors = collectConsoleErrors(page);
  const asked: string[] = [];
  const answers: Promise<string>[] = [];
  page.on("response", (response) => {
    const request = response.request();
    if (!request.url().endsWith("/graphql") || request.method() !== "POST") return;
    if (response.headers()["content-type"]?.startsWith("text/event-stream")) return;
    asked.push(request.postData() ?? "");
    answers.push(response.text().catch(() => ""));
  });
  await page.goto(`${url}/`);
  await page.locator("#dashboard").waitFor({ state: "visible" });
  return { context, page, consoleErrors, asked, answers };
}

/** Everything of `other` that must never reach `page`: meter ids, names and MACs. */
async function assertNothingOf(
  page: Page,
  answers: Promise<string>[],
  other: Resident,
  names: string[],
): Promise<void> {
  const html = await page.content();
  const bodies = (await Promise.all(answers)).join("\n");
  assert.ok(bodies.length > 0, "the page received GraphQL answers");
  for (const needle of [...other.meterIds, ...other.meterKeys, ...names]) {
    assert.ok(!html.includes(needle), `the page shows ${needle}`);
    assert.ok(!bodies.includes(needle), `the page received ${needle}`);
  }
}

/** Waits until the live value on the page is the one the API gives for `meterId` as `cookie`. */
async function waitForLiveValueOf(
  page: Page,
  fixture: DashboardFixture,
  cookie: string,
  meterId: string,
): Promise<void> {
  const latest = async () => {
    const response = await fetch(`${fixture.url}/graphql`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Cookie: cookie },
      body: JSON.stringify({
        query: "query ($id: ID!) { meter(id: $id) { demand { signedDemandW } } }",
        variables: { id: meterId },
      }),
    });
    const body = await response.json();
    return formatPower(body.data.meter.demand.signedDemandW);
  };
  let seen = "";
  for (let attempt = 0; attempt < 100; attempt++) {
    const [before, shown, after] = [
      await latest(),
      await page.locator("#now-power").textContent(),
      await latest(),
    ];
    if (shown === before || shown === after) return;
    seen = `${shown} (meter: ${before}, ${after})`;
    await page.waitForTimeout(50);
  }
  throw new Error(`the live value is not meter ${meterId}'s: ${seen}`);
}

async function householdView(
  browser: Browser,
  fixture: DashboardFixture,
  me: Resident,
  other: Resident,
  names: { mine: string[]; others: string[] },
): Promise<void> {
  const { context, page, consoleErrors, answers } = await signedInPage(
    browser,
    fixture.url,
    me.cookie,
  );
  try {
    // Its meters, by name, and nothing else.
    await page.locator("#meter-list li.meter").first().waitFor();
    const rows = await page.locator("#meter-list li.meter").evaluateAll((items) =>
      items.map((item) => item.getAttribute("data-meter"))
    );
    assert.deepEqual(rows, me.meterIds);
    await waitForLiveValueOf(page, fixture, me.cookie, me.meterIds[0]);
    await page.locator("#chart svg").first().waitFor();
    for (const name of names.mine) {
      assert.equal(await page.locator(`#meter-list input[value="${name}"]`).count(), 1, name);
    }
    assert.equal(await page.locator("#who").textContent(), me.name);
    assert.equal(
      await page.locator("#download-link").getAttribute("href"),
      `/espi/1_1/resource/Batch/RetailCustomer/${me.householdId}/UsagePoint`,
    );
    // The radios are the administrator's.
    assert.equal(await page.locator("#radio-list").isVisible(), false);

    // The switch: off by default, and it turns this household's exports only.
    const toggle = page.getByRole("switch", {
      name: "Share my meters' data with this building's exports (MQTT/databases)",
    });
    assert.equal(await toggle.isChecked(), false);
    await toggle.check();
    await page.locator("#announce", { hasText: "now shared" }).waitFor({ state: "attached" });
    const switches = await households(fixture);
    assert.equal(switches.get(String(me.householdId)), true);
    assert.equal(switches.get(String(other.householdId)), false);
    await page.reload();
    await page.locator("#dashboard").waitFor({ state: "visible" });
    await page.locator("#sharing").waitFor({ state: "visible" });
    assert.equal(await toggle.isChecked(), true, "the switch stays on across a reload");
    await toggle.uncheck();
    await page.locator("#announce", { hasText: "no longer shared" }).waitFor({ state: "attached" });
    assert.equal((await households(fixture)).get(String(me.householdId)), false);

    await screenshot(page, `dashboard-building-household-${me.householdId}-360x780.png`);
    await assertNothingOf(page, answers, other, names.others);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await context.close();
  }
}

/** Each household's export switch as the administrator's API shows it. */
async function households(fixture: DashboardFixture): Promise<Map<string, boolean>> {
  const reply = await fixture.graphql("{ households { id exportAllowed } }");
  return new Map(
    reply.data.households.map((h: { id: string; exportAllowed: boolean }) => [
      h.id,
      h.exportAllowed,
    ]),
  );
}

async function administratorView(
  browser: Browser,
  fixture: DashboardFixture,
  building: Building,
): Promise<void> {
  const { context, page, consoleErrors, asked } = await signedInPage(
    browser,
    fixture.url,
    building.administratorCookie,
  );
  try {
    await page.locator("#households li.household").first().waitFor();
    const households = await page.locator("#household-list li.household").evaluateAll((items) =>
      items.map((item) => item.textContent)
    );
    assert.deepEqual(households, [
      `Flat A${NAMES[0]}, ${NAMES[1]}Not shared with exports`,
      `Flat B${NAMES[2]}Not shared with exports`,
    ]);
    // Every meter's link health and every radio.
    const rows = await page.locator("#meter-list li.meter").evaluateAll((items) =>
      items.map((item) => item.getAttribute("data-meter"))
    );
    assert.deepEqual(rows.sort(), [...building.a.meterIds, ...building.b.meterIds].sort());
    assert.equal(await page.locator("#meter-list li.meter .badge.ok").count(), 3);
    assert.equal(await page.locator("#radio-list li").count(), 3);
    assert.equal(await page.locator("#who").textContent(), "Administrator");
    // No readings: their panels are not shown, and the page asked for none.
    for (const id of ["now", "history", "messages", "apps", "download", "sharing"]) {
      assert.equal(await page.locator(`#${id}`).isVisible(), false, id);
    }
    assert.ok(asked.length >= 2, "the page asked who is signed in and for the building");
    for (const body of asked) {
      assert.ok(!/\b(demand|intervals|usage|messages|summation|price)\b/.test(body), body);
    }
    // A while of live link updates and ticking ages later: still no error.
    await page.waitForTimeout(1000);
    await screenshot(page, "dashboard-building-administrator-360x780.png");
    assert.deepEqual(consoleErrors, []);
  } finally {
    await context.close();
  }
}

Deno.test({
  name: "the dashboard of a building in Chromium: each household sees only its own meters",
  // Playwright keeps its pipe to the browser and a few timers beyond the test's own resources.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await buildWebAssets();
    const fixture = await startDashboardFixture({
      speed: 60,
      backfillHours: 2,
      meters: [{ seed: 3, solar: true }, { seed: 5 }, { seed: 7 }],
    });
    const browser = await launchChromium();
    try {
      // Named while a single home (the one person may), then split into the building.
      const deadline = Date.now() + 60_000;
      let ids: string[] = [];
      while (ids.length < 3 && Date.now() < deadline) {
        const reply = await fixture.graphql("{ meters { id demand { demandW } } }");
        ids = (reply.data?.meters ?? []).filter((m: { demand: unknown }) => m.demand !== null)
          .map((m: { id: string }) => m.id);
        if (ids.length < 3) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(ids.length, 3, "three meters reporting");
      for (const [index, id] of ids.entries()) {
        const renamed = await fixture.graphql(
          `mutation ($id: ID!, $name: String) { renameMeter(id: $id, name: $name) { id } }`,
          { id, name: NAMES[index] },
        );
        assert.equal(renamed.data?.renameMeter.id, id, JSON.stringify(renamed));
      }
      const building = makeBuilding(fixture.db);
      assert.deepEqual([...building.a.meterIds, ...building.b.meterIds], ids);

      await t.step(
        "household A sees its two meters and nothing of B's",
        () =>
          householdView(browser, fixture, building.a, building.b, {
            mine: NAMES.slice(0, 2),
            others: NAMES.slice(2),
          }),
      );
      await t.step(
        "household B sees its meter and nothing of A's",
        () =>
          householdView(browser, fixture, building.b, building.a, {
            mine: NAMES.slice(2),
            others: NAMES.slice(0, 2),
          }),
      );
      await t.step(
        "the administrator sees link health and households, no readings",
        () => administratorView(browser, fixture, building),
      );
    } finally {
      await browser.close();
      await fixture.close();
    }
  },
});
