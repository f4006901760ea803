/**
 * graphql-sse single-connection mode under hostile use (issue 10, item 10): it answered 405 before.
 * Sends: a reservation without credentials; a stream, an operation and a stop with no token or a
 * made-up one; another app's token (it must look exactly like an unknown one); more reservations
 * than one caller may hold; a second connection on one token; an operation without an id.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startGatewayFixture } from "../graphql/fixture.ts";

const SCOPE = "FB=1_3_4_5_6_13_14_39;IntervalDuration=900";
const TOKEN_HEADER = "X-GraphQL-Event-Stream-Token";

Deno.test("single-connection mode refuses wrong, foreign and excess tokens", async () => {
  const fixture = await startGatewayFixture({ simulated: 0 });
  const url = `${fixture.url}/graphql`;
  const alice = fixture.appToken({ scope: SCOPE, meterIds: [] });
  const mallory = fixture.appToken({ scope: SCOPE, meterIds: [] });
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });
  const reserve = async (headers: Record<string, string>) => {
    const response = await fetch(url, { method: "PUT", headers });
    return { status: response.status, text: await response.text() };
  };
  const operation = (headers: Record<string, string>, operationId = "op-1") =>
    fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: JSON.stringify({ query: "{ gateway { version } }", extensions: { operationId } }),
    });
  const json = async (response: Response) => ({
    status: response.status,
    body: await response.json(),
  });
  try {
    const anonymous = await reserve({});
    assert.equal(anonymous.status, 401);
    assert.equal(JSON.parse(anonymous.text).errors[0].extensions.code, "UNAUTHENTICATED");

    const reserved = await reserve(as(alice.token));
    assert.equal(reserved.status, 201);
    const token = reserved.text;
    assert.match(token, /^[\w-]{32}$/);

    const unknown = await json(await operation({ ...as(alice.token), [TOKEN_HEADER]: "made-up" }));
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.errors[0].extensions.code, "NOT_FOUND");
    const unknownStream = await json(
      await fetch(`${url}?token=made-up`, {
        headers: { ...as(alice.token), Accept: "text/event-stream" },
      }),
    );
    assert.deepEqual(unknownStream, unknown);
    const noToken = await json(
      await fetch(`${url}?operationId=op-1`, {
        method: "DELETE",
        headers: as(alice.token),
      }),
    );
    assert.deepEqual(noToken, unknown);

    // Mallory holds Alice's token: every use of it looks like an unknown token.
    const stolen = { ...as(mallory.token), [TOKEN_HEADER]: token };
    assert.deepEqual(await json(await operation(stolen)), unknown);
    assert.deepEqual(
      await json(await fetch(url, { headers: { ...stolen, Accept: "text/event-stream" } })),
      unknown,
    );
    assert.deepEqual(
      await json(await fetch(`${url}?operationId=op-1`, { method: "DELETE", headers: stolen })),
      unknown,
    );

    // Alice's own token works, once: a second connection on it is refused.
    const mine = { ...as(alice.token), [TOKEN_HEADER]: token };
    const stream = await fetch(url, { headers: { ...mine, Accept: "text/event-stream" } });
    assert.equal(stream.status, 200);
    const second = await fetch(url, { headers: { ...mine, Accept: "text/event-stream" } });
    assert.equal(second.status, 409);
    await second.body?.cancel();
    const noId = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...mine },
      body: JSON.stringify({ query: "{ gateway { version } }" }),
    });
    assert.equal(noId.status, 400);
    await noId.body?.cancel();
    const accepted = await operation(mine);
    assert.equal(accepted.status, 202);
    await accepted.body?.cancel();
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let received = "";
    while (!received.includes("event: complete")) received += (await reader.read()).value ?? "";
    assert.match(received, /event: next\ndata: \{"id":"op-1","payload":\{"data":\{"gateway"/);
    await reader.cancel();

    // Reservations are capped per caller: 16, then 429 with a code.
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await reserve(as(mallory.token))).status);
    assert.deepEqual(statuses, [...Array(16).fill(201), ...Array(4).fill(429)]);
    const excess = await reserve(as(mallory.token));
    assert.equal(JSON.parse(excess.text).errors[0].extensions.code, "TOO_MANY_STREAMS");
    // Alice is not affected by Mallory's reservations.
    assert.equal((await reserve(as(alice.token))).status, 201);

    const health = await fetch(`${fixture.url}/health`);
    assert.equal((await health.json()).ok, true);
  } finally {
    await fixture.close();
  }
});
