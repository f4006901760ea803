/**
 * The owner's mutations through real HTTP: confirming the current utility message reaches the
 * simulated device as `confirm_message` and comes back confirmed, an older one is refused; renaming a meter; registering and approving an app, then revoking
 * its authorization.
 *
 * @module
 */

import assert from "node:assert/strict";
import { waitFor } from "../e2e/helpers.ts";
import { type GatewayFixture, startGatewayFixture } from "./fixture.ts";

type Message = { id: string; confirmationRequired: boolean; confirmable: boolean };
type Meter = { id: string; messages: Message[] };

/**
 * Confirms the meter's current message and waits until the meter reports it confirmed; "superseded"
 * when a newer message replaced it meanwhile (the simulated utility sends one every 12 s).
 */
async function confirmCurrent(
  fixture: GatewayFixture,
  meter: Meter,
): Promise<"confirmed" | "superseded"> {
  const current = meter.messages[0];
  const reply = await fixture.graphql(
    `mutation ($meterId: ID!, $messageId: ID!) {
      confirmMessage(meterId: $meterId, messageId: $messageId) { meterId messageId sentAt } }`,
    { variables: { meterId: meter.id, messageId: current.id } },
  );
  if (reply.errors[0]?.extensions?.code === "NOT_CONFIRMABLE") return "superseded";
  assert.deepEqual(reply.errors, []);
  assert.equal(reply.data.confirmMessage.messageId, current.id);
  await waitFor(
    "the device to read confirm_message",
    () =>
      fixture.device!.receivedCommands.some((command) =>
        command.name === "confirmMessage" && command.messageId === current.id
      ),
  );
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const { data } = await fixture.graphql(
      `{ meter(id: "${meter.id}") { messages { id confirmed confirmable } } }`,
    );
    const [newest] = data.meter.messages;
    if (newest.id !== current.id) return "superseded";
    if (newest.confirmed) {
      assert.equal(newest.confirmable, false);
      return "confirmed";
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`message ${current.id} was never reported confirmed`);
}

/** A meter whose current message and an older one both ask for confirmation. */
async function meterWithMessagesToConfirm(fixture: GatewayFixture): Promise<Meter> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const reply = await fixture.graphql(
      "{ meters { id messages { id confirmationRequired confirmable } } }",
    );
    const meter = (reply.data.meters as Meter[]).find((m) =>
      m.messages[0]?.confirmationRequired &&
      m.messages.slice(1).some((message) => message.confirmationRequired)
    );
    if (meter !== undefined) return meter;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error("the simulated meter relayed no current and older message to confirm");
}

Deno.test("confirmMessage confirms the current message; older ones are refused", async () => {
  const fixture = await startGatewayFixture({ simulated: 0, device: true });
  try {
    const device = fixture.device!;
    // Past the backfill, when messages come every 12 s instead of many a second.
    const caughtUp = Date.now() + 30_000;
    while (device.simTimeMs < Date.now() && Date.now() < caughtUp) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    let meter = await meterWithMessagesToConfirm(fixture);
    const [current, ...older] = meter.messages;
    assert.equal(current.confirmable, true);
    assert.ok(older.every((message) => !message.confirmable), "only the current one is offered");

    const old = older.find((message) => message.confirmationRequired)!;
    const refused = await fixture.graphql(
      `mutation ($meterId: ID!, $messageId: ID!) {
        confirmMessage(meterId: $meterId, messageId: $messageId) { sentAt } }`,
      { variables: { meterId: meter.id, messageId: old.id } },
    );
    assert.equal(refused.errors[0].extensions?.code, "NOT_CONFIRMABLE");
    assert.match(refused.errors[0].message, /no longer the meter's current message/);
    assert.equal(refused.data, null);

    // A new message may replace the current one while it is being confirmed: try again, bounded.
    let outcome = await confirmCurrent(fixture, meter);
    for (let attempt = 0; attempt < 3 && outcome === "superseded"; attempt++) {
      meter = await meterWithMessagesToConfirm(fixture);
      outcome = await confirmCurrent(fixture, meter);
    }
    assert.equal(outcome, "confirmed");
    assert.ok(
      !device.receivedCommands.some((command) =>
        command.name === "confirmMessage" && command.messageId === old.id
      ),
      "the refused confirmation never reached the radio",
    );

    const missing = await fixture.graphql(
      `mutation { confirmMessage(meterId: "${meter.id}", messageId: "0x0") { sentAt } }`,
    );
    assert.equal(missing.errors[0].extensions?.code, "NOT_FOUND");
  } finally {
    await fixture.close();
  }
});

Deno.test("renameMeter names a meter; apps are registered, approved and revoked", async () => {
  const fixture = await startGatewayFixture({ simulated: 1 });
  try {
    let meterId: string | undefined;
    const deadline = Date.now() + 15_000;
    while (meterId === undefined && Date.now() < deadline) {
      meterId = (await fixture.graphql("{ meters { id } }")).data.meters[0]?.id;
      if (meterId === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const rename = (name: string | null) =>
      fixture.graphql(
        "mutation ($id: ID!, $name: String) { renameMeter(id: $id, name: $name) { id name } }",
        { variables: { id: meterId, name } },
      );
    assert.deepEqual((await rename("  Garage  ")).data.renameMeter, {
      id: meterId,
      name: "Garage",
    });
    assert.equal(
      (await fixture.graphql(`{ meter(id: "${meterId}") { name } }`)).data.meter.name,
      "Garage",
    );
    assert.equal((await rename("x".repeat(101))).errors[0].extensions?.code, "BAD_USER_INPUT");
    assert.equal((await rename(null)).data.renameMeter.name, null);

    const registered = await fixture.graphql(`mutation {
      registerApp(input: { name: "Heat Pump Helper", redirectUris: ["https://hp.example/cb"] }) {
        app { id name scopes isPublic } clientSecret registrationAccessToken } }`);
    assert.deepEqual(registered.errors, []);
    const { app, clientSecret } = registered.data.registerApp;
    assert.equal(app.name, "Heat Pump Helper");
    assert.equal(typeof clientSecret, "string");
    const badApp = await fixture.graphql(`mutation {
      registerApp(input: { name: "x", redirectUris: ["http://evil.example/cb"] }) { app { id } } }`);
    assert.equal(badApp.errors[0].extensions?.code, "BAD_USER_INPUT");
    assert.match(badApp.errors[0].message, /must be https/);

    const approved = await fixture.graphql(
      `mutation ($appId: ID!, $meterId: ID!) {
        approveApp(input: { appId: $appId, meterIds: [$meterId] }) {
          id status meterIds scopeDescription app { name } } }`,
      { variables: { appId: app.id, meterId } },
    );
    assert.deepEqual(approved.errors, []);
    const authorization = approved.data.approveApp;
    assert.equal(authorization.status, "ACTIVE");
    assert.deepEqual(authorization.meterIds, [meterId]);
    assert.match(authorization.scopeDescription.join(" "), /How far back: up to 2 days/);
    const wider = await fixture.graphql(
      `mutation ($appId: ID!, $meterId: ID!) {
        approveApp(input: { appId: $appId, meterIds: [$meterId], scope: "FB=1_4;HistoryLength=999999" }) { id } }`,
      { variables: { appId: app.id, meterId } },
    );
    assert.equal(wider.errors[0].extensions?.code, "BAD_USER_INPUT");

    const listed = await fixture.graphql(
      "{ authorizations { id status app { name } } apps { name } }",
    );
    assert.deepEqual(listed.data.authorizations, [
      { id: authorization.id, status: "ACTIVE", app: { name: "Heat Pump Helper" } },
    ]);
    const revoked = await fixture.graphql(
      `mutation { revokeAuthorization(id: "${authorization.id}") { status revokedAt } }`,
    );
    assert.equal(revoked.data.revokeAuthorization.status, "REVOKED");
    assert.ok(Date.parse(revoked.data.revokeAuthorization.revokedAt) > 0);
  } finally {
    await fixture.close();
  }
});
