/**
 * Every kind of document the ESPI resource server emits validates against the official NAESB
 * ESPI 4.0 schema and the GBA CMD test harness's `espiDerived.xsd` with `xmllint` (data from the
 * simulated households), and the validator really rejects a broken document, so these tests can
 * fail.
 *
 * @module
 */

import assert from "node:assert/strict";
import { registerApp } from "../../src/auth/apps.ts";
import { createAuthorization } from "../../src/auth/authorizations.ts";
import type { Caller } from "../../src/auth/caller.ts";
import { mintToken } from "../../src/auth/tokens.ts";
import { notificationBody } from "../../src/espi/notify.ts";
import { dispatchEspi } from "../../src/espi/routes.ts";
import { accessCaller, END_MS, espiFixture, get, RESOURCE_URL, xmllint } from "./fixtures.ts";

Deno.test("every ESPI document kind validates against the ESPI 4.0 and the CMD test schemas", async () => {
  const fixture = await espiFixture();
  const files: string[] = [];
  // The legacy CMD schema requires two scope selection screen URIs ESPI 4.0 made optional; an
  // app's own screen is not known here, so ApplicationInformation is held to ESPI 4.0 only.
  const applicationFiles: string[] = [];
  try {
    const up = fixture.solarUsagePointId;
    const app = registerApp(fixture.db, {
      name: "Energy <Saver> & Co",
      redirectUris: ["https://app.example/callback"],
      nowMs: END_MS - 3_600_000,
    });
    const clientId = app.app.clientId;
    // An app with a registered notify URI (with an `&` that must be escaped).
    const notifyUri = "https://notify.example/espi/Notification?app=saver&v=1";
    const notified = registerApp(fixture.db, {
      name: "Notified app",
      redirectUris: ["https://notified.example/callback"],
      notifyUri,
      nowMs: END_MS - 3_600_000,
    });
    const notifiedId = notified.app.clientId;
    const notifiedRegistration: Caller = {
      kind: "registration",
      applicationId: notifiedId,
      tokenId: "r2",
    };
    const authorization = createAuthorization(fixture.db, {
      clientId,
      scope: app.app.scopes[0],
      usagePointIds: [up],
      householdId: 1,
      nowMs: END_MS - 1_800_000,
    });
    mintToken(fixture.db, {
      kind: "access",
      clientId,
      authorizationId: authorization.authorizationId,
      expiresInS: 3600,
      nowMs: END_MS - 1_800_000,
    });
    const sub = authorization.subscriptionId;
    const access = accessCaller(sub, [up]);
    const owner: Caller = { kind: "owner", sessionId: "s", householdId: null };
    const client: Caller = { kind: "client", applicationId: clientId, tokenId: "c" };
    const registration: Caller = { kind: "registration", applicationId: clientId, tokenId: "r" };
    const tree = `Subscription/${sub}/UsagePoint/${up}`;
    const dayId = String(Date.UTC(2024, 5, 2, 4) / 1000); // local midnight, New York (EDT)
    const cases: [string, Caller, string?][] = [
      [`Batch/Subscription/${sub}`, access],
      [`Batch/RetailCustomer/1/UsagePoint`, owner],
      [`Subscription/${sub}/UsagePoint`, access],
      [tree, access],
      [`${tree}/MeterReading`, access],
      [`${tree}/MeterReading/1`, access],
      [`${tree}/MeterReading/1/IntervalBlock`, access],
      [`${tree}/MeterReading/1/IntervalBlock/${dayId}`, access],
      [`${tree}/MeterReading/2/IntervalBlock/${dayId}`, access],
      [`${tree}/MeterReading/3/IntervalBlock/${dayId}`, access],
      [`${tree}/MeterReading/4/IntervalBlock/${dayId}`, access],
      [`${tree}/MeterReading/5/IntervalBlock/${dayId}`, access],
      [`${tree}/UsageSummary`, access],
      [`${tree}/UsageSummary/1`, access],
      [`UsagePoint/${up}/UsageSummary`, access],
      [`RetailCustomer/1/UsagePoint/${up}/MeterReading/1/IntervalBlock`, owner],
      ["ReadingType", access],
      ["ReadingType/1-900-840", access],
      ["ReadingType/3-300-0", access],
      ["LocalTimeParameters", access],
      ["LocalTimeParameters/1", access, "UTC"],
      ["LocalTimeParameters/1", access, "America/New_York"],
      ["LocalTimeParameters/1", access, "Europe/Berlin"],
      [`ApplicationInformation/${clientId}`, registration],
      [`ApplicationInformation/${notifiedId}`, notifiedRegistration],
      ["Authorization", client],
      [`Authorization/${authorization.authorizationId}`, client],
      ["RetailCustomer/1/Authorization", owner],
      [`RetailCustomer/1/Authorization/${authorization.authorizationId}`, owner],
      ["ReadServiceStatus", client],
    ];
    const expectations: [string, RegExp][] = [
      ["LocalTimeParameters/1 UTC", /<espi:dstStartRule>FFFFFFFF</],
      ["LocalTimeParameters/1 America/New_York", /360E2000.*B40E2000|B40E2000.*360E2000/s],
      ["LocalTimeParameters/1 Europe/Berlin", /<espi:dstStartRule>3E0E2000</],
      // No notify URI registered: the origin of the first redirect URI.
      [
        `ApplicationInformation/${clientId}`,
        /<espi:thirdPartyNotifyUri>https:\/\/app\.example\/<\/espi:thirdPartyNotifyUri>/,
      ],
      // The household's view of what it granted: the app's name, the granted history back from
      // now, and the Subscription it authorizes.
      [
        "RetailCustomer/1/Authorization",
        new RegExp(
          `<title>Energy &lt;Saver&gt; &amp; Co</title>.*<espi:publishedPeriod><espi:duration>` +
            `172800</espi:duration><espi:start>${END_MS / 1000 - 172_800}</espi:start>.*` +
            `<espi:resourceURI>${RESOURCE_URL}/Batch/Subscription/${sub}</espi:resourceURI>`,
          "s",
        ),
      ],
      [
        `ApplicationInformation/${notifiedId}`,
        /<espi:thirdPartyNotifyUri>https:\/\/notify\.example\/espi\/Notification\?app=saver&amp;v=1</,
      ],
    ];
    for (const [path, caller, timeZone] of cases) {
      const response = dispatchEspi(get(path), fixture.services(timeZone), caller);
      const body = await response.text();
      assert.equal(response.status, 200, `${path}: ${body}`);
      assert.match(response.headers.get("content-type") ?? "", /^application\/atom\+xml/);
      const caseName = timeZone === undefined ? path : `${path} ${timeZone}`;
      const expectation = expectations.find(([name]) => name === caseName);
      if (expectation) assert.match(body, expectation[1]);
      const file = `${fixture.dir}/doc-${files.length}.xml`;
      await Deno.writeTextFile(file, body);
      files.push(file);
      if (path.startsWith("ApplicationInformation/")) applicationFiles.push(file);
    }
    // The notification POSTed to an app's notify URI (see notify_test.ts).
    const batchList = `${fixture.dir}/batch-list.xml`;
    await Deno.writeTextFile(
      batchList,
      notificationBody([`${RESOURCE_URL}/Batch/Subscription/${sub}`, `${RESOURCE_URL}/x?a=1&b=2`]),
    );
    files.push(batchList);
    const modern = await xmllint(files);
    assert.equal(modern.code, 0, modern.output);
    assert.equal(modern.output.match(/ validates$/gm)?.length, files.length, modern.output);
    const legacyFiles = files.filter((file) => !applicationFiles.includes(file));
    const legacy = await xmllint(legacyFiles, "cmdtest");
    assert.equal(legacy.code, 0, legacy.output);
    assert.equal(legacy.output.match(/ validates$/gm)?.length, files.length - 2, legacy.output);
  } finally {
    await fixture.cleanup();
  }
});

Deno.test("the validator rejects a broken ESPI document", async () => {
  const fixture = await espiFixture();
  try {
    const caller = accessCaller("sub-a", [fixture.plainUsagePointId]);
    const body = await dispatchEspi(get("Batch/Subscription/sub-a"), fixture.services(), caller)
      .text();
    // An IntervalReading with its value before its timePeriod breaks the schema's sequence.
    const broken = body.replace(
      /(<espi:timePeriod>.*?<\/espi:timePeriod>)(<espi:value>\d+<\/espi:value>)/,
      "$2$1",
    );
    assert.notEqual(broken, body);
    const good = `${fixture.dir}/good.xml`;
    const bad = `${fixture.dir}/bad.xml`;
    await Deno.writeTextFile(good, body);
    await Deno.writeTextFile(bad, broken);
    assert.equal((await xmllint([good])).code, 0);
    const result = await xmllint([bad]);
    assert.equal(result.code, 3, result.output);
    assert.match(result.output, /fails to validate/);
  } finally {
    await fixture.cleanup();
  }
});
