/**
 * The owner's mutations through real HTTP: confirming the current utility message reaches the
 * simulated device as `confirm_message` and comes back confirmed, an older one is refused; renaming a meter; registering and approving an app, then revoking
 * its authorization.
 *
 * @module
 */

import assert from "node:assert/strict";
import { waitFor } from "../e2e/helpers.ts";
import { startGatewayFixture } from "./fixture.ts";

Deno.test("confirmMessage confirms the current message; older ones are refused", async () => {
  const fixture = await startGatewayFixture({ simulated: 0, device: true });
  try {
    type Message = { id: string; confirmationRequired: boolean; confirmable: boolean };
    type Meter = { id: string; messages: Message[] };
    let meter: Meter | undefined;
    const deadline = Date.now() + 60_000;
    // Until the current message asks for confirmation, and an older one does too.
    while (meter === undefined && Date.now() < deadline) {
      const reply = await fixture.graphql(
        "{ meters { id messages { id confirmationRequired confirmable } } }",
      );
      meter = (reply.data.meters as Meter[]).find((m) =>
        m.messages[0]?.confirmationRequired &&
        m.messages.slice(1).some((message) => message.confirmationRequired)
      );
      if (meter === undefined) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(meter, "the simulated meter relayed a current and an older message to confirm");
    const [current, ...older] = meter.messages;
    assert.equal(current.confirmable, true);
    assert.ok(older.every((message) => !message.confirmable), "only the current one is offered");
    const confirm = (messageId: string) =>
      fixture.graphql(
        `mutation ($meterId: ID!, $messageId: ID!) {
          confirmMessage(meterId: $meterId, messageId: $messageId) { meterId messageId sentAt } }`,
        { variables: { meterId: meter!.id, messageId } },
      );

    const old = older.find((message) => message.confirmationRequired)!;
    const refused = await confirm(old.id);
    assert.equal(refused.errors[0].extensions?.code, "NOT_CONFIRMABLE");
    assert.match(refused.errors[0].message, /no longer the meter's current message/);
    assert.equal(refused.data, null);

    const reply = await confirm(current.id);
    assert.deepEqual(reply.errors, []);
    assert.equal(reply.data.confirmMessage.messageId, current.id);
    const device = fixture.device!;
    await waitFor(
      "the device to read confirm_message",
      () =>
        device.receivedCommands.some((command) =>
          command.name === "confirmMessage" && command.messageId === current.id
        ),
    );
    assert.ok(
      !device.receivedCommands.some((command) =>
        command.name === "confirmMessage" && command.messageId === old.id
      ),
      "the refused confirmation never reached the radio",
    );
    // The meter reports the current message back as confirmed.
    let shown: { confirmed: boolean; confirmable: boolean } | undefined;
    const confirmedBy = Date.now() + 20_000;
    while (!shown?.confirmed && Date.now() < confirmedBy) {
      const { data } = await fixture.graphql(
        `{ meter(id: "${meter.id}") { messages { id confirmed confirmable } } }`,
      );
      shown = data.meter.messages.find((message: { id: string }) => message.id === current.id);
      if (!shown?.confirmed) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.deepEqual(shown, { id: current.id, confirmed: true, confirmable: false });

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
